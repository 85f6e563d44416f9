/**
 * The outbound reports' queries (plain functions): the day counters of a campaign, the attempts
 * dialed in a range, the contacts' totals. Indexes: campaign_days (campaign_id, day) primary key;
 * campaign_attempts (campaign_id, created_at) (an attempt is dialed right after it is made).
 */
import { sql } from 'kysely';
import type { DbOrTx } from '../db/database.js';
import type { DayCounts } from './report-compliance.js';
import type { AttemptFact, ContactTotals } from './report-outbound.js';

/** The day rows of from..to ('YYYY-MM-DD', inclusive). */
export async function dayCounts(db: DbOrTx, campaignId: string, from: string, to: string): Promise<DayCounts[]> {
  const rows = await db.selectFrom('campaign_days')
    .select([
      sql<string>`to_char(day, 'YYYY-MM-DD')`.as('day'),
      'attempts', 'live_answers', 'machines', 'connects', 'abandons', 'outside_window', 'dnc_blocked', 'short_rings',
    ])
    .where('campaign_id', '=', campaignId)
    .where(sql<boolean>`day between ${from}::date and ${to}::date`)
    .execute();
  return rows.map((r) => ({
    day: r.day, attempts: r.attempts, liveAnswers: r.live_answers, machines: r.machines, connects: r.connects, abandons: r.abandons,
    outsideWindow: r.outside_window, dncBlocked: r.dnc_blocked, shortRings: r.short_rings,
  }));
}

export interface ReportCampaign {
  readonly id: string;
  readonly name: string;
  readonly successNames: ReadonlySet<string>;
}

/** The campaigns named (all when undefined), by name. */
export async function reportCampaigns(db: DbOrTx, names?: readonly string[]): Promise<ReportCampaign[]> {
  let q = db.selectFrom('campaigns').select(['id', 'name', 'dispositions']).orderBy('name');
  if (names) q = q.where('name', 'in', names.length ? [...names] : ['']);
  return (await q.execute()).map((r) => ({ id: r.id, name: r.name, successNames: new Set(r.dispositions.filter((d) => d.success).map((d) => d.name)) }));
}

/** Attempts of the campaigns dialed in [from, to). */
export async function attemptFacts(db: DbOrTx, campaignIds: readonly string[], from: Date, to: Date): Promise<AttemptFact[]> {
  if (campaignIds.length === 0) return [];
  const rows = await db.selectFrom('campaign_attempts')
    .select(['campaign_id', 'agent_id', 'outcome', 'answered_at', 'connected_at', 'ended_at', 'disposition'])
    .where('campaign_id', 'in', [...campaignIds])
    .where('dialed_at', '>=', from)
    .where('dialed_at', '<', to)
    .execute();
  const ms = (d: Date | null): number | null => (d === null ? null : d.getTime());
  return rows.map((r) => ({
    campaignId: r.campaign_id, agentId: r.agent_id, outcome: r.outcome, answeredAt: ms(r.answered_at), connectedAt: ms(r.connected_at),
    endedAt: ms(r.ended_at), disposition: r.disposition,
  }));
}

/** Per campaign: its contacts, those tried at least once, those with nothing left to do. */
export async function contactTotals(db: DbOrTx, campaignIds: readonly string[]): Promise<Map<string, ContactTotals>> {
  if (campaignIds.length === 0) return new Map();
  const rows = await db.selectFrom('campaign_contacts')
    .select((eb) => [
      'campaign_id',
      eb.fn.countAll<string>().as('contacts'),
      sql<string>`count(*) filter (where attempts > 0)`.as('tried'),
      sql<string>`count(*) filter (where state in ('done','exhausted','dnc','unreachable'))`.as('finished'),
    ])
    .where('campaign_id', 'in', [...campaignIds])
    .groupBy('campaign_id')
    .execute();
  return new Map(rows.map((r) => [r.campaign_id, { contacts: Number(r.contacts), tried: Number(r.tried), finished: Number(r.finished) }]));
}

export const agentNames = async (db: DbOrTx, ids: readonly string[]): Promise<Map<string, { number: string; name: string }>> =>
  ids.length === 0
    ? new Map()
    : new Map((await db.selectFrom('agents').select(['id', 'number', 'name']).where('id', 'in', [...ids]).execute()).map((a) => [a.id, { number: a.number, name: a.name }]));
