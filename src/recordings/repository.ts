/** Queries of call recordings (table `recordings`, src/recordings/tables.ts). */
import { sql } from 'kysely';
import type { DbOrTx } from '../db/database.js';
import type { NewRecording, RecordingRow, RecordingState } from './tables.js';

export async function insertRecording(db: DbOrTx, row: NewRecording): Promise<RecordingRow> {
  return db.insertInto('recordings').values(row).returningAll().executeTakeFirstOrThrow();
}

export async function getRecording(db: DbOrTx, id: string): Promise<RecordingRow | undefined> {
  return db.selectFrom('recordings').selectAll().where('id', '=', id).executeTakeFirst();
}

export interface RecordingSearch {
  readonly from?: Date;
  readonly to?: Date;
  readonly queue?: string;
  readonly agent?: string;
  readonly caller?: string;
  readonly called?: string;
  readonly callId?: string;
  readonly minDurationMs?: number;
  readonly maxDurationMs?: number;
  readonly limit: number;
  /** Rows older than this (started_at, id) in newest-first order: a cursor's keyset. */
  readonly after?: { readonly at: string; readonly id: string };
}

/** Newest first, keyset on (started_at, id); each row with `cursor_at`, its started_at to the microsecond. */
export async function searchRecordings(db: DbOrTx, q: RecordingSearch): Promise<(RecordingRow & { cursor_at: string })[]> {
  let query = db
    .selectFrom('recordings')
    .selectAll()
    .select(sql<string>`to_char(started_at at time zone 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"')`.as('cursor_at'))
    .where('state', '!=', 'deleting');
  if (q.from) query = query.where('started_at', '>=', q.from);
  if (q.to) query = query.where('started_at', '<', q.to);
  if (q.queue) query = query.where('queue', '=', q.queue);
  if (q.agent) query = query.where('agent', '=', q.agent);
  if (q.caller) query = query.where('caller', '=', q.caller);
  if (q.called) query = query.where('called', '=', q.called);
  if (q.callId) query = query.where('call_id', '=', q.callId);
  if (q.minDurationMs !== undefined) query = query.where('duration_ms', '>=', q.minDurationMs);
  if (q.maxDurationMs !== undefined) query = query.where('duration_ms', '<=', q.maxDurationMs);
  if (q.after) query = query.where(sql<boolean>`(started_at, id) < (${q.after.at}::timestamptz, ${q.after.id}::uuid)`);
  return query.orderBy('started_at', 'desc').orderBy('id', 'desc').limit(q.limit).execute();
}

/** The recordings of calls (CDR call_ids), oldest first per call. */
export async function recordingIdsOfCalls(db: DbOrTx, callIds: readonly string[]): Promise<Map<string, string[]>> {
  const out = new Map<string, string[]>();
  if (callIds.length === 0) return out;
  const rows = await db
    .selectFrom('recordings')
    .select(['id', 'call_id'])
    .where('call_id', 'in', [...callIds])
    .where('state', '!=', 'deleting')
    .orderBy('started_at')
    .orderBy('id')
    .execute();
  for (const r of rows) out.set(r.call_id, [...(out.get(r.call_id) ?? []), r.id]);
  return out;
}

/** The queue's own retention in days; null: none set (or no such queue). */
export async function queueRetentionDays(db: DbOrTx, queue: string | null): Promise<number | null> {
  if (!queue) return null;
  const row = await db.selectFrom('queues').select('recording_retention_days').where('name', '=', queue).executeTakeFirst();
  return row?.recording_retention_days ?? null;
}

/** Ids of recordings to delete by retention: past retain_until, not held, not in progress. */
export async function dueForRetention(db: DbOrTx, now: Date, limit: number): Promise<string[]> {
  const rows = await db
    .selectFrom('recordings')
    .select('id')
    .where('retain_until', '<=', now)
    .where('legal_hold', '=', false)
    .where('state', 'in', ['stored', 'compressed', 'failed'])
    .orderBy('retain_until')
    .limit(limit)
    .execute();
  return rows.map((r) => r.id);
}

export async function idsInState(db: DbOrTx, state: RecordingState, updatedBefore?: Date): Promise<string[]> {
  let q = db.selectFrom('recordings').select('id').where('state', '=', state);
  if (updatedBefore) q = q.where('updated_at', '<', updatedBefore);
  return (await q.orderBy('updated_at').limit(10_000).execute()).map((r) => r.id);
}

/**
 * First step of a deletion: the row says 'deleting' (not for one under legal hold or still being
 * recorded). Returns the row's path, or undefined when it was not marked.
 */
export async function markDeleting(db: DbOrTx, id: string): Promise<string | undefined> {
  const row = await db
    .updateTable('recordings')
    .set({ state: 'deleting', updated_at: sql<Date>`now()` })
    .where('id', '=', id)
    .where('legal_hold', '=', false)
    .where('state', 'in', ['stored', 'compressed', 'failed', 'deleting'])
    .returning('path')
    .executeTakeFirst();
  return row?.path;
}

/** Last step of a deletion, once the files are gone. */
export async function deleteMarked(db: DbOrTx, id: string): Promise<boolean> {
  const r = await db.deleteFrom('recordings').where('id', '=', id).where('state', '=', 'deleting').executeTakeFirst();
  return r.numDeletedRows > 0n;
}

export async function allPaths(db: DbOrTx): Promise<{ id: string; path: string; state: RecordingState }[]> {
  return db.selectFrom('recordings').select(['id', 'path', 'state']).execute();
}
