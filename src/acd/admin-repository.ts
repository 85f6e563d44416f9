/**
 * The ACD's administration in Postgres: what the admin API (service.ts) reads and writes besides
 * the call path (call-repository.ts): agents, skills and memberships, the state log, pause
 * reasons, queues and their members, what uses a queue, the live and today's views of a queue.
 * Plain functions over a connection or transaction (DbOrTx).
 */
import { sql } from 'kysely';
import type { DbOrTx } from '../db/database.js';
import { cursorAt, olderThan } from '../db/keyset.js';
import { agentView, findAgentById, startOfToday, type AgentView } from './call-repository.js';
import type { AgentStatus } from './agent-state.js';
import type {
  AgentRow, AgentStateLogRow, NewAgent, NewQueue, OverflowTarget, PauseReasonRow, QueueCallLogRow, QueueCallRow, QueueRow, QueueUpdate,
} from './tables.js';

// ================================================================ agents

export async function listAgents(db: DbOrTx): Promise<AgentView[]> {
  return agentView(db).orderBy('a.number').execute();
}

/**
 * What the agents' live view shows, and no more: the view is polled by wallboards, and parsing the
 * other columns (seven timestamps among them) of every agent was most of its cost (docs/benchmarks.md#read-api).
 */
export async function listAgentsLive(db: DbOrTx) {
  return db
    .selectFrom('agents as a')
    .leftJoin('pause_reasons as p', 'p.code', 'a.pause_code')
    .select(['a.id', 'a.number', 'a.name', 'a.state', 'a.pause_code', 'p.name as pause_name', 'a.state_since', 'a.extension', 'a.call_id'])
    .orderBy('a.number')
    .execute();
}

export async function lockAgentByNumber(tx: DbOrTx, number: string): Promise<AgentView | undefined> {
  const locked = await tx.selectFrom('agents').select('id').where('number', '=', number).forUpdate().executeTakeFirst();
  return locked ? findAgentById(tx, locked.id) : undefined;
}

export async function insertAgent(db: DbOrTx, row: NewAgent): Promise<AgentRow> {
  return db.insertInto('agents').values(row).returningAll().executeTakeFirstOrThrow();
}

export async function deleteAgentRow(db: DbOrTx, id: string): Promise<void> {
  await db.deleteFrom('agents').where('id', '=', id).execute();
}

export async function replaceAgentSkills(db: DbOrTx, agentId: string, skills: Readonly<Record<string, number>>): Promise<void> {
  await db.deleteFrom('agent_skills').where('agent_id', '=', agentId).execute();
  const rows = Object.entries(skills).map(([skill, level]) => ({ agent_id: agentId, skill, level }));
  if (rows.length) await db.insertInto('agent_skills').values(rows).execute();
}

export interface AgentMembership {
  readonly queue_id: string;
  readonly queue: string;
  readonly penalty: number;
}

/** Queue memberships of the agents given (all when omitted): agent id -> memberships by queue name. */
export async function agentMemberships(db: DbOrTx, agentIds?: readonly string[]): Promise<Map<string, AgentMembership[]>> {
  const out = new Map<string, AgentMembership[]>();
  if (agentIds && agentIds.length === 0) return out;
  let q = db
    .selectFrom('queue_members as m')
    .innerJoin('queues as q', 'q.id', 'm.queue_id')
    .select(['m.agent_id', 'm.queue_id', 'q.name as queue', 'm.penalty'])
    .orderBy('q.name');
  if (agentIds) q = q.where('m.agent_id', 'in', agentIds);
  for (const r of await q.execute()) {
    let list = out.get(r.agent_id);
    if (!list) out.set(r.agent_id, (list = []));
    list.push({ queue_id: r.queue_id, queue: r.queue, penalty: r.penalty });
  }
  return out;
}

export interface StateLogQuery {
  readonly from?: Date;
  readonly to?: Date;
  /** Newest first; default 100. */
  readonly limit?: number;
  /** Rows older than this (at, id): the keyset of a cursor (src/http/paging.ts). */
  readonly after?: { readonly at: string; readonly id: string };
}

export async function listAgentStateLog(
  db: DbOrTx, agentId: string, q: StateLogQuery = {},
): Promise<(AgentStateLogRow & { queue_name: string | null; pause_name: string | null; cursor_at: string })[]> {
  let query = db
    .selectFrom('agent_state_log as l')
    .leftJoin('queues as q', 'q.id', 'l.queue_id')
    .leftJoin('pause_reasons as p', 'p.code', 'l.pause_code')
    .selectAll('l')
    .select(['q.name as queue_name', 'p.name as pause_name', cursorAt('l.at').as('cursor_at')])
    .where('l.agent_id', '=', agentId);
  if (q.from) query = query.where('l.at', '>=', q.from);
  if (q.to) query = query.where('l.at', '<', q.to);
  if (q.after) query = query.where(olderThan('l.at', 'l.id', q.after));
  return query.orderBy('l.at', 'desc').orderBy('l.id', 'desc').limit(q.limit ?? 100).execute();
}

