/**
 * The ACD's call path in Postgres: what the call runtime (engine.ts through store.ts) reads and
 * writes while calls are routed. Plain functions over a connection or transaction (DbOrTx):
 *
 *   applyAgentEvent       load -> agentTransition (agent-state.ts) -> store + state log row + its
 *                         queue event (queue-events.ts), in one transaction under the agent's row lock
 *   applyAgentEventAt     the same in one statement from a row held in memory, written only if the
 *                         row is still at that version (optimistic; the warm routing view)
 *   agentEventInMemory    the same over a row held in memory, written nowhere (Postgres unreachable)
 *   loadSnapshotAgents / loadQueueSettings
 *                         agents and queues as routeCalls (router.ts) takes them (all agents, or some)
 *   findAgentByNumber / findAgentByExtension, checkAgentPin, recordPinFailure / resetPinFailures
 *   queueCallJoined (with its join event), upsertQueueCall / deleteQueueCall / waitingCallOf,
 *   queueCallLeft (with its event), logQueueCall, recordTalkTime, saveCallback (callback-requested /
 *   callback-done events)
 *   agentsOnEndedCalls
 *
 * The admin API's queries are in admin-repository.ts. A function given a transaction runs inside
 * it; given the pool, those that write several rows open their own.
 */
import { sql, type RawBuilder } from 'kysely';
import type { DbOrTx } from '../db/database.js';
import { verifyPin } from '../extensions/rules.js';
import { agentTransition, type AgentEvent, type AgentState, type AgentStatus, type AgentStep, type PendingChange, type TransitionRecord } from './agent-state.js';
import type { QueueConfig, RoutableAgent, SkillRequirement, WideningStep } from './router.js';
import type { WaitingCall } from './waiting-calls.js';
import { agentCallFigures, agentQueueEvents, leftQueueEventType, queueEventRow, type AgentBefore, type AgentQueueEvents, type QueueCallFacts, type QueueEvent } from './queue-events.js';
import type {
  AgentRow, AgentUpdate, CallbackState, OverflowTarget, PauseReasonRow, QueueCallLogRow, QueueCallOutcome, QueueCallRow, QueueCallState, QueueRow,
} from './tables.js';

/** Run `fn` in the transaction given, or in a new one. */
async function inTx<T>(db: DbOrTx, fn: (tx: DbOrTx) => Promise<T>): Promise<T> {
  if (db.isTransaction) return fn(db);
  return db.transaction().execute((tx) => fn(tx));
}

// ================================================================ agents

/** An agent row with the names of its pause reason and parked pause reason. */
export type AgentView = AgentRow & { pause_name: string | null; pending_pause_name: string | null };

/** The query every read of agents starts from (also admin-repository.ts). */
export const agentView = (db: DbOrTx) =>
  db
    .selectFrom('agents as a')
    .leftJoin('pause_reasons as p', 'p.code', 'a.pause_code')
    .leftJoin('pause_reasons as pp', 'pp.code', 'a.pending_pause_code')
    .selectAll('a')
    .select(['p.name as pause_name', 'pp.name as pending_pause_name']);

export async function findAgentById(db: DbOrTx, id: string): Promise<AgentView | undefined> {
  if (!/^[0-9]{1,18}$/.test(id)) return undefined;
  return agentView(db).where('a.id', '=', id).executeTakeFirst();
}

/** The agent with login number `number` (digits), or undefined. */
export async function findAgentByNumber(db: DbOrTx, number: string): Promise<AgentView | undefined> {
  return agentView(db).where('a.number', '=', number).executeTakeFirst();
}

/** The agent logged in at extension `extension` (at most one in practice), or undefined. */
export async function findAgentByExtension(db: DbOrTx, extension: string): Promise<AgentView | undefined> {
  return agentView(db).where('a.extension', '=', extension).orderBy('a.id').executeTakeFirst();
}

/** Lock the agent's row until the transaction ends; undefined when there is no such agent. */
export async function lockAgent(tx: DbOrTx, id: string): Promise<AgentView | undefined> {
  const locked = await tx.selectFrom('agents').select('id').where('id', '=', id).forUpdate().executeTakeFirst();
  return locked ? findAgentById(tx, id) : undefined;
}

export async function updateAgentRow(db: DbOrTx, id: string, patch: AgentUpdate): Promise<void> {
  await db.updateTable('agents').set({ ...patch, updated_at: new Date() }).where('id', '=', id).execute();
}

/** Skills of the agents given (all agents when `agentIds` is omitted): agent id -> {skill: level}. */
export async function agentSkills(db: DbOrTx, agentIds?: readonly string[]): Promise<Map<string, Record<string, number>>> {
  const out = new Map<string, Record<string, number>>();
  if (agentIds && agentIds.length === 0) return out;
  let q = db.selectFrom('agent_skills').selectAll().orderBy('skill');
  if (agentIds) q = q.where('agent_id', 'in', agentIds);
  for (const r of await q.execute()) {
    let s = out.get(r.agent_id);
    if (!s) out.set(r.agent_id, (s = {}));
    s[r.skill] = r.level;
  }
  return out;
}

// ---------------------------------------------------------------- PIN

/** Wrong PINs in a row that lock an agent, and for how long. */
export const PIN_MAX_FAILURES = 5;
export const PIN_LOCK_SECONDS = 300;

