import type { DbOrTx } from '../db/database.js';
import { cursorAt, olderThan } from '../db/keyset.js';
import type { AuditLogRow } from './tables.js';

/** Who made a change: an API token's user, or the local CLI. */
export interface Actor {
  readonly userId: string | null;
  readonly tokenId: string | null;
  readonly label: string;
  readonly requestId: string | null;
}

export interface AuditEntry {
  readonly action: string;
  readonly entity: string;
  readonly entityId: string | null;
  readonly details?: Record<string, unknown>;
}

/** Call inside the same transaction as the change, so a change and its audit row land together. */
export async function recordAudit(db: DbOrTx, actor: Actor, entry: AuditEntry): Promise<void> {
  await db
    .insertInto('audit_log')
    .values({
      actor_user_id: actor.userId,
      actor_token_id: actor.tokenId,
      actor_label: actor.label,
      action: entry.action,
      entity: entry.entity,
      entity_id: entry.entityId,
      details: JSON.stringify(entry.details ?? {}),
      request_id: actor.requestId,
    })
    .execute();
}

/** Newest first by (at, id), older than `after` when given; each row with `cursor_at`, its exact time. */
export async function listAudit(db: DbOrTx, limit: number, after?: { at: string; id: string }): Promise<(AuditLogRow & { cursor_at: string })[]> {
  let q = db.selectFrom('audit_log').selectAll().select(cursorAt('at').as('cursor_at'));
  if (after) q = q.where(olderThan('at', 'id', after));
  return q.orderBy('at', 'desc').orderBy('id', 'desc').limit(limit).execute();
}
