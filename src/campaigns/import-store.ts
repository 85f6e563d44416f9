/**
 * Postgres side of list imports (contacts and do-not-call): the import rows, and one batch of rows
 * written in one transaction with the import's counters (docs/campaigns.md "Contact lists and time
 * zones"). The counters say how many data rows are done, so a job run again starts after them; a
 * batch whose starting count no longer matches (another run got there first) writes nothing.
 */
import { sql } from 'kysely';
import type { Db, DbOrTx } from '../db/database.js';
import { cursorAt, olderThan } from '../db/keyset.js';
import type { Keyset } from '../http/paging.js';
import type { ContactRow, DncRow, RejectReason } from './import-rows.js';
import type { CampaignContactRow, CampaignImportRow, ContactState, ImportKind, ImportState } from './tables.js';

/** A contact list (campaignId set) or a DNC list (campaignId: its campaign, or null: site-wide). */
export interface ImportScope {
  readonly kind: ImportKind;
  readonly campaignId: string | null;
}

export interface Reject {
  readonly line: number;
  readonly reason: RejectReason;
  readonly detail: string;
  readonly raw: string;
}
export interface Lined<T> {
  readonly line: number;
  readonly raw: string;
  readonly row: T;
}

export interface Batch<T> {
  readonly importId: string;
  readonly scope: ImportScope;
  /** The import's rows_read this batch starts after. */
  readonly from: number;
  /** Data rows in the batch (accepted, rejected or duplicates). */
  readonly read: number;
  readonly rows: readonly Lined<T>[];
  readonly rejects: readonly Reject[];
}

export async function createImport(db: Db, id: string, scope: ImportScope, fileName: string | null, bytes: number): Promise<CampaignImportRow> {
  return db.insertInto('campaign_imports')
    .values({ id, kind: scope.kind, campaign_id: scope.campaignId, file_name: fileName, bytes })
    .returningAll().executeTakeFirstOrThrow();
}

export async function getImport(db: DbOrTx, id: string): Promise<CampaignImportRow | undefined> {
  return db.selectFrom('campaign_imports').selectAll().where('id', '=', id).executeTakeFirst();
}

/** One scope's imports, newest first, keyset-paged; each row with `cursor_at`. */
export async function listImports(db: Db, scope: ImportScope, limit: number, after: Keyset | null): Promise<(CampaignImportRow & { cursor_at: string })[]> {
  let q = db.selectFrom('campaign_imports').selectAll().select(cursorAt('created_at').as('cursor_at'))
    .where('kind', '=', scope.kind)
    .where('campaign_id', scope.campaignId === null ? 'is' : '=', scope.campaignId);
  if (after) q = q.where(sql<boolean>`(created_at, id) < (${after.at}::timestamptz, ${after.id}::uuid)`);
  return q.orderBy('created_at', 'desc').orderBy('id', 'desc').limit(limit).execute();
}

/** The imports a daemon should (re)queue: not finished. */
export async function unfinishedImports(db: Db): Promise<string[]> {
  const rows = await db.selectFrom('campaign_imports').select('id').where('state', 'in', ['queued', 'running']).orderBy('created_at').execute();
  return rows.map((r) => r.id);
}

export async function setImportState(db: Db, id: string, state: ImportState, error: string | null = null): Promise<void> {
  const finished = state === 'done' || state === 'failed';
  await db.updateTable('campaign_imports')
    .set({ state, ...(error === null ? {} : { error: error.slice(0, 500) }), ...(finished ? { finished_at: new Date() } : {}) })
    .where('id', '=', id).where('state', 'in', ['queued', 'running']).execute();
}

/** The rejected rows of an import by line, streamed (a server-side cursor). */
export function streamRejects(db: Db, importId: string) {
  return db.selectFrom('campaign_import_rejects').select(['line', 'reason', 'detail', 'raw'])
    .where('import_id', '=', importId).orderBy('line').stream(1000);
}

/** A campaign's contacts, newest first (keyset on created_at, id), optionally in one state; each with `cursor_at`. */
export async function listContacts(db: Db, campaignId: string, state: ContactState | null, limit: number, after: Keyset | null): Promise<(CampaignContactRow & { cursor_at: string })[]> {
  let q = db.selectFrom('campaign_contacts').selectAll().select(cursorAt('created_at').as('cursor_at')).where('campaign_id', '=', campaignId);
  if (state !== null) q = q.where('state', '=', state);
  if (after) q = q.where(olderThan('created_at', 'id', after));
  return q.orderBy('created_at', 'desc').orderBy('id', 'desc').limit(limit).execute();
}

type Written = { readonly accepted: number; readonly rejects: readonly Reject[] };

/**
 * Writes one batch and moves the import's counters, in one transaction. false: the counters had
 * moved (another run wrote this batch), nothing written.
 */
