/**
 * Work started and not waited for (fire-and-forget: the caller must not wait, say on the call
 * path) still gets an error path: should it reject, the rejection is logged as a warning saying
 * what failed, instead of becoming an unhandled rejection that names nothing.
 */
import { AppError } from '../errors.js';

export interface WarnLog {
  warn(fields: Record<string, unknown>, message: string): void;
}

/**
 * Let `work` go on unawaited; a rejection is logged at warn as `what`, with `fields` and the error's
 * message. No work (`undefined`, as from `maybe?.start()`) is nothing to watch.
 */
export function logRejection(work: Promise<unknown> | undefined, log: WarnLog, what: string, fields?: Record<string, unknown>): void {
  work?.catch((err: unknown) => {
    log.warn({ ...fields, err: err instanceof Error ? err.message : String(err) }, what);
  });
}

/**
 * The same for tidying up a channel or bridge (hang up, destroy) that may be gone already: its
 * being gone (ARI's 'call-not-found') is what was wanted, not a failure, and is not logged.
 */
export function logRejectionUnlessGone(work: Promise<unknown>, log: WarnLog, what: string, fields?: Record<string, unknown>): void {
  logRejection(
    work.catch((err: unknown) => {
      if (!(err instanceof AppError && err.code === 'call-not-found')) throw err;
    }),
    log,
    what,
    fields,
  );
}
