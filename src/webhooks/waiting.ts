/**
 * Events on their way into the webhook outbox (docs/webhooks.md#postgres-down). `write` puts one
 * event's delivery rows in Postgres; events are written one at a time, in the order they came.
 * When a write fails with an error `retryable` accepts (Postgres unreachable) the event goes back
 * to the head and all wait, in memory, retried with backoff; at most `max` wait, the oldest
 * dropped first (counted). Any other error is logged and that event skipped.
 */
import type { Logger } from '../logger.js';
import { backoffDelay, type BackoffPolicy } from '../shared/backoff.js';

/** Events kept in memory while Postgres is unreachable. */
export const MAX_WAITING = 10_000;
const RETRY: BackoffPolicy = { baseMs: 250, maxMs: 5_000 };

export interface WaitingEventsDeps<E extends { readonly id: number; readonly type: string }> {
  write(event: E): Promise<void>;
  retryable(err: unknown): boolean;
  readonly log: Logger;
  readonly max?: number;
  readonly retry?: BackoffPolicy;
}

export class WaitingEvents<E extends { readonly id: number; readonly type: string }> {
  private queue: E[] = [];
  private writing = false;
  private retryTimer: NodeJS.Timeout | null = null;
  private stopped = false;
  /** when the current wait for Postgres began; null while writes succeed */
  private waitingSince: number | null = null;
  private failures = 0;
  private dropped = 0;
  /** `dropped` when the current wait began (one warning per wait) */
  private droppedBefore = 0;

  constructor(private readonly deps: WaitingEventsDeps<E>) {}

  /** Waiting now (not yet written), and dropped since start because too many waited. */
  get stats(): { readonly waiting: number; readonly dropped: number } {
    return { waiting: this.queue.length, dropped: this.dropped };
  }

  /** Never blocks, never throws. While a retry is due the event waits behind the others. */
  push(event: E): void {
    this.queue.push(event);
    this.bound();
    if (!this.retryTimer) this.kick();
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
    if (this.queue.length) this.deps.log.warn({ waiting: this.queue.length }, 'webhook events still waiting for Postgres at stop: not delivered');
  }

  private kick(): void {
    this.writeAll().catch((err: Error) => this.deps.log.warn({ err: err.message }, 'webhook deliveries not written'));
  }

  private async writeAll(): Promise<void> {
    if (this.writing) return;
    this.writing = true;
    try {
      while (this.queue.length) {
        const event = this.queue.shift()!;
        try {
          await this.deps.write(event);
        } catch (err) {
          if (!this.deps.retryable(err)) {
            this.deps.log.warn({ err: (err as Error).message, eventId: event.id }, 'webhook deliveries not enqueued');
            continue;
          }
          this.queue.unshift(event);
          this.bound();
          this.waitFor(err as Error, event);
          return;
        }
        if (this.waitingSince !== null && this.queue.length === 0) {
          this.deps.log.info({ waitedMs: Date.now() - this.waitingSince, dropped: this.dropped - this.droppedBefore }, 'webhook deliveries that waited for Postgres are in the outbox');
          this.waitingSince = null;
          this.droppedBefore = this.dropped;
          this.failures = 0;
        }
      }
    } finally {
      this.writing = false;
    }
  }

  private waitFor(err: Error, event: E): void {
    if (this.waitingSince === null) {
      this.waitingSince = Date.now();
      this.deps.log.warn({ err: err.message, eventId: event.id, waiting: this.queue.length }, 'webhook deliveries wait in memory: Postgres unreachable');
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
      if (this.dropped++ === this.droppedBefore) this.deps.log.warn({ eventId: lost.id, type: lost.type, max }, 'webhook events dropped: too many waiting for Postgres');
    }
  }
}
