/**
 * Writes waiting in memory for Postgres: the webhook outbox's events (docs/webhooks.md#postgres-down)
 * and the ACD's queue events and agent changes (docs/queue-events.md#postgres-down). When a write
 * fails with an error `retryable` accepts (Postgres unreachable) it waits, retried with backoff
 * from 250 ms up to every 5 s, and the writes after it with the same key wait behind it: order is
 * kept per key (a call, an agent; one key for all when `keyOf` is not given). Waiting writes are
 * retried one at a time in the order they came, so a replay also keeps the order across keys.
 *
 *   push(w)                      always through the line (the webhook outbox: never blocks)
 *   submit(w, now, later)        written at once (`now`) unless a write of its key waits; when it
 *                                waits (or `now` finds Postgres unreachable), `later` says what to
 *                                answer meanwhile and whether there is anything to write; one
 *                                written at once while others wait retries those at once
 *
 * A waiting write may be written again after its first try landed but its answer was lost, so
 * `write` must be idempotent (the ACD's are: ACD store, store.ts). At most `max` wait, the oldest
 * dropped first (counted); the wait, its first drop and its end are logged once each. Any other
 * error is logged and that write skipped. Memory only: what waits when the process ends is lost.
 */
import { backoffDelay, type BackoffPolicy } from './backoff.js';

/** The two levels this uses of the daemon's pino logger (src/logger.ts; not imported: src/shared sits below it). */
export interface WaitingWritesLog {
  info(obj: object, msg: string): void;
  warn(obj: object, msg: string): void;
}

/** Writes kept in memory while Postgres is unreachable (each user of this class). */
export const MAX_WAITING = 10_000;
const RETRY: BackoffPolicy = { baseMs: 250, maxMs: 5_000 };

/** The log lines of one kind of write. */
export interface WaitingTexts {
  /** The first failure of a wait (warn). */
  readonly waiting: string;
  /** Everything that waited is written (info, with waitedMs and dropped). */
  readonly back: string;
  /** The first drop of a wait (warn). */
  readonly dropped: string;
  /** A write refused for another reason than "unreachable": skipped (warn). */
  readonly skipped: string;
  /** Still waiting at stop (warn). */
  readonly atStop: string;
}

export interface WaitingWritesDeps<W> {
  /** Write one; must be idempotent (see above). */
  write(w: W): Promise<void>;
  retryable(err: unknown): boolean;
  readonly log: WaitingWritesLog;
  readonly texts: WaitingTexts;
  /** Log fields naming one write (its event id, its call or agent). */
  describe(w: W): Record<string, unknown>;
  /** Order is kept per key; default: one key for all. */
  keyOf?(w: W): string;
  /** A write left the line: written, skipped or dropped (after it no longer counts in waits()). */
  settled?(w: W): void;
  readonly max?: number;
  readonly retry?: BackoffPolicy;
}

export class WaitingWrites<W> {
  private queue: W[] = [];
  /** Writes of each key waiting or being retried now. */
  private readonly counts = new Map<string, number>();
  /** Per key, the last submit (submits of one key run one after another). */
  private readonly tails = new Map<string, Promise<unknown>>();
  private writing = false;
  private retryTimer: NodeJS.Timeout | null = null;
  private stopped = false;
  /** when the current wait for Postgres began; null while writes succeed */
  private waitingSince: number | null = null;
  private failures = 0;
  private dropped = 0;
  /** `dropped` when the current wait began (one warning per wait) */
  private droppedBefore = 0;

  constructor(private readonly deps: WaitingWritesDeps<W>) {}

  /** Waiting now (not yet written), and dropped since start because too many waited. */
  get stats(): { readonly waiting: number; readonly dropped: number } {
    let waiting = 0;
    for (const n of this.counts.values()) waiting += n;
    return { waiting, dropped: this.dropped };
  }

  /** A write of this key waits for Postgres. */
  waits(key: string): boolean {
    return (this.counts.get(key) ?? 0) > 0;
  }

  /** Never blocks, never throws. While a retry is due the write waits behind the others. */
  push(w: W): void {
    this.queue.push(w);
    const key = this.keyOf(w);
    this.counts.set(key, (this.counts.get(key) ?? 0) + 1);
    this.bound();
    if (!this.retryTimer) this.kick();
  }

