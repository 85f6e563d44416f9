/** The scrape-time queries: one grouped query per figure, bounded by the number of queues. */
import { sql } from 'kysely';
import { linesInFlight } from '../campaigns/attempt-repository.js';
import type { Db } from '../db/database.js';
import type { AgentCount, CampaignFigures, QueueFigures } from './port.js';

/** Every queue, with its callers in line (waiting or offered) and the longest wait (database clock). */
export async function queueFigures(db: Db): Promise<QueueFigures[]> {
  const rows = await db
    .selectFrom('queues as q')
    .leftJoin('queue_calls as c', (j) => j.onRef('c.queue_id', '=', 'q.id').on('c.state', 'in', ['waiting', 'offered']))
    .select([
      'q.name as queue',
      sql<string>`count(c.call_id)`.as('waiting'),
      sql<string | null>`extract(epoch from now() - min(c.enqueued_at))`.as('longest'),
    ])
    .groupBy('q.name')
    .execute();
  return rows.map((r) => ({ queue: r.queue, waiting: Number(r.waiting), longestWaitSeconds: r.longest === null ? 0 : Math.max(0, Number(r.longest)) }));
}

/** Agents by state: overall (queue null, each agent once) and per queue they are members of. */
export async function agentCounts(db: Db): Promise<AgentCount[]> {
  const [overall, perQueue] = await Promise.all([
    db.selectFrom('agents').select(['state', sql<string>`count(*)`.as('n')]).groupBy('state').execute(),
    db
      .selectFrom('queue_members as m')
      .innerJoin('agents as a', 'a.id', 'm.agent_id')
      .innerJoin('queues as q', 'q.id', 'm.queue_id')
      .select(['q.name as queue', 'a.state', sql<string>`count(*)`.as('n')])
      .groupBy(['q.name', 'a.state'])
      .execute(),
  ]);
  return [
    ...overall.map((r) => ({ queue: null, state: r.state, count: Number(r.n) })),
    ...perQueue.map((r) => ({ queue: r.queue, state: r.state, count: Number(r.n) })),
  ];
}

/**
 * Running and paused campaigns: lines in flight (the campaign_attempts_in_flight index) and
 * contacts by state (one grouped count over each campaign's contacts: about the cost of reading
 * its list once, so tens of ms for 100,000 contacts).
 */
export async function campaignFigures(db: Db): Promise<CampaignFigures[]> {
  const campaigns = await db.selectFrom('campaigns').select(['id', 'name']).where('state', 'in', ['running', 'paused']).execute();
  if (campaigns.length === 0) return [];
  const ids = campaigns.map((c) => c.id);
  const [inFlight, contacts] = await Promise.all([
    Promise.all(campaigns.map((c) => linesInFlight(db, c.id))),
    db.selectFrom('campaign_contacts').select(['campaign_id', 'state', sql<string>`count(*)`.as('n')]).where('campaign_id', 'in', ids).groupBy(['campaign_id', 'state']).execute(),
  ]);
  return campaigns.map((c, i) => ({
    campaign: c.name,
    linesInFlight: inFlight[i] ?? 0,
    contacts: Object.fromEntries(contacts.filter((r) => r.campaign_id === c.id).map((r) => [r.state, Number(r.n)])),
  }));
}
