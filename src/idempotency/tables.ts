import type { ColumnType, Generated, Selectable } from 'kysely';

/**
 * One row per (token, Idempotency-Key): the request it was first used with, and once that request
 * has an answer, the answer (src/idempotency). Rows older than 24 h count for nothing and are purged.
 */
export interface IdempotencyKeyTable {
  token_id: string;
  key: string;
  method: string;
  path: string;
  body_hash: string;
  /** 'pending' while the first request runs; 'done' once its answer is stored. */
  state: 'pending' | 'done';
  /** Which request holds a pending row: only it stores the answer or releases the key. */
  claim: string;
  response_status: number | null;
  response_headers: ColumnType<Record<string, string | string[]> | null, string | null, string | null>;
  /** Sealed with the bearer token (src/idempotency/core.ts seal); null: an answer without a body. */
  response_body: Buffer | null;
  created_at: Generated<Date>;
}
export type IdempotencyKeyRow = Selectable<IdempotencyKeyTable>;
