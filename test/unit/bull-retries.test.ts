/**
 * boundRetriesOnClose (src/shared/bull.ts) against BullMQ's own Worker.retryIfFailed: once the
 * worker is closing, a Redis call that keeps failing with a connection error is given up after one
 * more try instead of being retried at once for ever (which held an integration run's event loop).
 */
import { describe, expect, it } from 'vitest';
import { Worker } from 'bullmq';
import { boundRetriesOnClose } from '../../src/shared/bull.js';

/** Enough of a Worker for BullMQ's retryIfFailed to run: a closing worker with no Redis behind it. */
function closingWorker(): { retryIfFailed(fn: () => Promise<unknown>, opts: unknown): Promise<unknown> } {
  const proto = Worker.prototype as unknown as { retryIfFailed: (fn: () => Promise<unknown>, opts: unknown) => Promise<unknown> };
  return { closing: Promise.resolve(), closed: false, paused: false, emit: () => true, delay: async () => undefined, retryIfFailed: proto.retryIfFailed } as never;
}

/** A call failing as a closed ioredis connection does; after 1,000 tries it breaks BullMQ's loop itself (so the test can fail, not hang). */
function failingCall(): { fn: () => Promise<unknown>; tries: () => number } {
  let tries = 0;
  return {
    fn: async () => {
      tries++;
      throw new Error(tries > 1_000 ? 'test: stopped the loop after 1,000 tries' : 'Connection is closed.');
    },
    tries: () => tries,
  };
}

describe('boundRetriesOnClose', () => {
  it("without it, BullMQ's retry loop retries a closed connection without end (this test's call stops it at 1,000)", async () => {
    const worker = closingWorker();
    const call = failingCall();
    await expect(worker.retryIfFailed(call.fn, { delayInMs: 5_000 })).rejects.toThrow('1,000 tries');
    expect(call.tries()).toBe(1_001);
  });

  it('with it, a closing worker gives the call up after one more try', async () => {
    const worker = closingWorker();
    boundRetriesOnClose(worker);
    const call = failingCall();
    await expect(worker.retryIfFailed(call.fn, { delayInMs: 5_000 })).rejects.toThrow('not retried');
    expect(call.tries()).toBe(1);
    // onlyEmitError (how the main loop fetches jobs): no throw, nothing returned
    const fetch = failingCall();
    await expect(worker.retryIfFailed(fetch.fn, { delayInMs: 5_000, onlyEmitError: true })).resolves.toBeUndefined();
    expect(fetch.tries()).toBe(1);
  });
});