export const isAgentLocked = (agent: Pick<AgentRow, 'locked_until'>, now = new Date()): boolean =>
  agent.locked_until !== null && agent.locked_until.getTime() > now.getTime();

/**
 * One more wrong PIN. The fifth in a row locks the agent for 5 minutes (and starts the count
 * over). Returns the count now and the lock, if any.
 */
export async function recordPinFailure(db: DbOrTx, agentId: string): Promise<{ failures: number; lockedUntil: Date | null }> {
  const row = await db
    .updateTable('agents')
    .set({
      pin_failures: sql<number>`case when pin_failures + 1 >= ${PIN_MAX_FAILURES} then 0 else pin_failures + 1 end`,
      locked_until: sql<Date | null>`case when pin_failures + 1 >= ${PIN_MAX_FAILURES} then now() + make_interval(secs => ${PIN_LOCK_SECONDS}) else locked_until end`,
    })
    .where('id', '=', agentId)
    .returning(['pin_failures', 'locked_until'])
    .executeTakeFirst();
  return row ? { failures: row.pin_failures, lockedUntil: row.locked_until } : { failures: 0, lockedUntil: null };
}

/** A right PIN: the count of wrong ones starts over and a lock that ran out is cleared. */
export async function resetPinFailures(db: DbOrTx, agentId: string): Promise<void> {
  await db.updateTable('agents').set({ pin_failures: 0, locked_until: null }).where('id', '=', agentId).execute();
}

export type PinCheck =
  | { readonly ok: true; readonly agent: AgentView }
  | { readonly ok: false; readonly reason: 'unknown-agent' | 'wrong-pin'; readonly failures?: number }
  | { readonly ok: false; readonly reason: 'locked'; readonly lockedUntil: Date };

/**
 * An agent logging in at a phone: number + PIN. Locked agents are refused without looking at the
 * PIN; a wrong PIN counts (recordPinFailure); a right one resets the count.
 */
export async function checkAgentPin(db: DbOrTx, number: string, pin: string): Promise<PinCheck> {
  const agent = /^[0-9]{2,16}$/.test(number) ? await findAgentByNumber(db, number) : undefined;
  if (!agent) return { ok: false, reason: 'unknown-agent' };
  if (isAgentLocked(agent)) return { ok: false, reason: 'locked', lockedUntil: agent.locked_until! };
  if (!(await verifyPin(pin, agent.pin_hash))) {
    const r = await recordPinFailure(db, agent.id);
    return r.lockedUntil && isAgentLocked({ locked_until: r.lockedUntil }) ? { ok: false, reason: 'locked', lockedUntil: r.lockedUntil } : { ok: false, reason: 'wrong-pin', failures: r.failures };
  }
  if (agent.pin_failures > 0 || agent.locked_until !== null) await resetPinFailures(db, agent.id);
  return { ok: true, agent: { ...agent, pin_failures: 0, locked_until: null } };
}

// ---------------------------------------------------------------- state changes

export interface StateLogEntry {
  /** 'feature-code', 'supervisor', 'offer', 'answer', 'reject', 'ring-timeout', 'call-ended', 'wrap-up-done', 'missed-offers', ... */
  readonly cause: string;
  /** Defaults to the agent's pause code after the change. */
  readonly pauseCode?: number | null;
  /** Defaults to the agent's call after the change, else before it. */
  readonly callId?: string | null;
  readonly queueId?: string | null;
  readonly byActor?: string | null;
  readonly details?: Record<string, unknown> | null;
}

/** The agent_state_log row of one change. */
function stateLogValues(agentId: string, from: AgentStatus, to: AgentStatus, e: StateLogEntry, at: Date) {
  return {
    agent_id: agentId,
    from_state: from,
    to_state: to,
    pause_code: e.pauseCode ?? null,
    cause: e.cause.slice(0, 40),
    call_id: e.callId ?? null,
    queue_id: e.queueId ?? null,
    by_actor: e.byActor ?? null,
    details: e.details ? JSON.stringify(e.details) : null,
    at,
  };
}

/** The state machine's view of a stored agent (agent-state.ts AgentState). */
export function agentStateOf(a: AgentView): AgentState {
  const reason = (code: number | null, name: string | null) => (code === null ? null : { code, name: name ?? String(code) });
  const pendingReason = reason(a.pending_pause_code, a.pending_pause_name);
  const pending: PendingChange | null =
    a.pending === 'logout' ? { kind: 'logout' } : a.pending === 'pause' && pendingReason ? { kind: 'pause', reason: pendingReason } : null;
  return {
    status: a.state,
    since: a.state_since.getTime(),
    pause: reason(a.pause_code, a.pause_name),
    call: a.call_id === null ? null : { callId: a.call_id, queueId: a.queue_id ?? '' },
    wrapUpUntil: a.wrap_up_until?.getTime() ?? null,
    missedOffers: a.missed_offers,
    pending,
  };
}

/** The columns that store a state machine AgentState (the inverse of agentStateOf). */
export function agentStateColumns(s: AgentState): AgentUpdate {
  return {
    state: s.status,
    state_since: new Date(s.since),
    pause_code: s.status === 'paused' ? (s.pause?.code ?? null) : null,
    call_id: s.call?.callId ?? null,
    queue_id: s.call && /^[0-9]{1,18}$/.test(s.call.queueId) ? s.call.queueId : null,
    wrap_up_until: s.wrapUpUntil === null ? null : new Date(s.wrapUpUntil),
    missed_offers: s.missedOffers,
    pending: s.pending?.kind ?? null,
    pending_pause_code: s.pending?.kind === 'pause' ? s.pending.reason.code : null,
  };
}

