/**
 * One stream client: its view of the events (filter and role) and a bounded queue in front of its
 * connection. Delivering never waits: frames are queued and written on the next turn of the event
 * loop, all at once. A client whose unsent bytes (queued here plus what the socket has not taken)
 * pass `maxBufferedBytes` is a slow consumer: it is sent a last `close` frame with the reason and
 * dropped, so it never holds the publisher or the other clients up, nor the daemon's memory.
 * Frames are Server-Sent Events (text/event-stream).
 */
import type { PbxEvent, Resync } from './model.js';

/** The connection, as the client needs it (the HTTP response in src/events/routes.ts). */
export interface StreamSink {
  write(chunk: string): void;
  /** Bytes written but not yet taken by the socket. */
  buffered(): number;
  /** Write `last`, then end the connection (and make sure it goes, read or not). */
  end(last: string): void;
}

export type CloseReason = 'slow-consumer' | 'shutdown';

export const DEFAULT_MAX_BUFFERED_BYTES = 1024 * 1024;

export const eventFrame = (e: PbxEvent): string => `id: ${e.id}\nevent: ${e.type}\ndata: ${JSON.stringify(e)}\n\n`;
export const resyncFrame = (r: Resync): string => `event: resync\ndata: ${JSON.stringify(r)}\n\n`;
export const closeFrame = (reason: CloseReason, detail: Record<string, unknown> = {}): string =>
  `event: close\ndata: ${JSON.stringify({ type: 'close', reason, ...detail })}\n\n`;
/** A comment line: keeps proxies from closing an idle stream. */
export const PING_FRAME = ': ping\n\n';

export class StreamClient {
  private queued: string[] = [];
  private queuedBytes = 0;
  private scheduled = false;
  private closed = false;
  /** A replay on connect may be larger than the limit: allowed until the socket has taken it. */
  private allowance = 0;
  delivered = 0;

  constructor(
    private readonly sink: StreamSink,
    private readonly view: (event: PbxEvent) => PbxEvent | null,
    private readonly options: {
      readonly maxBufferedBytes: number;
      readonly onClose: (client: StreamClient, reason: CloseReason) => void;
      readonly schedule?: (fn: () => void) => void;
    },
  ) {}

  get isClosed(): boolean {
    return this.closed;
  }

  /** The first frames, before any live event: a resync notice or the events missed. */
  start(first: readonly string[]): void {
    const text = first.join('');
    this.allowance = Buffer.byteLength(text);
    if (text) this.sink.write(text);
  }

  deliver(event: PbxEvent): void {
    if (this.closed) return;
    const seen = this.view(event);
    if (!seen) return;
    this.delivered++;
    this.send(eventFrame(seen));
  }

  ping(): void {
    if (!this.closed) this.send(PING_FRAME);
  }

  close(reason: CloseReason, detail: Record<string, unknown> = {}): void {
    if (this.closed) return;
    this.closed = true;
    const rest = this.queued.join('');
    this.queued = [];
    this.queuedBytes = 0;
    this.sink.end(rest + closeFrame(reason, detail));
    this.options.onClose(this, reason);
  }

  /** The connection went away by itself (client disconnected). */
  gone(): void {
    this.closed = true;
    this.queued = [];
    this.queuedBytes = 0;
  }

  private send(frame: string): void {
    this.queued.push(frame);
    this.queuedBytes += Buffer.byteLength(frame);
    const buffered = this.sink.buffered();
    if (buffered === 0) this.allowance = 0;
    if (this.queuedBytes + buffered > this.options.maxBufferedBytes + this.allowance) {
      this.close('slow-consumer', { unsentBytes: this.queuedBytes + buffered, limitBytes: this.options.maxBufferedBytes });
      return;
    }
    if (this.scheduled) return;
    this.scheduled = true;
    (this.options.schedule ?? setImmediate)(() => this.flush());
  }

  private flush(): void {
    this.scheduled = false;
    if (this.closed || this.queued.length === 0) return;
    const text = this.queued.join('');
    this.queued = [];
    this.queuedBytes = 0;
    this.sink.write(text);
  }
}