  /**
   * Write `w` now (`now`, whose answer is returned) unless a write of its key waits; then, or when
   * `now` fails because Postgres is unreachable, `later` gives the answer and whether `w` is to be
   * written once Postgres is back (it may throw: the write cannot wait). Submits of one key run
   * one after another. Any other failure of `now` is thrown.
   */
  submit<T>(w: W, now: () => Promise<T>, later: () => { readonly result: T; readonly wait: boolean }): Promise<T> {
    const key = this.keyOf(w);
    const run = async (): Promise<T> => {
      if (!this.waits(key)) {
        try {
          const result = await now();
          this.answered();
          return result;
        } catch (err) {
          if (!this.deps.retryable(err)) throw err;
        }
      }
      const { result, wait } = later();
      if (wait) this.push(w);
      return result;
    };
    const next = (this.tails.get(key) ?? Promise.resolve()).then(run, run);
    const tail: Promise<void> = next.then(
      () => undefined,
      () => undefined,
    ).then(() => {
      if (this.tails.get(key) === tail) this.tails.delete(key);
    });
    this.tails.set(key, tail);
    return next;
  }

  /** A write went through at once while others wait for their retry: Postgres is back, retry now. */
  private answered(): void {
    if (!this.retryTimer || this.stopped) return;
    clearTimeout(this.retryTimer);
    this.retryTimer = null;
    this.kick();
  }

  start(): void {
    this.stopped = false;
    if (this.queue.length && !this.retryTimer) this.kick();
  }

  /** No more retries; what still waits is lost with the process (logged). */
  stop(): void {
    this.stopped = true;
    if (this.retryTimer) clearTimeout(this.retryTimer);
    this.retryTimer = null;
    if (this.queue.length) this.deps.log.warn({ waiting: this.queue.length }, this.deps.texts.atStop);
  }

  private keyOf(w: W): string {
    return this.deps.keyOf?.(w) ?? '';
  }

  private leave(w: W): void {
    const key = this.keyOf(w);
    const n = (this.counts.get(key) ?? 1) - 1;
    if (n > 0) this.counts.set(key, n);
    else this.counts.delete(key);
    this.deps.settled?.(w);
  }

  private kick(): void {
    this.writeAll().catch((err: Error) => this.deps.log.warn({ err: err.message }, this.deps.texts.skipped));
  }

  private async writeAll(): Promise<void> {
    if (this.writing) return;
    this.writing = true;
    try {
      while (this.queue.length) {
        const w = this.queue[0]!;
        try {
          await this.deps.write(w);
        } catch (err) {
          if (this.deps.retryable(err)) {
            this.waitFor(err as Error, w);
            return;
          }
          this.deps.log.warn({ err: (err as Error).message, ...this.deps.describe(w) }, this.deps.texts.skipped);
        }
        // bound() may have dropped it meanwhile (it is then counted there)
        if (this.queue[0] === w) {
          this.queue.shift();
          this.leave(w);
        }
        if (this.waitingSince !== null && this.queue.length === 0) {
          this.deps.log.info({ waitedMs: Date.now() - this.waitingSince, dropped: this.dropped - this.droppedBefore }, this.deps.texts.back);
          this.waitingSince = null;
          this.droppedBefore = this.dropped;
          this.failures = 0;
        }
      }
    } finally {
      this.writing = false;
    }
  }

  private waitFor(err: Error, w: W): void {
    if (this.waitingSince === null) {
      this.waitingSince = Date.now();
      this.deps.log.warn({ err: err.message, ...this.deps.describe(w), waiting: this.queue.length }, this.deps.texts.waiting);
    }
    if (this.stopped) return;
    this.retryTimer = setTimeout(() => {
      this.retryTimer = null;
      this.kick();
    }, backoffDelay(this.failures++, this.deps.retry ?? RETRY));
  }

  /** At most `max` wait: the oldest go first; the first drop of a wait is logged, all are counted. */
  private bound(): void {
    const max = this.deps.max ?? MAX_WAITING;
    while (this.queue.length > max) {
      const lost = this.queue.shift()!;
      this.leave(lost);
      if (this.dropped++ === this.droppedBefore) this.deps.log.warn({ ...this.deps.describe(lost), max }, this.deps.texts.dropped);
    }
  }
}
