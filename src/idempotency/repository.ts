import { sql } from 'kysely';
import type { Db } from '../db/database.js';
import type { Fingerprint } from './core.js';
import type { IdempotencyKeyRow } from './tables.js';

/** How long a key holds its first answer. */
export const KEY_LIFETIME_HOURS = 24;
/**
 * A row still pending after this long belongs to a request that will never finish (its daemon
 * stopped mid-request): the key may be claimed again. Far above any route's running time.
 */
export const PENDING_LEASE_SECONDS = 120;

export interface Scope {
  readonly tokenId: string;
  readonly key: string;
}

export interface StoredAnswer {
  readonly status: number;
  readonly headers: Record<string, string | string[]>;
  readonly body: Buffer | null;
}

const expired = sql<boolean>`idempotency_keys.created_at < now() - make_interval(hours => ${KEY_LIFETIME_HOURS})`;
const abandoned = sql<boolean>`(idempotency_keys.state = 'pending' and idempotency_keys.created_at < now() - make_interval(secs => ${PENDING_LEASE_SECONDS}))`;

/**
 * Makes (scope) pending for this request: true when it is now ours to run. A new key, or one whose
 * row is expired or abandoned, is claimed in one statement; the primary key on (token, key) lets
 * exactly one of two concurrent requests win.
 */
export async function claimKey(db: Db, scope: Scope, fp: Fingerprint, claim: string): Promise<boolean> {
  const row = await db
    .insertInto('idempotency_keys')
    .values({ token_id: scope.tokenId, key: scope.key, method: fp.method, path: fp.path, body_hash: fp.bodyHash, state: 'pending', claim })
    .onConflict((oc) =>
      oc
        .columns(['token_id', 'key'])
        .doUpdateSet({
          method: fp.method, path: fp.path, body_hash: fp.bodyHash, state: 'pending', claim,
          response_status: null, response_headers: null, response_body: null, created_at: sql`now()`,
        })
        .where(sql<boolean>`${expired} or ${abandoned}`),
    )
    .returning('claim')
    .executeTakeFirst();
  return row !== undefined;
}

/** The key's live row (pending or done), if any. */
export async function findKey(db: Db, scope: Scope): Promise<IdempotencyKeyRow | undefined> {
  return db
    .selectFrom('idempotency_keys')
    .selectAll()
    .where('token_id', '=', scope.tokenId)
    .where('key', '=', scope.key)
    .where(sql<boolean>`not ${expired}`)
    .executeTakeFirst();
}

/** Stores the answer of the request holding `claim`. */
export async function storeAnswer(db: Db, scope: Scope, claim: string, answer: StoredAnswer): Promise<void> {
  await db
    .updateTable('idempotency_keys')
    .set({ state: 'done', response_status: answer.status, response_headers: JSON.stringify(answer.headers), response_body: answer.body })
    .where('token_id', '=', scope.tokenId)
    .where('key', '=', scope.key)
    .where('claim', '=', claim)
    .execute();
}

/** Frees the key held by `claim` (its request failed): the next request with it runs. */
export async function releaseKey(db: Db, scope: Scope, claim: string): Promise<void> {
  await db.deleteFrom('idempotency_keys').where('token_id', '=', scope.tokenId).where('key', '=', scope.key).where('claim', '=', claim).execute();
}

/** Deletes the rows that count for nothing any more; returns how many. */
export async function purgeExpiredKeys(db: Db): Promise<number> {
  const result = await db.deleteFrom('idempotency_keys').where(expired).executeTakeFirst();
  return Number(result.numDeletedRows);
}
