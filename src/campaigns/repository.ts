/**
 * The campaigns' queries (plain functions over a connection or transaction): the campaign row with
 * its queue, trunk and flow names, the names resolved to ids, the lifecycle write (and its NOTIFY),
 * and the attempts list. The dialer has its own queries; this file is the API's.
 */
import { sql } from 'kysely';
import type { DbOrTx } from '../db/database.js';
import { cursorAt } from '../db/keyset.js';
import type { Keyset } from '../http/paging.js';
import type { CampaignAttemptRow, CampaignRow, CampaignState, CampaignTable } from './tables.js';

/**
 * The Postgres channel every lifecycle change is NOTIFYed on, in the transaction that makes it (so
 * it is sent exactly when the change commits, to every daemon): payload `{"campaignId":"7",
 * "state":"stopped","from":"running"}` (docs/campaigns.md#lifecycle).
 */
export const CAMPAIGN_STATE_CHANNEL = 'pbx_campaign_state';

export interface CampaignNames {
  readonly queue_name: string | null;
  readonly trunk_name: string;
  readonly flow_name: string | null;
}
export type CampaignWithNames = CampaignRow & CampaignNames;

function withNames(db: DbOrTx) {
  return db
    .selectFrom('campaigns as c')
    .innerJoin('trunks as t', 't.id', 'c.trunk_id')
    .leftJoin('queues as q', 'q.id', 'c.queue_id')
    .leftJoin('flows as f', 'f.id', 'c.flow_id')
    .selectAll('c')
    .select(['q.name as queue_name', 't.name as trunk_name', 'f.name as flow_name']);
}

export async function findCampaign(db: DbOrTx, id: string, lock = false): Promise<CampaignWithNames | undefined> {
  if (lock) await db.selectFrom('campaigns').select('id').where('id', '=', id).forUpdate().executeTakeFirst();
  return withNames(db).where('c.id', '=', id).executeTakeFirst();
}

/** Newest first by (created_at, id), after the keyset when given. */
export async function listCampaigns(
  db: DbOrTx, q: { readonly limit: number; readonly after?: Keyset | undefined; readonly state?: CampaignState | undefined },
): Promise<(CampaignWithNames & { cursor_at: string })[]> {
  let query = withNames(db).select(cursorAt('c.created_at').as('cursor_at'));
  if (q.state) query = query.where('c.state', '=', q.state);
  if (q.after) query = query.where(sql<boolean>`(c.created_at, c.id) < (${q.after.at}::timestamptz, ${q.after.id}::bigint)`);
  return query.orderBy('c.created_at', 'desc').orderBy('c.id', 'desc').limit(q.limit + 1).execute();
}

export type CampaignValues = Omit<CampaignTable, 'id' | 'state' | 'created_at' | 'updated_at'>;

export async function insertCampaign(db: DbOrTx, values: { [K in keyof CampaignValues]: CampaignTable[K] extends { __insert__: infer I } ? I : CampaignValues[K] }): Promise<string> {
  const row = await db.insertInto('campaigns').values(values as never).returning('id').executeTakeFirstOrThrow();
  return row.id;
}

export async function updateCampaign(db: DbOrTx, id: string, values: Record<string, unknown>): Promise<void> {
  await db.updateTable('campaigns').set({ ...values, updated_at: new Date() } as never).where('id', '=', id).execute();
}

export async function deleteCampaign(db: DbOrTx, id: string): Promise<boolean> {
  const r = await db.deleteFrom('campaigns').where('id', '=', id).executeTakeFirst();
  return Number(r.numDeletedRows) > 0;
}

/** Move the campaign from `from` to `to` and NOTIFY it; false when it was no longer in `from`. */
export async function writeState(db: DbOrTx, id: string, from: CampaignState, to: CampaignState): Promise<boolean> {
  const r = await db.updateTable('campaigns').set({ state: to, updated_at: new Date() }).where('id', '=', id).where('state', '=', from).executeTakeFirst();
  if (Number(r.numUpdatedRows) === 0) return false;
  await sql`select pg_notify(${CAMPAIGN_STATE_CHANNEL}, ${JSON.stringify({ campaignId: id, state: to, from })})`.execute(db);
  return true;
}

/** Attempts queued, dialing or on a call. */
export async function attemptsInProgress(db: DbOrTx, campaignId: string): Promise<number> {
  const r = await db.selectFrom('campaign_attempts').select((eb) => eb.fn.countAll<string>().as('n'))
    .where('campaign_id', '=', campaignId).where('state', '!=', 'ended').executeTakeFirstOrThrow();
  return Number(r.n);
}

export const queueIdOf = async (db: DbOrTx, name: string): Promise<string | undefined> =>
  (await db.selectFrom('queues').select('id').where('name', '=', name).executeTakeFirst())?.id;
export const trunkIdOf = async (db: DbOrTx, name: string): Promise<string | undefined> =>
  (await db.selectFrom('trunks').select('id').where('name', '=', name).executeTakeFirst())?.id;
export const flowIdOf = async (db: DbOrTx, name: string): Promise<string | undefined> =>
  (await db.selectFrom('flows').select('id').where('name', '=', name).executeTakeFirst())?.id;
export const promptExists = async (db: DbOrTx, name: string): Promise<boolean> =>
  (await db.selectFrom('prompts').select('id').where('name', '=', name).executeTakeFirst()) !== undefined;

/** A queue's members, and how many of them are logged in now. */
export async function queueStaffing(db: DbOrTx, queueId: string): Promise<{ members: number; loggedIn: number }> {
  const r = await db.selectFrom('queue_members as m').innerJoin('agents as a', 'a.id', 'm.agent_id')
    .select((eb) => [eb.fn.countAll<string>().as('members'), sql<string>`count(*) filter (where a.state <> 'logged-out')`.as('logged_in')])
    .where('m.queue_id', '=', queueId).executeTakeFirstOrThrow();
  return { members: Number(r.members), loggedIn: Number(r.logged_in) };
}

export type AttemptWithAgent = CampaignAttemptRow & { agent_number: string | null; cursor_at: string };

/** A campaign's attempts, newest first by (created_at, id), after the keyset when given. */
export async function listAttempts(
  db: DbOrTx,
  q: { readonly campaignId: string; readonly limit: number; readonly after?: Keyset | undefined; readonly state?: string | undefined; readonly outcome?: string | undefined },
): Promise<AttemptWithAgent[]> {
  let query = db.selectFrom('campaign_attempts as t').leftJoin('agents as a', 'a.id', 't.agent_id')
    .selectAll('t').select(['a.number as agent_number', cursorAt('t.created_at').as('cursor_at')])
    .where('t.campaign_id', '=', q.campaignId);
  if (q.state) query = query.where('t.state', '=', q.state as never);
  if (q.outcome) query = query.where('t.outcome', '=', q.outcome as never);
  if (q.after) query = query.where(sql<boolean>`(t.created_at, t.id) < (${q.after.at}::timestamptz, ${q.after.id})`);
  return query.orderBy('t.created_at', 'desc').orderBy('t.id', 'desc').limit(q.limit + 1).execute();
}
