/**
 * The reports' queries: plain functions over a connection, each callable on its own (a bench
 * times them directly: bench/reports.ts). Every figure is computed from these rows on each
 * request (src/reports/queue-kpis.ts, agent-kpis.ts); nothing is kept as a counter.
 *
 *   reportQueues / reportAgents    the queues (with their report settings) and agents asked for
 *   queueEventsOfCalls             the events of the calls that joined the queues in [from, to),
 *                                  and the callback-done events in it
 *   queueEventsSince               every event of the queues from a time on (live: one range scan)
 *   callerJoins                    joins of some caller numbers (any queue) in (from, to]: FCR
 *   surveysOf                      survey answers of queues or agents in [from, to)
 *   agentStateChanges              each agent's state at `from` and its changes in [from, to)
 *   agentEvents                    queue events naming the agents in [from, to)
 *
 * Indexes used (migration 2026-12-08T00-00-00_queue_events): queue_events (queue_id, at),
 * (call_id), (agent_id, at), (caller_number, at) where join; agent_state_log (agent_id, at);
 * survey_responses (queue_id, at), (agent_id, at).
 */
import { sql } from 'kysely';
import { queueSettingsOf } from '../acd/call-repository.js';
import type { QueueEventRow } from '../acd/tables.js';
import type { DbOrTx } from '../db/database.js';
import type { AgentEventFact, StateChange } from './agent-kpis.js';
import type { SurveyFact } from './kpi-math.js';
import type { CallerJoin, QueueEventFact, QueueReportSettings } from './queue-kpis.js';

export interface ReportQueue {
  readonly id: string;
  readonly name: string;
  readonly settings: QueueReportSettings;
}

export interface ReportAgent {
  readonly id: string;
  readonly number: string;
  readonly name: string;
}

/** The queues named (all when `names` is undefined), by name. */
export async function reportQueues(db: DbOrTx, names?: readonly string[]): Promise<ReportQueue[]> {
  let q = db.selectFrom('queues').selectAll().orderBy('name');
  if (names) q = q.where('name', 'in', names.length ? [...names] : ['']);
  return (await q.execute()).map((row) => {
    const s = queueSettingsOf(row);
    return {
      id: row.id,
      name: row.name,
      settings: {
        slSeconds: s.slSeconds, slPercent: s.slPercent, shortAbandonSeconds: s.shortAbandonSeconds,
        slExcludeShortAbandons: s.slExcludeShortAbandons, slCountAbandons: s.slCountAbandons, fcrWindowHours: s.fcrWindowHours,
      },
    };
  });
}

/** The agents numbered (all when `numbers` is undefined), by number. */
export async function reportAgents(db: DbOrTx, numbers?: readonly string[]): Promise<ReportAgent[]> {
  let q = db.selectFrom('agents').select(['id', 'number', 'name']).orderBy('number');
  if (numbers) q = q.where('number', 'in', numbers.length ? [...numbers] : ['']);
  return q.execute();
}

/** Pause reason names by code. */
export async function pauseReasonNames(db: DbOrTx): Promise<Map<number, string>> {
  return new Map((await db.selectFrom('pause_reasons').select(['code', 'name']).execute()).map((r) => [r.code, r.name]));
}

export type QueueEventOfQueue = QueueEventFact & { readonly queueId: string };

type EventRow = Pick<QueueEventRow, 'queue_id' | 'call_id' | 'type' | 'at' | 'agent_id' | 'caller_number' | 'wait_ms' | 'talk_ms' | 'hold_ms' | 'wrap_up_ms'> & { result: string | null };

/**
 * The events of the calls that joined one of the queues in [from, to) (whenever the event
 * happened: an answer or an end of wrap-up after `to` belongs to its call; offers and
 * ring-no-answers left out, the queue figures do not use them), and the callback-done events of
 * the queues in [from, to).
 */
export async function queueEventsOfCalls(db: DbOrTx, queueIds: readonly string[], from: Date, to: Date): Promise<QueueEventOfQueue[]> {
  if (queueIds.length === 0) return [];
  const ids = sql`${[...queueIds]}::bigint[]`;
  const { rows } = await sql<EventRow>`
    with joined as (
      select distinct queue_id, call_id from queue_events
      where type = 'join' and queue_id = any(${ids}) and at >= ${from} and at < ${to}
    )
    select e.queue_id::text, e.call_id, e.type, e.at, e.agent_id::text, e.caller_number, e.wait_ms, e.talk_ms, e.hold_ms, e.wrap_up_ms, null as result
      from joined j
      -- A call's few events by call_id alone; "offset 0" keeps the planner from adding the queue
      -- to that lookup (a BitmapAnd with the (queue_id, at) index reads the queue's whole history per call).
      cross join lateral (select * from queue_events x where x.call_id = j.call_id offset 0) e
      where e.queue_id = j.queue_id and e.type not in ('callback-done', 'offer', 'ring-no-answer')
    union all
    select queue_id::text, call_id, type, at, agent_id::text, caller_number, wait_ms, talk_ms, hold_ms, wrap_up_ms, details->>'result'
      from queue_events
      where type = 'callback-done' and queue_id = any(${ids}) and at >= ${from} and at < ${to}
  `.execute(db);
  return rows.map(eventFact);
}