// ================================================================ pause reasons

export async function listPauseReasons(db: DbOrTx): Promise<PauseReasonRow[]> {
  return db.selectFrom('pause_reasons').selectAll().orderBy('code').execute();
}

export async function insertPauseReason(db: DbOrTx, code: number, name: string): Promise<PauseReasonRow> {
  return db.insertInto('pause_reasons').values({ code, name, system: false }).returningAll().executeTakeFirstOrThrow();
}

export async function deletePauseReason(db: DbOrTx, code: number): Promise<void> {
  await db.deleteFrom('pause_reasons').where('code', '=', code).execute();
}

/** Numbers of the agents paused with `code` now, or with a pause to `code` parked. */
export async function agentsUsingPauseReason(db: DbOrTx, code: number): Promise<string[]> {
  const rows = await db
    .selectFrom('agents')
    .select('number')
    .where((eb) => eb.or([eb('pause_code', '=', code), eb('pending_pause_code', '=', code)]))
    .orderBy('number')
    .execute();
  return rows.map((r) => r.number);
}

// ================================================================ queues

export async function listQueues(db: DbOrTx): Promise<QueueRow[]> {
  return db.selectFrom('queues').selectAll().orderBy('name').execute();
}

export async function findQueueByName(db: DbOrTx, name: string): Promise<QueueRow | undefined> {
  return db.selectFrom('queues').selectAll().where('name', '=', name).executeTakeFirst();
}

export async function findQueueById(db: DbOrTx, id: string): Promise<QueueRow | undefined> {
  if (!/^[0-9]{1,18}$/.test(id)) return undefined;
  return db.selectFrom('queues').selectAll().where('id', '=', id).executeTakeFirst();
}

/** The queue row, locked until the transaction ends. */
export async function lockQueue(tx: DbOrTx, name: string): Promise<QueueRow | undefined> {
  return tx.selectFrom('queues').selectAll().where('name', '=', name).forUpdate().executeTakeFirst();
}

export async function insertQueue(db: DbOrTx, row: NewQueue): Promise<QueueRow> {
  return db.insertInto('queues').values(row).returningAll().executeTakeFirstOrThrow();
}

export async function updateQueueRow(db: DbOrTx, id: string, patch: QueueUpdate): Promise<QueueRow> {
  return db.updateTable('queues').set({ ...patch, updated_at: new Date() }).where('id', '=', id).returningAll().executeTakeFirstOrThrow();
}

export async function deleteQueueRow(db: DbOrTx, id: string): Promise<void> {
  await db.deleteFrom('queues').where('id', '=', id).execute();
}

/** The rows with their post-call survey flow's name (null: none). */
export async function withSurveyFlow<R extends QueueRow>(db: DbOrTx, rows: readonly R[]): Promise<(R & { survey_flow: string | null })[]> {
  const ids = [...new Set(rows.map((r) => r.survey_flow_id).filter((id): id is string => id !== null))];
  const names = new Map<string, string>();
  if (ids.length > 0) for (const f of await db.selectFrom('flows').select(['id', 'name']).where('id', 'in', ids).execute()) names.set(f.id, f.name);
  return rows.map((r) => ({ ...r, survey_flow: r.survey_flow_id === null ? null : (names.get(r.survey_flow_id) ?? null) }));
}

/** Queues whose post-call survey is flow `flowId` (the flow API's "in use" check). */
export async function queuesSurveyingWith(db: DbOrTx, flowId: string): Promise<string[]> {
  return (await db.selectFrom('queues').select('name').where('survey_flow_id', '=', flowId).orderBy('name').execute()).map((r) => r.name);
}

/** Names of all queues (the IVR flow validator's catalog). */
export async function queueNames(db: DbOrTx): Promise<string[]> {
  return (await db.selectFrom('queues').select('name').orderBy('name').execute()).map((r) => r.name);
}

export interface QueueMemberView {
  readonly agent_id: string;
  readonly number: string;
  readonly name: string;
  readonly state: AgentStatus;
  readonly penalty: number;
}

export async function queueMembers(db: DbOrTx, queueId: string): Promise<QueueMemberView[]> {
  return db
    .selectFrom('queue_members as m')
    .innerJoin('agents as a', 'a.id', 'm.agent_id')
    .select(['m.agent_id', 'a.number', 'a.name', 'a.state', 'm.penalty'])
    .where('m.queue_id', '=', queueId)
    .orderBy('m.penalty')
    .orderBy('a.number')
    .execute();
}

