/**
 * A client of the daemon's event stream (docs/events.md) for e2e tests: Server-Sent Events over
 * fetch, connected with a one-time ticket; each event's JSON as it arrives.
 */
type Event = Record<string, unknown> & { type: string };

export interface EventStreamClient {
  /** The first event (from the start of the stream) that matches, waiting up to `ms`. */
  next(match: (e: Event) => boolean, ms: number, what: string): Promise<Event>;
  readonly events: readonly Event[];
  close(): void;
}

export async function openEventStream(port: string, ticket: string, query = ''): Promise<EventStreamClient> {
  const abort = new AbortController();
  const res = await fetch(`http://127.0.0.1:${port}/api/v1/events?ticket=${encodeURIComponent(ticket)}${query ? `&${query}` : ''}`, { signal: abort.signal });
  if (res.status !== 200 || !res.body) throw new Error(`event stream answered ${res.status}: ${await res.text()}`);
  const events: Event[] = [];
  const waiter: { wake: (() => void) | null; ended: boolean } = { wake: null, ended: false };
  (async () => {
    const decoder = new TextDecoder();
    let buffer = '';
    try {
      for await (const chunk of res.body as unknown as AsyncIterable<Uint8Array>) {
        buffer += decoder.decode(chunk, { stream: true });
        let cut: number;
        while ((cut = buffer.indexOf('\n\n')) >= 0) {
          const data = buffer.slice(0, cut).split('\n').find((l) => l.startsWith('data: '));
          buffer = buffer.slice(cut + 2);
          if (data) events.push(JSON.parse(data.slice(6)) as Event);
        }
        waiter.wake?.();
      }
    } catch {
      // aborted by close()
    }
    waiter.ended = true;
    waiter.wake?.();
  })().catch(() => undefined);
  return {
    events,
    async next(match, ms, what) {
      const deadline = Date.now() + ms;
      for (;;) {
        const found = events.find(match);
        if (found) return found;
        if (waiter.ended || Date.now() > deadline) throw new Error(`${what}: not on the event stream within ${ms} ms; got ${JSON.stringify(events.slice(-3))}`);
        await new Promise<void>((r) => {
          waiter.wake = r;
          setTimeout(r, Math.max(1, deadline - Date.now())).unref();
        });
      }
    },
    close: () => abort.abort(),
  };
}
