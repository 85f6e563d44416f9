/** Postgres error codes (SQLSTATE) the services translate into typed errors. */

/** The SQLSTATE of a Postgres error, if it is one. */
export const pgCode = (err: unknown): string | undefined =>
  typeof err === 'object' && err !== null && typeof (err as { code?: unknown }).code === 'string' ? (err as { code: string }).code : undefined;

export const UNIQUE_VIOLATION = '23505';
export const FOREIGN_KEY_VIOLATION = '23503';