/** The state log cause of a transition record: 'supervisor' for force, 'missed-offers' for the automatic pause, ... */
export function causeOf(record: TransitionRecord): string {
  const k = record.cause.kind;
  if (k === 'force') return 'supervisor';
  if ((k === 'reject' || k === 'ring-timeout') && record.to === 'paused' && record.cause.reason?.code === 0) return 'missed-offers';
  if (k === 'login' || k === 'logout' || k === 'pause' || k === 'unpause') return 'feature-code';
  return k;
}

export interface ApplyOptions {
  /** State log cause; default causeOf(record). */
  readonly cause?: string;
  /** Who made the change (state log by_actor), e.g. the supervisor's label. */
  readonly byActor?: string | null;
  /** More columns to write with the new state, e.g. {extension} at login. */
  readonly fields?: AgentUpdate;
  /** The event's time (epoch ms); default now. */
  readonly at?: number;
  /** What the queue knows of the call (join time, hold) for its queue event (queue-events.ts). */
  readonly queueCall?: QueueCallFacts;
}

export type AppliedAgentEvent =
  | { readonly ok: true; readonly agent: AgentView; readonly step: Extract<AgentStep, { ok: true }> }
  | { readonly ok: false; readonly agent: AgentView; readonly step: Extract<AgentStep, { ok: false }> };

/** What one accepted event writes: the agent's new columns, its state log row and its queue event. */
interface PlannedEvent {
  readonly step: Extract<AgentStep, { ok: true }>;
  readonly cols: AgentUpdate;
  readonly log: StateLogEntry;
  readonly at: Date;
  readonly queueEvents: AgentQueueEvents;
}

/** The state machine's answer for `event` on the stored row `agent`, and what to write if accepted. */
function planAgentEvent(agent: AgentView, event: AgentEvent, options: ApplyOptions): PlannedEvent | Extract<AgentStep, { ok: false }> {
  const at = options.at ?? Date.now();
  const before = agentStateOf(agent);
  const step = agentTransition(before, event, at);
  if (!step.ok) return step;
  const s = step.state;
  const cols: AgentUpdate = { ...agentStateColumns(s), ...(options.fields ?? {}) };
  if (s.status === 'ready' && (agent.state !== 'ready' || agent.idle_since === null)) cols.idle_since = new Date(s.since);
  if (s.status === 'logged-out' && options.fields?.extension === undefined) cols.extension = null;
  if (step.record.cause.kind === 'offer') cols.last_offered_at = new Date(at);
  const held: AgentBefore = { state: before, callTalkMs: agent.call_talk_ms, callHoldMs: agent.call_hold_ms };
  Object.assign(cols, agentCallFigures(held, step.record, options.queueCall));
  cols.updated_at = new Date(at);
  const c = step.record.cause;
  const log: StateLogEntry = {
    cause: options.cause ?? causeOf(step.record),
    pauseCode: s.status === 'paused' ? (s.pause?.code ?? null) : (c.reason?.code ?? null),
    callId: c.callId ?? s.call?.callId ?? null,
    queueId: toId(c.queueId ?? s.call?.queueId),
    byActor: options.byActor ?? c.by ?? null,
    details: { ...c },
  };
  return { step, cols, log, at: new Date(at), queueEvents: agentQueueEvents(agent.id, held, step.record, options.queueCall) };
}

/** The row as agentView reads it after `plan` was written over `agent` (pause names from the state machine). */
function viewAfter(row: AgentRow, plan: PlannedEvent): AgentView {
  const s = plan.step.state;
  return { ...row, pause_name: s.pause?.name ?? null, pending_pause_name: s.pending?.kind === 'pause' ? s.pending.reason.name : null };
}

/**
 * The event over a row held in memory, written nowhere: the step and the row as it will be once
 * written (its version unchanged). The store answers with it while Postgres is unreachable and
 * writes the event later (store.ts); pure.
 */
export function agentEventInMemory(known: AgentView, event: AgentEvent, options: ApplyOptions = {}): AppliedAgentEvent {
  const plan = planAgentEvent(known, event, options);
  if (!('cols' in plan)) return { ok: false, agent: known, step: plan };
  return { ok: true, agent: viewAfter({ ...known, ...plan.cols } as AgentRow, plan), step: plan.step };
}

/**
 * Run one state machine event for the agent: under its row lock, read the stored state, ask
 * agentTransition, store the new state and one state log row (in one transaction). A refused
 * event writes nothing. Undefined when there is no such agent. The effects in `step` (wrap-up
 * timers, withdrawing an offer) are for the caller to carry out.
 */
