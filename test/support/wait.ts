/**
 * Waiting in tests. A test waits for the thing it needs (eventually), never a guessed time. The
 * only fixed times are durations a test is about ("nothing more happens for 300 ms"), and those go
 * through holdFor, which says why.
 */

/** Poll `fn` (every `everyMs`) until it returns a value (not undefined) or `timeoutMs` runs out. */
export async function eventually<T>(fn: () => Promise<T | undefined>, timeoutMs = 20_000, what = 'condition', everyMs = 200): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let last: unknown;
  for (;;) {
    try {
      const v = await fn();
      if (v !== undefined) return v;
    } catch (err) {
      last = err;
    }
    if (Date.now() > deadline) throw new Error(`${what} not reached in ${timeoutMs} ms${last ? `: ${String(last)}` : ''}`);
    await pause(everyMs);
  }
}

/** `p`, or an error saying `what` if it takes longer than `ms`. */
export async function withTimeout<T>(p: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  try {
    return await Promise.race([p, new Promise<never>((_, reject) => (timer = setTimeout(() => reject(new Error(what)), ms)))]);
  } finally {
    clearTimeout(timer);
  }
}

/**
 * A fixed stretch of time that is itself what the test checks, not a wait for something: e.g.
 * "no second offer comes within 300 ms". `why` names it where it is used.
 */
export async function holdFor(ms: number, why: string): Promise<void> {
  void why;
  await pause(ms);
}

/**
 * Let every promise continuation already queued run (the fakes of a unit test answer at once, so
 * their work is all microtasks): resolves after the microtask queue has drained, at no fixed time.
 */
export const drained = (): Promise<void> => new Promise((resolve) => setImmediate(resolve));

const pause = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));
