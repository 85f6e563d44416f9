/**
 * What the pacing reads of a campaign besides the agents (dialer.ts): the lines in flight with how
 * long each has rung, the answered calls waiting for an agent, and the abandon counts of today and
 * of the 30 days ending today (campaign_days; abandoned / live answered).
 */
import { sql } from 'kysely';
import { DateTime } from 'luxon';
import type { DbOrTx } from '../db/database.js';
import type { AbandonCount } from './pacing.js';
import type { CampaignRow } from './tables.js';
import { dayOf } from './attempt-repository.js';

export async function ringingSeconds(db: DbOrTx, campaignId: string, now: Date): Promise<{ ringing: number[]; waiting: number }> {
  const rows = await db
    .selectFrom('campaign_attempts')
    .select(['state', 'dialed_at', 'outcome'])
    .where('campaign_id', '=', campaignId)
    .where('state', 'in', ['queued', 'dialing', 'answered'])
    .execute();
  const ringing: number[] = [];
  let waiting = 0;
  for (const r of rows) {
    if (r.state === 'answered') {
      if (r.outcome === null) waiting += 1;
    } else ringing.push(r.dialed_at ? Math.max(0, (now.getTime() - r.dialed_at.getTime()) / 1000) : 0);
  }
  return { ringing, waiting };
}

export const ROLLING_DAYS = 30;

export async function abandonCounts(db: DbOrTx, c: Pick<CampaignRow, 'id' | 'time_zone'>, now: Date): Promise<{ today: AbandonCount; rolling: AbandonCount }> {
  const today = dayOf(c.time_zone, now);
  const first = DateTime.fromISO(today).minus({ days: ROLLING_DAYS - 1 }).toISODate()!;
  const rows = await db
    .selectFrom('campaign_days')
    .select([sql<string>`to_char(day, 'YYYY-MM-DD')`.as('day'), 'live_answers', 'abandons'])
    .where('campaign_id', '=', c.id)
    .where(sql<boolean>`day between ${first}::date and ${today}::date`)
    .execute();
  const sum = (rs: typeof rows): AbandonCount => ({ answered: rs.reduce((n, r) => n + r.live_answers, 0), abandoned: rs.reduce((n, r) => n + r.abandons, 0) });
  return { today: sum(rows.filter((r) => r.day === today)), rolling: sum(rows) };
}
