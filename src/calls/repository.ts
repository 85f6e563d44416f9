import { createHash } from 'node:crypto';
import { sql, type ExpressionBuilder } from 'kysely';
import { jsonArrayFrom } from 'kysely/helpers/postgres';
import type { Database, Db, DbOrTx } from '../db/database.js';
import { cursorAt, olderThan } from '../db/keyset.js';
import { bind, compileShape, slot, type Shape } from '../db/prepared.js';
import type { CdrRow, Direction, Disposition, LiveCallRow, NewCdr, NewLiveCall } from './tables.js';

export async function insertLiveCall(db: DbOrTx, call: NewLiveCall): Promise<void> {
  await db.insertInto('live_calls').values(call).onConflict((oc) => oc.column('call_id').doNothing()).execute();
}

export interface LiveCallPatch {
  state?: string;
  mode?: string;
  digits?: string;
  answered_at?: Date;
  peer_channel_id?: string | null;
  bridge_id?: string | null;
  recording_name?: string | null;
  queue?: string | null;
  answered_by?: string | null;
  agent?: string | null;
  connected_at?: Date | null;
}

export async function updateLiveCall(
  db: DbOrTx,
  callId: string,
  patch: LiveCallPatch,
): Promise<void> {
  await db
    .updateTable('live_calls')
    .set({ ...patch, updated_at: new Date() })
    .where('call_id', '=', callId)
    .execute();
}

/** Mark calls as seen alive now; a reconciled CDR ends at its call's last heartbeat. */
export async function heartbeatLiveCalls(db: DbOrTx, callIds: readonly string[]): Promise<void> {
  if (callIds.length === 0) return;
  await db.updateTable('live_calls').set({ updated_at: new Date() }).where('call_id', 'in', callIds).execute();
}

export async function listLiveCalls(db: DbOrTx): Promise<LiveCallRow[]> {
  return db.selectFrom('live_calls').selectAll().orderBy('started_at').execute();
}

/**
 * Write the call's one CDR and drop its live row, atomically. Idempotent: a second close of
 * the same call (a retry, or two daemons reconciling) inserts nothing. Returns true if written.
 */
export async function closeCall(db: DbOrTx, cdr: NewCdr): Promise<boolean> {
  return (await closeCallWithId(db, cdr)) !== null;
}

/**
 * closeCall, answering the new CDR's id (null: it was written before). One statement (one round
 * trip, one commit): the insert and the delete are data-modifying CTEs, atomic together.
 */
export async function closeCallWithId(db: DbOrTx, cdr: NewCdr): Promise<string | null> {
  const row = await db
    .with('inserted', (qc) => qc.insertInto('cdrs').values(cdr).onConflict((oc) => oc.column('call_id').doNothing()).returning('id'))
    .with('closed', (qc) => qc.deleteFrom('live_calls').where('call_id', '=', cdr.call_id))
    .selectFrom('inserted')
    .select('id')
    .executeTakeFirst();
  return row?.id ?? null;
}

/** Which CDRs: the filters of the CDR list (JSON and CSV alike). */
export interface CdrFilter {
  readonly from?: Date;
  readonly to?: Date;
  readonly caller?: string;
  readonly dialed?: string;
  readonly disposition?: Disposition;
  readonly direction?: Direction;
  readonly callId?: string;
  /** Rows older than this (started_at, id): the keyset of a cursor (src/http/paging.ts). */
  readonly after?: { readonly at: string; readonly id: string };
}

export interface CdrQuery extends CdrFilter {
  readonly limit: number;
}

/** The CDRs a filter names, newest first by (started_at, id) (index cdrs_started_at_idx). */
function cdrsMatching(db: DbOrTx, q: CdrFilter) {
  let query = db.selectFrom('cdrs');
  if (q.from) query = query.where('started_at', '>=', q.from);
  if (q.to) query = query.where('started_at', '<', q.to);
  if (q.caller) query = query.where('caller_number', '=', q.caller);
  if (q.dialed) query = query.where('dialed_number', '=', q.dialed);
  if (q.disposition) query = query.where('disposition', '=', q.disposition);
  if (q.direction) query = query.where('direction', '=', q.direction);
  if (q.callId) query = query.where('call_id', '=', q.callId);
  if (q.after) query = query.where(olderThan('started_at', 'id', q.after));
  return query.orderBy('started_at', 'desc').orderBy('id', 'desc');
}

/**
 * Newest first, keyset-paginated on (started_at, id); each row with `cursor_at`, its exact
 * started_at for a cursor. The columns the API shows (not created_at: a timestamp parsed per row
 * for nothing).
 */
export async function searchCdrs(db: DbOrTx, q: CdrQuery): Promise<CdrPageRow[]> {
  return cdrPage(db, q).limit(q.limit).execute();
}

export type CdrPageRow = ShownCdr & { cursor_at: string };