export async function applyBatch<T extends ContactRow | DncRow>(db: Db, batch: Batch<T>, write: (tx: DbOrTx, batch: Batch<T>) => Promise<Written>): Promise<boolean> {
  return db.transaction().execute(async (tx) => {
    const row = await tx.selectFrom('campaign_imports').select(['rows_read', 'rejected_by_reason', 'state'])
      .where('id', '=', batch.importId).forUpdate().executeTakeFirst();
    if (!row || row.rows_read !== batch.from || row.state !== 'running') return false;
    const { accepted, rejects } = await write(tx, batch);
    if (rejects.length > 0) {
      await tx.insertInto('campaign_import_rejects')
        .values(rejects.map((r) => ({ import_id: batch.importId, line: r.line, reason: r.reason, detail: r.detail.slice(0, 200), raw: r.raw.slice(0, 1000) })))
        .onConflict((oc) => oc.columns(['import_id', 'line']).doNothing()).execute();
    }
    const byReason: Record<string, number> = { ...row.rejected_by_reason };
    for (const r of rejects) byReason[r.reason] = (byReason[r.reason] ?? 0) + 1;
    await tx.updateTable('campaign_imports')
      .set((eb) => ({
        rows_read: batch.from + batch.read,
        accepted: eb('accepted', '+', accepted),
        rejected: eb('rejected', '+', rejects.length),
        rejected_by_reason: JSON.stringify(byReason),
      }))
      .where('id', '=', batch.importId).execute();
    return true;
  });
}

/** Contacts: insert, the numbers already there are duplicates (of a line of this file, or of the campaign). */
export async function writeContacts(tx: DbOrTx, batch: Batch<ContactRow>): Promise<Written> {
  const campaignId = batch.scope.campaignId!;
  const rejects = [...batch.rejects];
  if (batch.rows.length === 0) return { accepted: 0, rejects };
  const inserted = await tx.insertInto('campaign_contacts')
    .values(batch.rows.map(({ line, row }) => ({
      campaign_id: campaignId, import_id: batch.importId, line, number: row.number, name: row.name,
      time_zones: JSON.stringify(row.zones), tz_source: row.tzSource, data: JSON.stringify(row.data),
    })))
    .onConflict((oc) => oc.columns(['campaign_id', 'number']).doNothing())
    .returning('line').execute();
  const ok = new Set(inserted.map((r) => r.line));
  const dups = batch.rows.filter((r) => !ok.has(r.line));
  if (dups.length > 0) {
    const first = await tx.selectFrom('campaign_contacts').select(['number', 'line', 'import_id'])
      .where('campaign_id', '=', campaignId).where('number', 'in', dups.map((d) => d.row.number)).execute();
    const where = new Map(first.map((f) => [f.number, f]));
    for (const d of dups) {
      const f = where.get(d.row.number);
      const detail = f && f.import_id === batch.importId && f.line !== null ? `${d.row.number}: the same number as line ${f.line}` : `${d.row.number}: already in the campaign`;
      rejects.push({ line: d.line, reason: 'duplicate', detail, raw: d.raw });
    }
  }
  return { accepted: ok.size, rejects };
}

/** DNC entries: insert; a number already on the list is a duplicate; its contacts still to dial become 'dnc'. */
export async function writeDnc(tx: DbOrTx, batch: Batch<DncRow>): Promise<Written> {
  const { campaignId } = batch.scope;
  const rejects = [...batch.rejects];
  if (batch.rows.length === 0) return { accepted: 0, rejects };
  const seen = new Map<string, number>();
  const fresh: Lined<DncRow>[] = [];
  for (const r of batch.rows) {
    const earlier = seen.get(r.row.number);
    if (earlier !== undefined) rejects.push({ line: r.line, reason: 'duplicate', detail: `${r.row.number}: the same number as line ${earlier}`, raw: r.raw });
    else {
      seen.set(r.row.number, r.line);
      fresh.push(r);
    }
  }
  const inserted = await tx.insertInto('dnc_numbers')
    .values(fresh.map(({ row }) => ({ number: row.number, campaign_id: campaignId, source: 'import' as const, note: row.note })))
    .onConflict((oc) => (campaignId === null
      ? oc.column('number').where('campaign_id', 'is', null)
      : oc.columns(['campaign_id', 'number']).where('campaign_id', 'is not', null)).doNothing())
    .returning('number').execute();
  const ok = new Set(inserted.map((r) => r.number));
  for (const r of fresh) if (!ok.has(r.row.number)) rejects.push({ line: r.line, reason: 'duplicate', detail: `${r.row.number}: already on the list`, raw: r.raw });
  if (ok.size > 0) await markContactsDnc(tx, [...ok], campaignId);
  return { accepted: ok.size, rejects };
}

/** The numbers' contacts still to be dialed (ready, callback) in the campaign (null: every campaign) become 'dnc'. */
export async function markContactsDnc(tx: DbOrTx, numbers: readonly string[], campaignId: string | null): Promise<number> {
  let q = tx.updateTable('campaign_contacts').set({ state: 'dnc', updated_at: new Date() })
    .where('number', 'in', numbers).where('state', 'in', ['ready', 'callback']);
  if (campaignId !== null) q = q.where('campaign_id', '=', campaignId);
  const r = await q.executeTakeFirst();
  return Number(r.numUpdatedRows);
}
