/** Postgres error codes (SQLSTATE) the services translate into typed errors, and "Postgres is unreachable". */

/** The SQLSTATE of a Postgres error, if it is one. */
export const pgCode = (err: unknown): string | undefined =>
  typeof err === 'object' && err !== null && typeof (err as { code?: unknown }).code === 'string' ? (err as { code: string }).code : undefined;

export const UNIQUE_VIOLATION = '23505';
export const FOREIGN_KEY_VIOLATION = '23503';

/**
 * SQLSTATEs that say the server cannot serve us now, not that the statement is wrong: class 08
 * (connection exception), 53300 too_many_connections, 57P01 admin_shutdown (our backend was
 * terminated), 57P02 crash_shutdown, 57P03 cannot_connect_now (starting up or shutting down).
 */
const UNAVAILABLE_STATES = new Set(['53300', '57P01', '57P02', '57P03']);

/**
 * Set on errors the pool adapter (src/db/database.ts) knows mean "no connection": any failure to
 * get a client (refused, no answer within the connect timeout, a pool wait that timed out) and the
 * error a client in use reports when its socket dies. pg gives some of these no code at all
 * ("Connection terminated unexpectedly", the pool's timeouts), and their text is not an interface.
 */
const UNREACHABLE = Symbol('pbx.pg-unreachable');

/** Marks `err` as "Postgres was not reachable" (see UNREACHABLE); returns it. */
export function markPgUnreachable<E>(err: E): E {
  if (typeof err === 'object' && err !== null && Object.isExtensible(err) && !(UNREACHABLE in err)) {
    Object.defineProperty(err, UNREACHABLE, { value: true });
  }
  return err;
}

/**
 * True when a query failed because Postgres could not be reached or dropped us (answer 503 and
 * let the client retry), false for every error a retry would not cure.
 */
export function isPgUnreachable(err: unknown): boolean {
  if (typeof err !== 'object' || err === null) return false;
  if (UNREACHABLE in err) return true;
  const code = pgCode(err);
  return code !== undefined && code.length === 5 && (code.startsWith('08') || UNAVAILABLE_STATES.has(code));
}