const eventFact = (r: EventRow): QueueEventOfQueue => ({
  queueId: r.queue_id, callId: r.call_id, type: r.type, at: r.at.getTime(), agentId: r.agent_id, callerNumber: r.caller_number,
  waitMs: r.wait_ms, talkMs: r.talk_ms, holdMs: r.hold_ms, wrapUpMs: r.wrap_up_ms, result: r.result,
});

/**
 * Every event of the queues from `from` on (offers and ring-no-answers left out): for a range that
 * ends now (the live figures), a superset of queueEventsOfCalls read by one range scan of the
 * (queue_id, at) index instead of a lookup per call. Events of calls that joined before `from`
 * come along; the core counts a call only where its join is.
 */
export async function queueEventsSince(db: DbOrTx, queueIds: readonly string[], from: Date): Promise<QueueEventOfQueue[]> {
  if (queueIds.length === 0) return [];
  const { rows } = await sql<EventRow>`
    select queue_id::text, call_id, type, at, agent_id::text, caller_number, wait_ms, talk_ms, hold_ms, wrap_up_ms,
        case when type = 'callback-done' then details->>'result' end as result
      from queue_events
      where queue_id = any(${sql`${[...queueIds]}::bigint[]`}) and at >= ${from} and type not in ('offer', 'ring-no-answer')
  `.execute(db);
  return rows.map(eventFact);
}

/** Joins (any queue) by these caller numbers with from < at <= to. */
export async function callerJoins(db: DbOrTx, callers: readonly string[], from: Date, to: Date): Promise<CallerJoin[]> {
  if (callers.length === 0) return [];
  const rows = await db
    .selectFrom('queue_events')
    .select(['caller_number', 'call_id', 'at'])
    .where('type', '=', 'join')
    .where(sql<boolean>`caller_number = any(${[...callers]}::varchar[])`)
    .where('at', '>', from)
    .where('at', '<=', to)
    .execute();
  return rows.map((r) => ({ callerNumber: r.caller_number!, callId: r.call_id, at: r.at.getTime() }));
}

export type SurveyOf = SurveyFact & { readonly owner: string };

/** Survey answers in [from, to) of the queues (by = 'queue') or agents (by = 'agent'); `owner` is that id. */
export async function surveysOf(db: DbOrTx, by: 'queue' | 'agent', ids: readonly string[], from: Date, to: Date): Promise<SurveyOf[]> {
  if (ids.length === 0) return [];
  const column = by === 'queue' ? 'queue_id' : 'agent_id';
  const rows = await db
    .selectFrom('survey_responses')
    .select([sql<string>`${sql.ref(column)}::text`.as('owner'), 'at', 'scale', 'score'])
    .where(sql<boolean>`${sql.ref(column)} = any(${[...ids]}::bigint[])`)
    .where('at', '>=', from)
    .where('at', '<', to)
    .execute();
  return rows.map((r) => ({ owner: r.owner, at: r.at.getTime(), scale: r.scale, score: r.score }));
}

export type StateChangeOf = StateChange & { readonly agentId: string };

/** For each agent, its last change before `from` (the state it was in then), and its changes in [from, to), in order. */
export async function agentStateChanges(db: DbOrTx, agentIds: readonly string[], from: Date, to: Date): Promise<StateChangeOf[]> {
  if (agentIds.length === 0) return [];
  const ids = sql`${[...agentIds]}::bigint[]`;
  const { rows } = await sql<{ agent_id: string; at: Date; to_state: StateChange['to']; pause_code: number | null }>`
    select b.agent_id::text as agent_id, b.at, b.to_state, b.pause_code, b.id from unnest(${ids}) as a(id)
      cross join lateral (
        select agent_id, at, to_state, pause_code, id from agent_state_log
        where agent_id = a.id and at < ${from} order by at desc, id desc limit 1
      ) b
    union all
    select agent_id::text, at, to_state, pause_code, id from agent_state_log
      where agent_id = any(${ids}) and at >= ${from} and at < ${to}
    order by at, id
  `.execute(db);
  return rows.map((r) => ({ agentId: r.agent_id, at: r.at.getTime(), to: r.to_state, pauseCode: r.pause_code }));
}

export type AgentEventOf = AgentEventFact & { readonly agentId: string };

/** The answer, ring-no-answer, transfer and end events naming the agents, in [from, to). */
export async function agentEvents(db: DbOrTx, agentIds: readonly string[], from: Date, to: Date): Promise<AgentEventOf[]> {
  if (agentIds.length === 0) return [];
  const rows = await db
    .selectFrom('queue_events')
    .select([sql<string>`agent_id::text`.as('agent_id'), 'at', 'type', 'talk_ms', 'hold_ms', 'wrap_up_ms'])
    .where(sql<boolean>`agent_id = any(${[...agentIds]}::bigint[])`)
    .where('type', 'in', ['answer', 'ring-no-answer', 'transfer', 'end'])
    .where('at', '>=', from)
    .where('at', '<', to)
    .execute();
  return rows.map((r) => ({ agentId: r.agent_id, at: r.at.getTime(), type: r.type, talkMs: r.talk_ms, holdMs: r.hold_ms, wrapUpMs: r.wrap_up_ms }));
}