export async function applyAgentEvent(db: DbOrTx, agentId: string, event: AgentEvent, options: ApplyOptions = {}): Promise<AppliedAgentEvent | undefined> {
  return inTx(db, async (tx) => {
    const agent = await lockAgent(tx, agentId);
    if (!agent) return undefined;
    const plan = planAgentEvent(agent, event, options);
    if (!('cols' in plan)) return { ok: false, agent, step: plan };
    await tx.updateTable('agents').set(plan.cols).where('id', '=', agentId).execute();
    await tx.insertInto('agent_state_log').values(stateLogValues(agentId, plan.step.record.from, plan.step.record.to, plan.log, plan.at)).execute();
    for (const e of plan.queueEvents) await insertQueueEvent(tx, e);
    return { ok: true, agent: (await findAgentById(tx, agentId))!, step: plan.step };
  });
}

/**
 * applyAgentEvent in one statement (one round trip, one commit), for a caller that holds the agent's
 * row as of some version (the warm routing snapshot): the transition is computed from `known`, and
 * the row is written, with its state log row and queue event, only if it is still at `known.version`. 'stale' when
 * it is not, or when the event is refused for `known` (the caller then runs applyAgentEvent, which
 * locks the row and reads it).
 */
export async function applyAgentEventAt(db: DbOrTx, known: AgentView, event: AgentEvent, options: ApplyOptions = {}): Promise<Extract<AppliedAgentEvent, { ok: true }> | 'stale'> {
  const plan = planAgentEvent(known, event, options);
  if (!('cols' in plan)) return 'stale';
  const { from, to } = plan.step.record;
  const log = stateLogValues(known.id, from, to, plan.log, plan.at);
  const row = await db
    .with('moved', (qc) => qc.updateTable('agents').set(plan.cols).where('id', '=', known.id).where('version', '=', known.version).returningAll())
    .with('logged', (qc) =>
      qc
        .insertInto('agent_state_log')
        .columns(['agent_id', 'from_state', 'to_state', 'pause_code', 'cause', 'call_id', 'queue_id', 'by_actor', 'details', 'at'])
        .expression((eb) =>
          eb.selectFrom('moved').select([
            'moved.id as agent_id',
            sql<string>`${log.from_state}::varchar`.as('from_state'),
            sql<string>`${log.to_state}::varchar`.as('to_state'),
            sql<number | null>`${log.pause_code}::integer`.as('pause_code'),
            sql<string>`${log.cause}::varchar`.as('cause'),
            sql<string | null>`${log.call_id}::varchar`.as('call_id'),
            sql<string | null>`${log.queue_id}::bigint`.as('queue_id'),
            sql<string | null>`${log.by_actor}::varchar`.as('by_actor'),
            sql<string | null>`${log.details}::jsonb`.as('details'),
            sql<Date>`${log.at}::timestamptz`.as('at'),
          ]),
        ),
    )
    .with('evented', () => insertQueueEventsWhen(plan.queueEvents, sql<boolean>`exists (select 1 from moved)`))
    .selectFrom('moved')
    .selectAll()
    .executeTakeFirst();
  return row ? { ok: true, agent: viewAfter(row as AgentRow, plan), step: plan.step } : 'stale';
}

const toId = (v: string | undefined | null): string | null => (v && /^[0-9]{1,18}$/.test(v) ? v : null);

/**
 * In one statement with the rows it depends on: insert the queue events, in their order, if `when`
 * holds (a condition over the statement's other CTEs, e.g. that the agent row was written). A raw
 * CTE body is not put in parentheses by Kysely: they are written here.
 */
function insertQueueEventsWhen(events: readonly QueueEvent[], when: RawBuilder<boolean>) {
  const rows = events.map((e, n) => ({ ...queueEventRow(e), details: e.details ?? null, n }));
  return sql<Record<string, never>>`(
    insert into queue_events (at, queue_id, call_id, type, agent_id, caller_number, wait_ms, talk_ms, hold_ms, wrap_up_ms, details)
    select r.at, r.queue_id, r.call_id, r.type, r.agent_id, r.caller_number, r.wait_ms, r.talk_ms, r.hold_ms, r.wrap_up_ms, r.details
    from jsonb_to_recordset(${JSON.stringify(rows)}::jsonb) as r(
      at timestamptz, queue_id bigint, call_id varchar, type varchar, agent_id bigint, caller_number varchar,
      wait_ms integer, talk_ms integer, hold_ms integer, wrap_up_ms integer, details jsonb, n integer)
    where ${when}
    order by r.n)`;
}

/** One queue_events row (queue-events.ts), in the caller's transaction. */
export async function insertQueueEvent(db: DbOrTx, e: QueueEvent): Promise<void> {
  await db.insertInto('queue_events').values(queueEventRow(e)).execute();
}

// ================================================================ pause reasons

export async function findPauseReason(db: DbOrTx, code: number): Promise<PauseReasonRow | undefined> {
  return db.selectFrom('pause_reasons').selectAll().where('code', '=', code).executeTakeFirst();
}

// ================================================================ queue calls (waiting callers)

export interface QueueCallInput {
  readonly callId: string;
  readonly queueId: string;
  readonly channelId?: string | null;
  readonly callerNumber?: string | null;
  readonly callerName?: string | null;
  readonly priority?: number;
  /** null / omitted: the queue's own required skills. */
  readonly skills?: readonly SkillRequirement[] | null;
  /** Default now (on insert); kept on update unless given. */
  readonly enqueuedAt?: Date;
  readonly state?: QueueCallState;
  readonly agentId?: string | null;
}