const cdrPage = (db: DbOrTx, q: CdrFilter) =>
  cdrsMatching(db, q).select(SHOWN_CDR_COLUMNS).select(cursorAt('started_at').as('cursor_at')).select(recordingsOfCdr);

/** The filters a page's query takes as values, in the order a shape's key names them. */
const FILTER_FIELDS = ['from', 'to', 'caller', 'dialed', 'disposition', 'direction', 'callId'] as const;
/** Filters whose page plan does not depend on their values (a range and the keyset on the order's index): named statements. */
const PLAN_STABLE = new Set<string>(['from', 'to']);
/** Shapes kept per reader: filters x limits are many, the ones clients use few. Past it, a page is compiled as searchCdrs does. */
const SHAPES_KEPT = 256;

/**
 * searchCdrs for the API's list, with each query shape (which filters, the limit) built and
 * compiled once (src/db/prepared.ts): GET /cdrs spent more of the daemon's CPU building the query
 * than reading its rows. The limit is in the SQL text (an integer), so a shape's plan knows it;
 * a shape of only from/to/cursor is a named statement (Postgres plans it once per connection).
 * The same rows, order and columns as searchCdrs (test/integration/api.test.ts, cdr-page.test.ts).
 */
export function cdrPageReader(db: Db): (q: CdrQuery) => Promise<CdrPageRow[]> {
  const shapes = new Map<string, Shape>();
  return async (q) => {
    const present = FILTER_FIELDS.filter((f) => q[f]);
    const key = `${present.join(',')}${q.after ? ',after' : ''}|${q.limit}`;
    let shape = shapes.get(key);
    if (!shape) {
      if (!Number.isInteger(q.limit) || q.limit < 1) throw new Error(`a CDR page's limit must be a positive integer, not ${q.limit}`);
      const slots: CdrFilter = {
        ...Object.fromEntries(present.map((f) => [f, slot(f)])),
        ...(q.after ? { after: { at: slot<string>('at'), id: slot<string>('id') } } : {}),
      };
      const query = cdrPage(db, slots).limit(sql.lit(q.limit));
      const named = present.every((f) => PLAN_STABLE.has(f));
      const text = query.compile().sql;
      shape = compileShape(query, named ? `pbx_cdrs_${createHash('sha1').update(text).digest('hex').slice(0, 20)}` : undefined);
      if (shapes.size < SHAPES_KEPT) shapes.set(key, shape);
    }
    const values: Record<string, unknown> = { ...q, ...(q.after ? { at: q.after.at, id: q.after.id } : {}) };
    return (await db.executeQuery(bind<CdrPageRow>(shape, values))).rows;
  };
}

/**
 * Every CDR a filter names, newest first, as a stream: a server-side cursor (pg-cursor, through
 * Kysely's stream) hands over `chunk` rows at a time on one pooled connection. Stopping the
 * iteration early (`return()`, e.g. the HTTP client went away) closes the cursor and gives the
 * connection back. Without ivr_path (CSV has no column for it).
 */
export function streamCdrs(db: Db, q: CdrFilter, chunk = 1000): AsyncIterable<StreamedCdr> {
  return cdrsMatching(db, q).select(STREAMED_CDR_COLUMNS).stream(chunk);
}

const STREAMED_CDR_COLUMNS = [
  'id', 'call_id', 'direction', 'caller_number', 'caller_name', 'dialed_number', 'started_at', 'answered_at', 'ended_at',
  'duration_seconds', 'billable_seconds', 'wait_seconds', 'talk_seconds', 'answered_by', 'agent', 'queue', 'hangup_cause',
  'hangup_cause_text', 'disposition', 'ended_by', 'digits', 'reconciled', 'linked_id', 'recording_erased', 'monitored',
] as const satisfies readonly (keyof CdrRow)[];

/** A CDR as streamCdrs gives it: every column but ivr_path and created_at. */
export type StreamedCdr = Pick<CdrRow, (typeof STREAMED_CDR_COLUMNS)[number]>;

const SHOWN_CDR_COLUMNS = [...STREAMED_CDR_COLUMNS, 'ivr_path'] as const;
/** A CDR as the API shows it (searchCdrs): every column but created_at. */
export type ShownCdr = Pick<CdrRow, (typeof SHOWN_CDR_COLUMNS)[number]>;

/** A CDR's recordings (src/recordings) as [{id}], oldest first: the CDR lists them; a recording names its CDR by call_id. */
const recordingsOfCdr = (eb: ExpressionBuilder<Database, 'cdrs'>) =>
  jsonArrayFrom(
    eb.selectFrom('recordings').select('recordings.id').whereRef('recordings.call_id', '=', 'cdrs.call_id').where('recordings.state', '!=', 'deleting').orderBy('recordings.started_at').orderBy('recordings.id'),
  ).as('recordings');

export async function getCdr(db: DbOrTx, id: string): Promise<CdrRow | undefined> {
  return db.selectFrom('cdrs').selectAll().select(recordingsOfCdr).where('id', '=', id).executeTakeFirst();
}
