/**
 * Writes CDRs without losing them: a CDR whose write fails (Postgres down) stays queued and
 * is retried with capped backoff until it lands. Writes are idempotent (unique call_id), so a
 * retry after an unclear failure never makes a second row. If the daemon dies with CDRs queued,
 * their live_calls rows are still in Postgres and reconciliation writes them after restart.
 */
import type { Logger } from '../logger.js';
import type { Db } from '../db/database.js';
import type { NewCdr } from './tables.js';
import { backoffDelay, type BackoffPolicy } from '../shared/backoff.js';
import { logRejection } from '../shared/log-rejection.js';
import { closeCallWithId } from './repository.js';

export class CdrWriter {
  private readonly pending = new Map<string, NewCdr>();
  private attempt = 0;
  private failures = 0;
  private timer: NodeJS.Timeout | null = null;
  private draining: Promise<void> | null = null;

  constructor(
    private readonly db: Db,
    private readonly backoff: BackoffPolicy,
    private readonly log: Logger,
    /** A CDR was written (after its commit; not for one there already): the event stream's call.ended. */
    private readonly written: (cdr: NewCdr, cdrId: string) => void = () => undefined,
  ) {}

  get pendingCount(): number {
    return this.pending.size;
  }

  /** Failed write attempts since start (each retry that fails counts): the metrics' pbx_cdr_write_failures_total. */
  get failedWrites(): number {
    return this.failures;
  }

  write(cdr: NewCdr): void {
    this.pending.set(cdr.call_id, cdr);
    logRejection(this.drain(), this.log, 'CDR writing failed', { callId: cdr.call_id });
  }

  /** Wait until every queued CDR is written, or the deadline passes. */
  async flush(timeoutMs: number): Promise<boolean> {
    const deadline = Date.now() + timeoutMs;
    while (this.pending.size > 0 && Date.now() < deadline) {
      await this.drain();
      if (this.pending.size > 0) await new Promise((r) => setTimeout(r, Math.min(200, deadline - Date.now())));
    }
    return this.pending.size === 0;
  }

  stop(): void {
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
  }

  private drain(): Promise<void> {
    if (!this.draining) {
      this.draining = this.drainOnce().finally(() => {
        this.draining = null;
      });
    }
    return this.draining;
  }

  /** Until nothing is queued: a CDR queued while a drain runs is written by that drain, not left for the next one. */
  private async drainOnce(): Promise<void> {
    while (this.pending.size > 0) {
      if (!(await this.writeQueued())) return;
    }
  }

  /** Write the CDRs queued now; false when one failed (a retry is scheduled). */
  private async writeQueued(): Promise<boolean> {
    for (const [callId, cdr] of [...this.pending]) {
      try {
        const cdrId = await closeCallWithId(this.db, cdr);
        const written = cdrId !== null;
        this.pending.delete(callId);
        if (written) this.written(cdr, cdrId);
        this.attempt = 0;
        this.log.info(
          { callId, disposition: cdr.disposition, billsec: cdr.billable_seconds, duplicate: !written },
          written ? 'CDR written' : 'CDR already present',
        );
      } catch (err) {
        this.failures++;
        const delay = backoffDelay(this.attempt++, this.backoff);
        this.log.error({ callId, err: (err as Error).message, pending: this.pending.size, retryInMs: delay }, 'CDR write failed; will retry');
        if (!this.timer) {
          this.timer = setTimeout(() => {
            this.timer = null;
            logRejection(this.drain(), this.log, 'CDR writing failed');
          }, delay);
        }
        return false;
      }
    }
    return true;
  }
}