/** The insert and the update (on conflict) of upsertQueueCall. */
function queueCallValues(c: QueueCallInput) {
  const cap = (s: string | null | undefined, n: number) => (s == null ? null : s.slice(0, n));
  const insert = {
    call_id: c.callId,
    queue_id: c.queueId,
    channel_id: cap(c.channelId, 64),
    caller_number: cap(c.callerNumber, 32),
    caller_name: cap(c.callerName, 80),
    priority: c.priority ?? 0,
    skills: c.skills == null ? null : JSON.stringify(c.skills),
    ...(c.enqueuedAt ? { enqueued_at: c.enqueuedAt } : {}),
    state: c.state ?? 'waiting',
    agent_id: c.agentId ?? null,
  };
  const update = {
    queue_id: c.queueId,
    ...(c.channelId !== undefined ? { channel_id: insert.channel_id } : {}),
    ...(c.callerNumber !== undefined ? { caller_number: insert.caller_number } : {}),
    ...(c.callerName !== undefined ? { caller_name: insert.caller_name } : {}),
    ...(c.priority !== undefined ? { priority: c.priority } : {}),
    ...(c.skills !== undefined ? { skills: insert.skills } : {}),
    ...(c.enqueuedAt ? { enqueued_at: c.enqueuedAt } : {}),
    ...(c.state !== undefined ? { state: c.state } : {}),
    ...(c.agentId !== undefined ? { agent_id: c.agentId } : {}),
    updated_at: new Date(),
  };
  return { insert, update };
}

/** Insert the call, or update the fields given (a call moving queue, being offered, connected...). */
export async function upsertQueueCall(db: DbOrTx, c: QueueCallInput): Promise<QueueCallRow> {
  const { insert, update } = queueCallValues(c);
  return db
    .insertInto('queue_calls')
    .values(insert)
    .onConflict((oc) => oc.column('call_id').doUpdateSet(update))
    .returningAll()
    .executeTakeFirstOrThrow();
}

/**
 * A caller joined a queue: their waiting-call row and the 'join' event (at the join time, with the
 * caller's number), in one statement (one round trip, one commit). A caller already stored in this
 * queue (picked up again after a restart) writes no second join; one stored in another queue has
 * moved (a join there). The event's fields are the row's as written (queueCallValues).
 */
export async function queueCallJoined(db: DbOrTx, c: QueueCallInput & { readonly enqueuedAt: Date }): Promise<QueueCallRow> {
  const { insert, update } = queueCallValues(c);
  const join: QueueEvent = {
    type: 'join', at: c.enqueuedAt, queueId: insert.queue_id, callId: insert.call_id, callerNumber: insert.caller_number,
    details: { ...(insert.priority ? { priority: insert.priority } : {}), ...(c.skills ? { skills: c.skills } : {}) },
  };
  return db
    // No FOR UPDATE here: the upsert locks the row, and a row locked after this statement's own update is skipped (no row: a second join).
    .with('stored', (qc) => qc.selectFrom('queue_calls').select('queue_id').where('call_id', '=', c.callId))
    .with('joined', (qc) => qc.insertInto('queue_calls').values(insert).onConflict((oc) => oc.column('call_id').doUpdateSet(update)).returningAll())
    .with('evented', () => insertQueueEventsWhen([join], sql<boolean>`not exists (select 1 from stored where stored.queue_id = ${insert.queue_id}::bigint)`))
    .selectFrom('joined')
    .selectAll()
    .executeTakeFirstOrThrow() as Promise<QueueCallRow>;
}

export async function deleteQueueCall(db: DbOrTx, callId: string): Promise<boolean> {
  const r = await db.deleteFrom('queue_calls').where('call_id', '=', callId).executeTakeFirst();
  return r.numDeletedRows > 0n;
}

/** A stored queue call as the router takes it. */
export function waitingCallOf(row: QueueCallRow): WaitingCall {
  return {
    id: row.call_id,
    queueId: row.queue_id,
    priority: row.priority,
    enqueuedAt: row.enqueued_at.getTime(),
    ...(row.skills ? { requiredSkills: row.skills } : {}),
  };
}

export interface QueueCallLogInput {
  readonly queueId: string;
  readonly callId: string;
  readonly enqueuedAt: Date;
  readonly answeredAt?: Date | null;
  /** Default now. */
  readonly endedAt?: Date;
  readonly outcome: QueueCallOutcome;
  /** Default: from enqueuedAt to answeredAt (answered) or endedAt, in whole seconds. */
  readonly waitSeconds?: number;
  readonly talkSeconds?: number | null;
  readonly agentId?: string | null;
  /** The queue event's details (queueCallLeft), e.g. {target} of an overflow. */
  readonly details?: Record<string, unknown> | null;
}

/** The queue_call_log row of a call that left the queue. */
function queueCallLogValues(e: QueueCallLogInput) {
  const endedAt = e.endedAt ?? new Date();
  const waitEnd = e.answeredAt ?? endedAt;
  const wait = e.waitSeconds ?? Math.max(0, Math.round((waitEnd.getTime() - e.enqueuedAt.getTime()) / 1000));
  return {
    queue_id: e.queueId,
    call_id: e.callId,
    enqueued_at: e.enqueuedAt,
    answered_at: e.answeredAt ?? null,
    ended_at: endedAt,
    outcome: e.outcome,
    wait_seconds: Math.max(0, Math.round(wait)),
    talk_seconds: e.talkSeconds == null ? null : Math.max(0, Math.round(e.talkSeconds)),
    agent_id: e.agentId ?? null,
  };
}