export async function findQueueMember(db: DbOrTx, queueId: string, agentId: string): Promise<{ penalty: number } | undefined> {
  return db.selectFrom('queue_members').select('penalty').where('queue_id', '=', queueId).where('agent_id', '=', agentId).executeTakeFirst();
}

export async function setQueueMember(db: DbOrTx, queueId: string, agentId: string, penalty: number): Promise<void> {
  await db
    .insertInto('queue_members')
    .values({ queue_id: queueId, agent_id: agentId, penalty })
    .onConflict((oc) => oc.columns(['queue_id', 'agent_id']).doUpdateSet({ penalty }))
    .execute();
}

export async function removeQueueMember(db: DbOrTx, queueId: string, agentId: string): Promise<boolean> {
  const r = await db.deleteFrom('queue_members').where('queue_id', '=', queueId).where('agent_id', '=', agentId).executeTakeFirst();
  return r.numDeletedRows > 0n;
}

// ---------------------------------------------------------------- what uses a queue (or is a queue's overflow)

export async function inboundRoutesUsingQueue(db: DbOrTx, queueId: string): Promise<string[]> {
  const rows = await db.selectFrom('inbound_routes').select('name').where('target_queue', '=', queueId).orderBy('id').execute();
  return rows.map((r) => r.name);
}

/** Queues (other than `except`) whose overflow is `target` (compared as JSON). */
export async function queuesOverflowingTo(db: DbOrTx, target: OverflowTarget, except?: string): Promise<string[]> {
  let q = db.selectFrom('queues').select('name').where(sql<boolean>`overflow @> ${JSON.stringify(target)}::jsonb`);
  if (except !== undefined) q = q.where('id', '<>', except);
  return (await q.orderBy('name').execute()).map((r) => r.name);
}

/** For ExtensionService's "in use" check: queues that overflow to extension / mailbox `number`. */
export async function queuesUsingExtension(db: DbOrTx, number: string): Promise<string[]> {
  const [ext, vm] = await Promise.all([
    queuesOverflowingTo(db, { kind: 'extension', number }),
    queuesOverflowingTo(db, { kind: 'voicemail', mailbox: number }),
  ]);
  return [...new Set([...ext, ...vm])].sort().map((q) => `queue ${q} (overflow)`);
}

/** Callers in the queue now: waiting, being offered, connected, or waiting for a callback. */
export async function callersInQueue(db: DbOrTx, queueId: string): Promise<{ calls: number; callbacks: number }> {
  const [calls, callbacks] = await Promise.all([
    db.selectFrom('queue_calls').select((eb) => eb.fn.countAll<string>().as('n')).where('queue_id', '=', queueId).executeTakeFirstOrThrow(),
    db
      .selectFrom('callbacks')
      .select((eb) => eb.fn.countAll<string>().as('n'))
      .where('queue_id', '=', queueId)
      .where('state', 'in', ['waiting', 'dialing', 'connected'])
      .executeTakeFirstOrThrow(),
  ]);
  return { calls: Number(calls.n), callbacks: Number(callbacks.n) };
}

// ================================================================ a queue's calls now and today

/** Calls in the queues (one queue when `queueId` is given), in service order. */
export async function listQueueCalls(db: DbOrTx, queueId?: string): Promise<QueueCallRow[]> {
  let q = db.selectFrom('queue_calls').selectAll();
  if (queueId !== undefined) q = q.where('queue_id', '=', queueId);
  return q.orderBy('priority', 'desc').orderBy('enqueued_at').orderBy('call_id').execute();
}

/** The agents being offered (their phones ringing) each of `callIds`: agents reserved for the call. */
export async function agentsRinging(db: DbOrTx, callIds: readonly string[]): Promise<Map<string, string[]>> {
  if (callIds.length === 0) return new Map();
  const rows = await db
    .selectFrom('agents')
    .select(['number', 'call_id'])
    .where('state', '=', 'reserved')
    .where('call_id', 'in', callIds)
    .orderBy('number')
    .execute();
  const ringing = new Map<string, string[]>();
  for (const r of rows) ringing.set(r.call_id!, [...(ringing.get(r.call_id!) ?? []), r.number]);
  return ringing;
}

/** A queue's calls that left it since local midnight (service level, answered, abandoned). */
export async function queueCallsToday(db: DbOrTx, queueId: string, timezone = 'UTC'): Promise<QueueCallLogRow[]> {
  return db.selectFrom('queue_call_log').selectAll().where('queue_id', '=', queueId).where('ended_at', '>=', startOfToday(timezone)).orderBy('ended_at').execute();
}
