/**
 * Do-not-call lists (docs/campaigns.md "Do-not-call lists"): site-wide (campaign_id null) and per
 * campaign. `isDoNotCall` is what the dialer asks just before each dial; adding a number also makes
 * its contacts still to be dialed 'dnc' in the same transaction (the API, and a "do not call"
 * disposition through `addDoNotCall` with its own transaction).
 */
import { sql } from 'kysely';
import type { Db, DbOrTx } from '../db/database.js';
import { invalid, notFound } from '../errors.js';
import { cursorAt, olderThan } from '../db/keyset.js';
import type { Keyset } from '../http/paging.js';
import { normaliseNumber } from './contact-numbers.js';
import { markContactsDnc } from './import-store.js';
import type { DncNumberRow, DncSource } from './tables.js';

/** Whether `e164` is on the site-wide list or on the campaign's. */
export async function isDoNotCall(db: DbOrTx, campaignId: string, e164: string): Promise<boolean> {
  const hit = await db.selectFrom('dnc_numbers').select(sql<number>`1`.as('hit'))
    .where('number', '=', e164)
    .where((eb) => eb.or([eb('campaign_id', 'is', null), eb('campaign_id', '=', campaignId)]))
    .limit(1).executeTakeFirst();
  return hit !== undefined;
}

export interface NewDnc {
  /** E.164. */
  readonly number: string;
  /** null: site-wide. */
  readonly campaignId: string | null;
  readonly source: DncSource;
  readonly note: string | null;
}

/**
 * Adds the entry (inside the caller's transaction) unless that list has the number already, and
 * makes the number's ready / callback contacts 'dnc' (in every campaign for a site-wide entry).
 */
export async function addDoNotCall(tx: DbOrTx, entry: NewDnc): Promise<{ row: DncNumberRow; created: boolean }> {
  const inserted = await tx.insertInto('dnc_numbers')
    .values({ number: entry.number, campaign_id: entry.campaignId, source: entry.source, note: entry.note })
    .onConflict((oc) => (entry.campaignId === null
      ? oc.column('number').where('campaign_id', 'is', null)
      : oc.columns(['campaign_id', 'number']).where('campaign_id', 'is not', null)).doNothing())
    .returningAll().executeTakeFirst();
  await markContactsDnc(tx, [entry.number], entry.campaignId);
  if (inserted) return { row: inserted, created: true };
  const existing = await tx.selectFrom('dnc_numbers').selectAll().where('number', '=', entry.number)
    .where('campaign_id', entry.campaignId === null ? 'is' : '=', entry.campaignId).executeTakeFirstOrThrow();
  return { row: existing, created: false };
}

export class DncService {
  constructor(private readonly db: Db) {}

  /** POST /dnc: the number read against the campaign's default country (none site-wide: it needs its country code). */
  async add(input: { number: string; campaignId: string | null; note: string | null }): Promise<{ row: DncNumberRow; created: boolean }> {
    let country: string | null = null;
    if (input.campaignId !== null) {
      const c = await this.db.selectFrom('campaigns').select('default_country').where('id', '=', input.campaignId).executeTakeFirst();
      if (!c) throw notFound('campaign-not-found', 'campaign', input.campaignId);
      country = c.default_country;
    }
    const n = normaliseNumber(input.number, country);
    if (!n.ok) throw invalid('body.number', n.detail);
    return this.db.transaction().execute((tx) => addDoNotCall(tx, { number: n.number.e164, campaignId: input.campaignId, source: 'api', note: input.note }));
  }

  async remove(id: string): Promise<void> {
    const r = await this.db.deleteFrom('dnc_numbers').where('id', '=', id).executeTakeFirst();
    if (Number(r.numDeletedRows) === 0) throw notFound('dnc-not-found', 'do-not-call entry', id);
  }

  /** Newest first, keyset-paged; `number` in any form a person writes (read as E.164 when it has a country code, else matched as given). */
  async list(filter: { number: string | null; campaignId: string | null }, limit: number, after: Keyset | null): Promise<(DncNumberRow & { cursor_at: string })[]> {
    let q = this.db.selectFrom('dnc_numbers').selectAll().select(cursorAt('created_at').as('cursor_at'));
    if (filter.number !== null) {
      const n = normaliseNumber(filter.number, null);
      q = q.where('number', '=', n.ok ? n.number.e164 : filter.number.trim());
    }
    if (filter.campaignId !== null) q = q.where('campaign_id', '=', filter.campaignId);
    if (after) q = q.where(olderThan('created_at', 'id', after));
    return q.orderBy('created_at', 'desc').orderBy('id', 'desc').limit(limit + 1).execute();
  }
}

export function dncView(row: DncNumberRow) {
  return { id: row.id, number: row.number, campaignId: row.campaign_id, source: row.source, note: row.note, createdAt: row.created_at.toISOString() };
}