/** One row per queued call once it left the queue (service level, handle times, calls per agent). */
export async function logQueueCall(db: DbOrTx, e: QueueCallLogInput): Promise<QueueCallLogRow> {
  return db.insertInto('queue_call_log').values(queueCallLogValues(e)).returningAll().executeTakeFirstOrThrow();
}

/**
 * A caller left the queue (answered, abandoned, overflowed, timed out, asked for a callback): its
 * waiting-call row goes and its call-log row comes in one statement (one round trip, one commit),
 * so the queue's figures (offered = calls in the queue + calls that left it) never count the call
 * twice or not at all. The same statement writes the queue event (abandon, overflow, timeout,
 * callback-requested, with the wait in ms; an answer's event is the agent's, applyAgentEvent).
 * `once`: not again when the call's log row for this stay in the queue is there already (a write
 * retried after Postgres was unreachable: its first try may have landed).
 */
export async function queueCallLeft(db: DbOrTx, e: QueueCallLogInput, o: { readonly once?: boolean } = {}): Promise<QueueCallLogRow> {
  if (o.once) {
    return inTx(db, async (tx) => {
      const logged = await tx.selectFrom('queue_call_log').selectAll().where('call_id', '=', e.callId).where('queue_id', '=', e.queueId).where('enqueued_at', '=', e.enqueuedAt).executeTakeFirst();
      return logged ?? queueCallLeft(tx, e);
    });
  }
  const log = queueCallLogValues(e);
  const type = leftQueueEventType(e.outcome);
  const events: QueueEvent[] = type
    ? [{ type, at: log.ended_at, queueId: e.queueId, callId: e.callId, agentId: e.agentId ?? null, waitMs: Math.max(0, log.ended_at.getTime() - e.enqueuedAt.getTime()), details: e.details ?? null }]
    : [];
  return db
    .with('gone', (qc) => qc.deleteFrom('queue_calls').where('call_id', '=', e.callId))
    .with('logged', (qc) => qc.insertInto('queue_call_log').values(log).returningAll())
    .with('evented', () => insertQueueEventsWhen(events, sql<boolean>`true`)) // none: inserts nothing
    .selectFrom('logged')
    .selectAll()
    .executeTakeFirstOrThrow() as Promise<QueueCallLogRow>;
}

export interface CallbackInput {
  /** The callback's id (the caller's call id + '-cb'). */
  readonly id: string;
  readonly queueId: string;
  /** The caller's call: it leaves the queue when the callback is requested. */
  readonly callerCallId: string;
  readonly callerNumber: string;
  readonly enqueuedAt: Date;
  readonly state: CallbackState;
  readonly attempts: number;
  readonly result: string | null;
  /** When it was saved (the callback-done event's time); default now. */
  readonly at?: Date;
}

/**
 * A callback's row, stored or updated, in one transaction with what it means for the queue: the
 * first save (waiting, no attempt yet) is the caller leaving the queue (queueCallLeft: outcome
 * callback, event callback-requested); reaching done or failed writes 'callback-done' once, with
 * details {result: 'done' | 'failed', attempts, lastResult}.
 */
export async function saveCallback(db: DbOrTx, cb: CallbackInput): Promise<void> {
  await inTx(db, async (tx) => {
    const row = {
      queue_id: cb.queueId,
      call_id: cb.id,
      caller_number: cb.callerNumber.slice(0, 32),
      enqueued_at: cb.enqueuedAt,
      state: cb.state,
      attempts: cb.attempts,
      last_result: cb.result,
    };
    const stored = await tx.selectFrom('callbacks').select('state').where('call_id', '=', cb.id).forUpdate().executeTakeFirst();
    if (stored) await tx.updateTable('callbacks').set(row).where('call_id', '=', cb.id).execute();
    else await tx.insertInto('callbacks').values(row).execute();
    if (cb.state === 'waiting' && cb.attempts === 0 && !stored) {
      await queueCallLeft(tx, { queueId: cb.queueId, callId: cb.callerCallId, enqueuedAt: cb.enqueuedAt, outcome: 'callback', details: { callbackId: cb.id }, ...(cb.at ? { endedAt: cb.at } : {}) });
    }
    const finished = (s: CallbackState | undefined) => s === 'done' || s === 'failed';
    if (finished(cb.state) && !finished(stored?.state)) {
      await insertQueueEvent(tx, {
        type: 'callback-done', at: cb.at ?? new Date(), queueId: cb.queueId, callId: cb.id,
        details: { result: cb.state, attempts: cb.attempts, lastResult: cb.result },
      });
    }
  });
}

/**
 * An answered call is over: its talk time (answer to `endedAt`) goes into its queue_call_log row.
 * Answers the seconds written, null when nothing was (no such answered call, or set already).
 */
export async function recordTalkTime(db: DbOrTx, callId: string, endedAt: Date): Promise<number | null> {
  const row = await db
    .updateTable('queue_call_log')
    .set({ talk_seconds: sql<number>`greatest(0, round(extract(epoch from (${endedAt}::timestamptz - answered_at))))::integer` })
    .where('call_id', '=', callId)
    .where('outcome', '=', 'answered')
    .where('talk_seconds', 'is', null)
    .returning('talk_seconds')
    .executeTakeFirst();
  return row?.talk_seconds ?? null;
}

