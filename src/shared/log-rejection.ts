/**
 * Work started and not waited for (fire-and-forget: the caller must not wait, say on the call
 * path) still gets an error path: should it reject, the rejection is logged as a warning saying
 * what failed, instead of becoming an unhandled rejection that names nothing.
 */
export interface WarnLog {
  warn(fields: Record<string, unknown>, message: string): void;
}

/** Let `work` go on unawaited; a rejection is logged at warn as `what`, with `fields` and the error's message. */
export function logRejection(work: Promise<unknown>, log: WarnLog, what: string, fields?: Record<string, unknown>): void {
  work.catch((err: unknown) => {
    log.warn({ ...fields, err: err instanceof Error ? err.message : String(err) }, what);
  });
}
