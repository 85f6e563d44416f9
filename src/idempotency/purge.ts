import type { Db } from '../db/database.js';
import type { Logger } from '../logger.js';
import { purgeExpiredKeys } from './repository.js';

/** How often expired idempotency keys are deleted. Expired rows are ignored meanwhile, so this only bounds the table's size. */
export const PURGE_EVERY_MS = 60 * 60 * 1000;

/**
 * Deletes expired idempotency keys now and every `everyMs` (a timer, as the daemon's other timed
 * work runs, e.g. src/calls/unserved.ts); never throws. Returns the function that stops it.
 */
export function purgeExpiredKeysEvery(db: Db, log: Logger, everyMs = PURGE_EVERY_MS): () => void {
  const purge = (): void => {
    purgeExpiredKeys(db).then(
      (n) => {
        if (n > 0) log.debug({ keys: n }, 'expired idempotency keys deleted');
      },
      (err: Error) => log.warn({ err: err.message }, 'expired idempotency keys not deleted; trying again later'),
    );
  };
  purge();
  const timer = setInterval(purge, everyMs).unref();
  return () => clearInterval(timer);
}