// ================================================================ today's figures, routing snapshot

/** Local midnight of today in time zone `tz` (IANA), as a SQL expression. */
export const startOfToday = (tz: string) => sql<Date>`(date_trunc('day', now() at time zone ${tz}) at time zone ${tz})`;

/** Per agent since local midnight: calls answered and talk seconds (from queue_call_log). */
export async function agentTodayStats(db: DbOrTx, timezone = 'UTC', agentIds?: readonly string[]): Promise<Map<string, { calls: number; talkSeconds: number }>> {
  if (agentIds && agentIds.length === 0) return new Map();
  let q = db
    .selectFrom('queue_call_log')
    .select((eb) => ['agent_id', eb.fn.countAll<string>().as('calls'), eb.fn.coalesce(eb.fn.sum<string | null>('talk_seconds'), sql<string>`0`).as('talk')])
    .where('outcome', '=', 'answered')
    .where('agent_id', 'is not', null)
    .where('ended_at', '>=', startOfToday(timezone))
    .groupBy('agent_id');
  if (agentIds) q = q.where('agent_id', 'in', agentIds);
  const rows = await q.execute();
  return new Map(rows.map((r) => [r.agent_id!, { calls: Number(r.calls), talkSeconds: Number(r.talk) }]));
}

/** Handle times (talk + the queue's wrap-up) of a queue's latest answered calls, for wait estimates. */
export async function recentHandleSeconds(db: DbOrTx, queueId: string, limit = 50): Promise<number[]> {
  const rows = await db
    .selectFrom('queue_call_log as l')
    .innerJoin('queues as q', 'q.id', 'l.queue_id')
    .select(sql<number>`coalesce(l.talk_seconds, 0) + q.wrap_up_seconds`.as('handle'))
    .where('l.queue_id', '=', queueId)
    .where('l.outcome', '=', 'answered')
    .orderBy('l.ended_at', 'desc')
    .limit(limit)
    .execute();
  return rows.map((r) => Number(r.handle));
}

/** A queue's settings, camelCase; also a router QueueConfig. */
export interface QueueSettings extends QueueConfig {
  readonly id: string;
  readonly name: string;
  readonly requiredSkills: readonly SkillRequirement[];
  readonly widening: readonly WideningStep[];
  readonly ringTimeoutSeconds: number;
  readonly wrapUpSeconds: number;
  readonly maxWaitSeconds: number | null;
  readonly maxLength: number | null;
  readonly overflow: OverflowTarget | null;
  readonly joinEmpty: boolean;
  readonly leaveWhenEmpty: boolean;
  readonly slSeconds: number;
  readonly slPercent: number;
  /** Report settings (docs/reporting.md). */
  readonly shortAbandonSeconds: number;
  readonly slExcludeShortAbandons: boolean;
  readonly slCountAbandons: boolean;
  readonly fcrWindowHours: number;
  readonly announceSeconds: number;
  readonly missedOffersPause: number;
  readonly callbackAfterSeconds: number | null;
  readonly callbackRetries: number;
  readonly musicClass: string;
  /** Days its call recordings are kept (src/recordings); null: the site default. */
  readonly recordingRetentionDays: number | null;
  /** Call recording (docs/recording.md#policy): always | never | on-demand; null: not set here. */
  readonly recordingPolicy: 'always' | 'never' | 'on-demand' | null;
  /** Record only this share of calls (1-100 %); null: all. */
  readonly recordingSamplePercent: number | null;
  /** Played to the caller before recording starts; null: the site's (PBX_RECORDING_ANNOUNCEMENT). */
  readonly recordingAnnouncement: { readonly prompt: string } | { readonly text: string; readonly language?: string } | null;
  /** Screen pop on the handset (screen-pop.ts): the caller-ID name template and the Alert-Info of its offers; null: none. */
  readonly callerIdTemplate: string | null;
  readonly alertInfo: string | null;
}

export function queueSettingsOf(q: QueueRow): QueueSettings {
  return {
    id: q.id,
    name: q.name,
    strategy: q.strategy,
    requiredSkills: q.required_skills,
    widening: q.widening,
    ringTimeoutSeconds: q.ring_timeout_seconds,
    wrapUpSeconds: q.wrap_up_seconds,
    maxWaitSeconds: q.max_wait_seconds,
    maxLength: q.max_length,
    overflow: q.overflow,
    joinEmpty: q.join_empty,
    leaveWhenEmpty: q.leave_when_empty,
    slSeconds: q.sl_seconds,
    slPercent: q.sl_percent,
    shortAbandonSeconds: q.report_short_abandon_seconds,
    slExcludeShortAbandons: q.report_sl_exclude_short,
    slCountAbandons: q.report_sl_count_abandons,
    fcrWindowHours: q.report_fcr_hours,
    announceSeconds: q.announce_seconds,
    missedOffersPause: q.missed_offers_pause,
    callbackAfterSeconds: q.callback_after_seconds,
    callbackRetries: q.callback_retries,
    musicClass: q.music_class,
    recordingRetentionDays: q.recording_retention_days ?? null,
    recordingPolicy: (q.recording_policy ?? null) as QueueSettings['recordingPolicy'],
    recordingSamplePercent: q.recording_sample_percent ?? null,
    recordingAnnouncement: (q.recording_announcement ?? null) as QueueSettings['recordingAnnouncement'],
    callerIdTemplate: q.caller_id_template ?? null,
    alertInfo: q.alert_info ?? null,
  };
}

/** An agent as routeCalls takes it, plus what the runtime needs to ring and track it. */
export interface SnapshotAgent extends RoutableAgent {
  readonly number: string;
  readonly name: string;
  readonly extension: string | null;
  readonly callId: string | null;
  readonly callQueueId: string | null;
  readonly pauseCode: number | null;
  readonly missedOffers: number;
  readonly stateSince: number;
  /** The state machine's view (agent-state.ts). */
  readonly agentState: AgentState;
  /** The stored row this was made from (its version: applyAgentEventAt). */
  readonly row: AgentView;
}

export interface AgentFigures {
  readonly memberships: readonly { readonly queueId: string; readonly penalty: number }[];
  readonly skills: Readonly<Record<string, number>>;
  readonly callsHandled: number;
  readonly talkSeconds: number;
}

/** A stored agent (with its memberships, skills and today's figures) as the router and the runtime take it. */
export function snapshotAgentOf(a: AgentView, f: AgentFigures): SnapshotAgent {
  return {
    id: a.id,
    number: a.number,
    name: a.name,
    state: a.state,
    memberships: f.memberships,
    skills: f.skills,
    idleSince: (a.idle_since ?? a.state_since).getTime(),
    callsHandled: f.callsHandled,
    talkSeconds: f.talkSeconds,
    lastOfferedAt: a.last_offered_at?.getTime() ?? null,
    extension: a.extension,
    callId: a.call_id,
    callQueueId: a.queue_id,
    pauseCode: a.pause_code,
    missedOffers: a.missed_offers,
    stateSince: a.state_since.getTime(),
    agentState: agentStateOf(a),
    row: a,
  };
}

/**
 * Agents as the router takes them: state, memberships, skills, idle since, last offer, calls and
 * talk seconds today (since local midnight in `timezone`). Only the agents `ids` when given;
 * logged-out agents are left out unless `includeLoggedOut`.
 */
export async function loadSnapshotAgents(db: DbOrTx, options: { timezone?: string; includeLoggedOut?: boolean; ids?: readonly string[] } = {}): Promise<SnapshotAgent[]> {
  const ids = options.ids;
  if (ids && ids.length === 0) return [];
  let agentsQ = agentView(db).orderBy('a.id');
  if (!options.includeLoggedOut) agentsQ = agentsQ.where('a.state', '<>', 'logged-out');
  if (ids) agentsQ = agentsQ.where('a.id', 'in', ids);
  let membersQ = db.selectFrom('queue_members').selectAll();
  if (ids) membersQ = membersQ.where('agent_id', 'in', ids);
  const [agents, members, skills, today] = await Promise.all([agentsQ.execute(), membersQ.execute(), agentSkills(db, ids), agentTodayStats(db, options.timezone, ids)]);
  const byAgent = new Map<string, { queueId: string; penalty: number }[]>();
  for (const m of members) {
    let list = byAgent.get(m.agent_id);
    if (!list) byAgent.set(m.agent_id, (list = []));
    list.push({ queueId: m.queue_id, penalty: m.penalty });
  }
  return agents.map((a) =>
    snapshotAgentOf(a, {
      memberships: byAgent.get(a.id) ?? [],
      skills: skills.get(a.id) ?? {},
      callsHandled: today.get(a.id)?.calls ?? 0,
      talkSeconds: today.get(a.id)?.talkSeconds ?? 0,
    }),
  );
}

/** The queues' settings, as the runtime takes them. */
export async function loadQueueSettings(db: DbOrTx): Promise<QueueSettings[]> {
  return (await db.selectFrom('queues').selectAll().orderBy('name').execute()).map(queueSettingsOf);
}

// ================================================================ calls that ended unseen

/**
 * Agents on a call (on-call) or reserved for one (an offer) for at least `minAgeMs` whose call is
 * live nowhere: no live_calls row has it as its call id, first part (linked_id) or callback (mode
 * 'callback:<id>'). Such a call ended while no daemon was watching it (a restart), or while
 * Postgres refused the agent's move, so nothing moved the agent on.
 */
export async function agentsOnEndedCalls(db: DbOrTx, minAgeMs: number): Promise<{ agentId: string; callId: string; state: 'on-call' | 'reserved' }[]> {
  const rows = await db
    .selectFrom('agents as a')
    .select(['a.id', 'a.call_id', 'a.state'])
    .where('a.state', 'in', ['on-call', 'reserved'])
    .where('a.call_id', 'is not', null)
    .where('a.state_since', '<', sql<Date>`now() - make_interval(secs => ${minAgeMs / 1000})`)
    .where(({ not, exists, selectFrom }) =>
      not(
        exists(
          selectFrom('live_calls as l')
            .select(sql`1`.as('one'))
            .where((eb) => eb.or([eb('l.call_id', '=', eb.ref('a.call_id')), eb('l.linked_id', '=', eb.ref('a.call_id')), eb('l.mode', '=', sql<string>`'callback:' || a.call_id`)])),
        ),
      ),
    )
    .execute();
  return rows.map((r) => ({ agentId: r.id, callId: r.call_id!, state: r.state as 'on-call' | 'reserved' }));
}
