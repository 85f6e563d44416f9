/**
 * ACD administration and supervision: agents (PIN hashed like voicemail PINs, skills), queues
 * (settings checked as a whole, overflow target checked against what exists), queue membership,
 * pause reasons, a supervisor forcing an agent's state through the state machine
 * (agent-state.ts), the state log, and the live views.
 *
 * Every change runs in one transaction with its audit row; bad input is a 400 naming the field;
 * a name taken is 409 <thing>-exists; deleting something in use is 409 naming who uses it.
 * A forced state change is also told to the listeners (onAgentChange) once it committed, with the
 * state machine's effects (withdraw a ringing offer, cancel a wrap-up timer) for the call runtime.
 */
import type { Db, DbOrTx } from '../db/database.js';
import { AppError, invalid, notFound } from '../errors.js';
import { recordAudit, type Actor } from '../audit/repository.js';
import { displayNameProblem, hashPin, pinProblem } from '../extensions/rules.js';
import { takesMessages } from '../voicemail/deposit.js';
import { FOREIGN_KEY_VIOLATION, pgCode, UNIQUE_VIOLATION } from '../shared/pg-errors.js';
import type { AgentEffect, AgentState, AgentStatus, TransitionRecord } from './agent-state.js';
import { serviceLevel } from './estimate.js';
import type { SkillRequirement, Strategy, WideningStep } from './router.js';
import * as repo from './admin-repository.js';
import * as callRepo from './call-repository.js';
import type { NewQueue, OverflowTarget, PauseReasonRow, QueueCallLogRow, QueueRow } from './tables.js';
import { isCallbackId } from './callback-id.js';
import { alertInfoProblem, parseCallerIdTemplate } from './screen-pop.js';
import { SharedRead } from '../shared/shared-read.js';

/**
 * How long one read of the agents' live view (GET /agents/live) is shared by the readers that come
 * after it (src/shared/shared-read.ts, docs/api.md#live-views); a change this daemon makes or is
 * told of (agentsChanged) is seen by the next reader at once.
 */
export const AGENTS_LIVE_SHARED_MS = 250;

/** Lower-case letters, digits and -, starting with a letter or digit, up to 64 (as flow names). */
export const QUEUE_NAME = /^[a-z0-9][a-z0-9-]{0,63}$/;
export const SKILL_NAME = /^[a-z][a-z0-9_-]{0,39}$/;
export const AGENT_NUMBER = /^[0-9]{2,16}$/;
const MAX_SKILLS = 50;

// ------------------------------------------------------------------ inputs

export interface CreateAgentInput {
  readonly number: string;
  readonly name: string;
  readonly pin: string;
  readonly skills?: Readonly<Record<string, number>>;
  readonly autoAnswer?: boolean;
}
export interface UpdateAgentInput {
  readonly name?: string;
  readonly pin?: string;
  /** Replaces all skills. */
  readonly skills?: Readonly<Record<string, number>>;
  /** On a headset: offers ask the phone to answer at once (docs/acd.md#screen-pop-on-the-handset). */
  readonly autoAnswer?: boolean;
}

export interface QueueFields {
  readonly strategy?: Strategy;
  readonly ringTimeoutSeconds?: number;
  readonly wrapUpSeconds?: number;
  readonly maxWaitSeconds?: number | null;
  readonly maxLength?: number | null;
  readonly overflow?: OverflowTarget | null;
  readonly joinEmpty?: boolean;
  readonly leaveWhenEmpty?: boolean;
  readonly slSeconds?: number;
  readonly slPercent?: number;
  readonly shortAbandonSeconds?: number;
  readonly slExcludeShortAbandons?: boolean;
  readonly slCountAbandons?: boolean;
  readonly fcrWindowHours?: number;
  readonly announceSeconds?: number;
  readonly missedOffersPause?: number;
  readonly requiredSkills?: readonly SkillRequirement[];
  readonly widening?: readonly WideningStep[];
  readonly callbackAfterSeconds?: number | null;
  readonly callbackRetries?: number;
  readonly musicClass?: string;
  readonly recordingRetentionDays?: number | null;
  readonly recordingPolicy?: 'always' | 'never' | 'on-demand' | null;
  readonly recordingSamplePercent?: number | null;
  readonly recordingAnnouncement?: { readonly prompt: string } | { readonly text: string; readonly language?: string } | null;
  readonly callerIdTemplate?: string | null;
  readonly alertInfo?: string | null;
}
export interface CreateQueueInput extends QueueInput {
  readonly name: string;
}
/** The settings, and the post-call survey flow (by name; stored as queues.survey_flow_id). */
export interface QueueInput extends QueueFields {
  readonly surveyFlow?: string | null;
}
/** A queue row with its survey flow's name (the API shows the name). */
export type QueueWithSurvey = QueueRow & { readonly survey_flow: string | null };

export interface ForceStateInput {
  readonly state: 'ready' | 'paused' | 'logged-out';
  readonly pauseCode?: number;
}

// ------------------------------------------------------------------ outputs

export interface AgentDetail {
  readonly agent: callRepo.AgentView;
  readonly skills: Record<string, number>;
  readonly queues: repo.AgentMembership[];
}

/** A committed agent state change made here (a supervisor's force), for the call runtime. */
export interface AgentChange {
  readonly agentId: string;
  readonly number: string;
  readonly record: TransitionRecord;
  readonly effects: readonly AgentEffect[];
  readonly state: AgentState;
}
export type AgentChangeListener = (change: AgentChange) => void;

export interface AgentLive {
  readonly number: string;
  readonly name: string;
  readonly state: AgentStatus;
  readonly pauseCode: number | null;
  readonly pauseReason: string | null;
  readonly secondsInState: number;
  readonly extension: string | null;
  readonly callId: string | null;
  readonly callsHandledToday: number;
  readonly talkSecondsToday: number;
}

export interface QueueLive {
  readonly queue: string;
  /** `ringing`: an agent's phone rings for the caller (`agents`: who is offered; several for ring-all). */
  readonly waiting: { callId: string; callerNumber: string | null; callerName: string | null; waitingSeconds: number; priority: number; state: 'waiting' | 'ringing'; agents: string[] }[];
  readonly longestWaitSeconds: number;
  readonly callbacksWaiting: number;
  readonly agents: { ready: number; reserved: number; onCall: number; wrapUp: number; paused: number; loggedOut: number };
  readonly today: {
    offered: number;
    answered: number;
    abandoned: number;
    answeredWithinSl: number;
    /** Answered within slSeconds / calls that left the queue today, 0-100 (one decimal); null before the first. */
    serviceLevelPercent: number | null;
    slSeconds: number;
    slPercentTarget: number;
    /** Callers who left the queue asking to be called back (each is in offered once). */
    callbacksRequested: number;
    /** Callback calls an agent answered (then the customer was dialed): in the agents' calls handled. */
    callbacksAnswered: number;
  };
}

export interface AcdServiceOptions {
  /**
   * IVR flows whose published version sends callers to queue `queue` (src/flows/repository.ts
   * flowsUsingQueue, passed in by app.ts): a queue they use cannot be deleted.
   */
  readonly flowsUsingQueue: (db: DbOrTx, queue: string) => Promise<string[]>;
  /** The site's IANA time zone: "today" starts at its midnight. */
  readonly timezone?: string;
  readonly now?: () => Date;
}

export class AcdService {
  private readonly listeners = new Set<AgentChangeListener>();
  private readonly timezone: string;
  private readonly now: () => Date;
  private readonly flowsUsingQueue: AcdServiceOptions['flowsUsingQueue'];
  /** The agents' rows and today's figures behind GET /agents/live, shared (AGENTS_LIVE_SHARED_MS). */
  private readonly liveAgents: SharedRead<[Awaited<ReturnType<typeof repo.listAgentsLive>>, Awaited<ReturnType<typeof callRepo.agentTodayStats>>]>;

  constructor(
    private readonly db: Db,
    options: AcdServiceOptions,
  ) {
    this.flowsUsingQueue = options.flowsUsingQueue;
    this.timezone = options.timezone ?? 'UTC';
    this.now = options.now ?? (() => new Date());
    this.liveAgents = new SharedRead(
      () => Promise.all([repo.listAgentsLive(this.db), callRepo.agentTodayStats(this.db, this.timezone)]),
      AGENTS_LIVE_SHARED_MS,
    );
  }

  /**
   * Agents changed outside this service (a call moved an agent, another daemon or SQL changed one,
   * a call was logged): the next GET /agents/live reads again. This service's own writes call it.
   */
  agentsChanged(): void {
    this.liveAgents.invalidate();
  }

  /** `write`'s result, the live view read again after it (committed or not). */
  private async changing<T>(write: Promise<T>): Promise<T> {
    try {
      return await write;
    } finally {
      this.agentsChanged();
    }
  }

  /** Be told about agent state changes made through the API (after they committed). Returns an unsubscribe. */
  onAgentChange(listener: AgentChangeListener): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  // ================================================================ agents

  async listAgents(): Promise<AgentDetail[]> {
    const agents = await repo.listAgents(this.db);
    const [skills, queues] = await Promise.all([callRepo.agentSkills(this.db), repo.agentMemberships(this.db)]);
    return agents.map((agent) => ({ agent, skills: skills.get(agent.id) ?? {}, queues: queues.get(agent.id) ?? [] }));
  }

  async getAgent(number: string): Promise<AgentDetail> {
    return this.agentDetail(this.db, number);
  }

  async createAgent(actor: Actor, input: CreateAgentInput): Promise<AgentDetail> {
    const { number } = input;
    if (!AGENT_NUMBER.test(number)) throw invalid('body.number', 'must be 2 to 16 digits');
    checkAgentName(input.name);
    checkPin(input.pin);
    const skills = checkSkills(input.skills ?? {});
    const pinHash = await hashPin(input.pin);
    return this.changing(this.db
      .transaction()
      .execute(async (tx) => {
        if (await callRepo.findAgentByNumber(tx, number)) throw agentExists(number);
        const autoAnswer = input.autoAnswer ?? false;
        const agent = await repo.insertAgent(tx, { number, name: input.name, pin_hash: pinHash, auto_answer: autoAnswer });
        await repo.replaceAgentSkills(tx, agent.id, skills);
        await audit(tx, actor, 'agent.create', 'agent', agent.id, { number, name: input.name, skills, autoAnswer });
        return this.agentDetail(tx, number);
      })
      .catch((err: unknown) => {
        if (pgCode(err) === UNIQUE_VIOLATION) throw agentExists(number);
        throw err;
      }));
  }

  async updateAgent(actor: Actor, number: string, input: UpdateAgentInput): Promise<AgentDetail> {
    if (input.name !== undefined) checkAgentName(input.name);
    if (input.pin !== undefined) checkPin(input.pin);
    const skills = input.skills === undefined ? undefined : checkSkills(input.skills);
    const pinHash = input.pin === undefined ? undefined : await hashPin(input.pin);
    return this.changing(this.db.transaction().execute(async (tx) => {
      const agent = await lockedAgent(tx, number);
      // A new PIN also lifts a lock from wrong PINs.
      const patch = {
        ...(input.name !== undefined ? { name: input.name } : {}),
        ...(pinHash ? { pin_hash: pinHash, pin_failures: 0, locked_until: null } : {}),
        ...(input.autoAnswer !== undefined ? { auto_answer: input.autoAnswer } : {}),
      };
      if (Object.keys(patch).length) await callRepo.updateAgentRow(tx, agent.id, patch);
      if (skills) await repo.replaceAgentSkills(tx, agent.id, skills);
      const changed = Object.keys(input).filter((k) => input[k as keyof UpdateAgentInput] !== undefined);
      await audit(tx, actor, 'agent.update', 'agent', agent.id, { number, changed, ...(input.name !== undefined ? { name: input.name } : {}), ...(skills ? { skills } : {}), ...(input.autoAnswer !== undefined ? { autoAnswer: input.autoAnswer } : {}) });
      return this.agentDetail(tx, number);
    }));
  }

  /** Refused (409 agent-busy) unless the agent is logged out. */
  async deleteAgent(actor: Actor, number: string): Promise<void> {
    await this.changing(this.db.transaction().execute(async (tx) => {
      const agent = await lockedAgent(tx, number);
      if (agent.state !== 'logged-out') {
        throw new AppError('agent-busy', 409, `agent ${number} is ${agent.state}; log the agent out first (POST /api/v1/agents/${number}/state {"state":"logged-out"})`, {
          number,
          state: agent.state,
        });
      }
      await repo.deleteAgentRow(tx, agent.id);
      await audit(tx, actor, 'agent.delete', 'agent', agent.id, { number, name: agent.name });
    }));
  }

  /**
   * A supervisor moves an agent to ready, paused (with a reason) or logged-out, through the state
   * machine's 'force' event: a ringing offer is taken back, wrap-up cut short; a call in progress
   * is never cut (a pause or logout is parked until it ends). A logged-out agent has no phone, so
   * only logging out is accepted for it... which is refused too (already logged out).
   */
  async forceState(actor: Actor, number: string, input: ForceStateInput): Promise<AgentDetail> {
    const { state: to } = input;
    if (to === 'paused' && input.pauseCode === undefined) throw invalid('body.pauseCode', 'is required to pause an agent');
    if (to !== 'paused' && input.pauseCode !== undefined) throw invalid('body.pauseCode', `is only for "paused", not "${to}"`);
    let reason: PauseReasonRow | undefined;
    if (input.pauseCode !== undefined) {
      if (input.pauseCode === 0) throw invalid('body.pauseCode', 'code 0 (missed) is set by the system after missed offers; use a code from 1');
      reason = await callRepo.findPauseReason(this.db, input.pauseCode);
      if (!reason) throw invalid('body.pauseCode', `pause reason ${input.pauseCode} does not exist (GET /api/v1/pause-reasons)`);
    }
    const change = await this.changing(this.db.transaction().execute(async (tx) => {
      const agent = await lockedAgent(tx, number);
      if (agent.state === 'logged-out' && to !== 'logged-out') {
        throw badTransition(number, agent.state, to, 'a logged-out agent has no phone; agents log in themselves at a phone');
      }
      const event = to === 'paused' ? { type: 'force' as const, to, reason: { code: reason!.code, name: reason!.name }, by: actor.label } : { type: 'force' as const, to, by: actor.label };
      const applied = await callRepo.applyAgentEvent(tx, agent.id, event, { cause: 'supervisor', byActor: actor.label, at: this.now().getTime() });
      if (!applied) throw notFound('agent-not-found', 'agent', number);
      if (!applied.ok) {
        if (applied.step.code === 'invalid-reason') throw invalid('body.pauseCode', 'is not a usable pause reason');
        throw badTransition(number, agent.state, to, agent.state === 'on-call' ? 'a call in progress is never cut; nothing is parked to take back' : undefined);
      }
      const { record, state, effects } = applied.step;
      await audit(tx, actor, 'agent.state.force', 'agent', agent.id, {
        number, from: record.from, to: record.to, requested: to,
        ...(reason ? { pauseCode: reason.code } : {}),
        ...(record.cause.deferred ? { deferred: record.cause.deferred } : {}),
        ...(record.cause.cancelled ? { cancelled: record.cause.cancelled } : {}),
      });
      return { agentId: agent.id, number, record, state, effects } satisfies AgentChange;
    }));
    for (const listener of this.listeners) {
      try {
        listener(change);
      } catch {
        // A listener's failure must not fail the request that already committed.
      }
    }
    return this.agentDetail(this.db, number);
  }

  async agentLog(number: string, q: repo.StateLogQuery): Promise<Awaited<ReturnType<typeof repo.listAgentStateLog>>> {
    const agent = await callRepo.findAgentByNumber(this.db, number);
    if (!agent) throw notFound('agent-not-found', 'agent', number);
    if (q.from && q.to && q.from.getTime() > q.to.getTime()) throw invalid('querystring.from', 'must not be after "to"');
    return repo.listAgentStateLog(this.db, agent.id, q);
  }

  /** Every agent now; the rows and today's figures may be a read shared with other readers (AGENTS_LIVE_SHARED_MS), the seconds in state are counted now. */
  async agentsLive(): Promise<AgentLive[]> {
    const [agents, today] = await this.liveAgents.get();
    const now = this.now().getTime();
    return agents.map((a) => ({
      number: a.number,
      name: a.name,
      state: a.state,
      pauseCode: a.pause_code,
      pauseReason: a.pause_name,
      secondsInState: Math.max(0, Math.floor((now - a.state_since.getTime()) / 1000)),
      extension: a.extension,
      callId: a.call_id,
      callsHandledToday: today.get(a.id)?.calls ?? 0,
      talkSecondsToday: today.get(a.id)?.talkSeconds ?? 0,
    }));
  }

  private async agentDetail(db: DbOrTx, number: string): Promise<AgentDetail> {
    const agent = await callRepo.findAgentByNumber(db, number);
    if (!agent) throw notFound('agent-not-found', 'agent', number);
    const [skills, queues] = await Promise.all([callRepo.agentSkills(db, [agent.id]), repo.agentMemberships(db, [agent.id])]);
    return { agent, skills: skills.get(agent.id) ?? {}, queues: queues.get(agent.id) ?? [] };
  }

  // ================================================================ queues

  async listQueues(): Promise<QueueWithSurvey[]> {
    return repo.withSurveyFlow(this.db, await repo.listQueues(this.db));
  }

  async getQueue(name: string): Promise<QueueWithSurvey> {
    const q = await repo.findQueueByName(this.db, name);
    if (!q) throw notFound('queue-not-found', 'queue', name);
    return (await repo.withSurveyFlow(this.db, [q]))[0]!;
  }

  async createQueue(actor: Actor, input: CreateQueueInput): Promise<QueueWithSurvey> {
    const { name } = input;
    if (!QUEUE_NAME.test(name)) throw invalid('body.name', 'lower-case letters, digits and -, starting with a letter or digit, up to 64 characters');
    const settings = { ...QUEUE_DEFAULTS, ...definedOnly(input) };
    checkQueueFields(settings);
    return this.db
      .transaction()
      .execute(async (tx) => {
        if (await repo.findQueueByName(tx, name)) throw queueExists(name);
        await this.checkOverflow(tx, name, settings.overflow);
        const surveyFlow = input.surveyFlow ?? null;
        const row = await repo.insertQueue(tx, { name, ...queueColumns(settings), survey_flow_id: await surveyFlowId(tx, surveyFlow) });
        await audit(tx, actor, 'queue.create', 'queue', row.id, { name, ...settings, surveyFlow });
        return { ...row, survey_flow: surveyFlow };
      })
      .catch((err: unknown) => {
        if (pgCode(err) === UNIQUE_VIOLATION) throw queueExists(name);
        throw err;
      });
  }

  async updateQueue(actor: Actor, name: string, input: QueueInput): Promise<QueueWithSurvey> {
    return this.db.transaction().execute(async (tx) => {
      const old = await lockedQueue(tx, name);
      const given = definedOnly(input);
      const settings = { ...fieldsOf(old), ...given };
      checkQueueFields(settings);
      if (given.overflow !== undefined) await this.checkOverflow(tx, name, settings.overflow);
      const survey = input.surveyFlow === undefined ? {} : { survey_flow_id: await surveyFlowId(tx, input.surveyFlow) };
      const row = await repo.updateQueueRow(tx, old.id, { ...queueColumns(settings), ...survey });
      const surveyChange = input.surveyFlow === undefined ? {} : { surveyFlow: input.surveyFlow };
      await audit(tx, actor, 'queue.update', 'queue', old.id, { name, changed: [...Object.keys(given), ...Object.keys(surveyChange)], ...given, ...surveyChange });
      return (await repo.withSurveyFlow(tx, [row]))[0]!;
    });
  }

  /**
   * Refused (409 queue-in-use) while an inbound route, a published IVR flow or another queue's
   * overflow sends callers to it, or callers are in it (waiting, offered, connected, callbacks).
   */
  async deleteQueue(actor: Actor, name: string): Promise<void> {
    await this.db
      .transaction()
      .execute(async (tx) => {
        const q = await lockedQueue(tx, name);
        const users = await this.queueUsers(tx, q);
        if (users) throw users;
        await repo.deleteQueueRow(tx, q.id);
        await audit(tx, actor, 'queue.delete', 'queue', q.id, { name });
      })
      .catch(async (err: unknown) => {
        // A route or a caller written at the same moment: the foreign key refuses; say who.
        if (pgCode(err) === FOREIGN_KEY_VIOLATION) {
          const q = await repo.findQueueByName(this.db, name);
          throw (q && (await this.queueUsers(this.db, q))) || new AppError('queue-in-use', 409, `queue ${name} is in use`, { name });
        }
        throw err;
      });
  }

  private async queueUsers(db: DbOrTx, q: QueueRow): Promise<AppError | null> {
    const [inboundRoutes, flows, queues, callers] = await Promise.all([
      repo.inboundRoutesUsingQueue(db, q.id),
      this.flowsUsingQueue(db, q.name),
      repo.queuesOverflowingTo(db, { kind: 'queue', queue: q.name }, q.id),
      repo.callersInQueue(db, q.id),
    ]);
    const users = [
      ...(inboundRoutes.length ? [`inbound route(s) ${inboundRoutes.join(', ')}`] : []),
      ...(flows.length ? [`the published version of IVR flow(s) ${flows.join(', ')}`] : []),
      ...(queues.length ? [`the overflow of queue(s) ${queues.join(', ')}`] : []),
      ...(callers.calls ? [`${callers.calls} caller(s) in the queue`] : []),
      ...(callers.callbacks ? [`${callers.callbacks} pending callback(s)`] : []),
    ];
    if (users.length === 0) return null;
    return new AppError('queue-in-use', 409, `queue ${q.name} is used by ${users.join(' and ')}; point them elsewhere (or wait for the callers) first`, {
      name: q.name, inboundRoutes, flows, queues, waitingCalls: callers.calls, callbacks: callers.callbacks,
    });
  }

  /** The overflow target exists (a published flow, a mailbox that takes messages...) and no queue overflow chain loops. */
  private async checkOverflow(tx: DbOrTx, self: string, target: OverflowTarget | null): Promise<void> {
    if (target === null) return;
    switch (target.kind) {
      case 'queue': {
        if (target.queue === self) throw invalid('body.overflow.queue', `a queue cannot overflow to itself (${self})`);
        const chain = [self, target.queue];
        let next: string | null = target.queue;
        while (next !== null) {
          const q = await repo.findQueueByName(tx, next);
          if (!q) {
            if (next === target.queue) throw invalid('body.overflow.queue', `queue ${target.queue} does not exist`);
            break;
          }
          next = q.overflow?.kind === 'queue' ? q.overflow.queue : null;
          if (next === null) break;
          chain.push(next);
          if (next === self) throw invalid('body.overflow.queue', `the overflow would go round in a loop: ${chain.join(' -> ')}`);
          if (chain.length > 50) break;
        }
        return;
      }
      case 'flow': {
        const flow = await tx.selectFrom('flows').select(['name', 'published_version']).where('name', '=', target.flow).executeTakeFirst();
        if (!flow) throw invalid('body.overflow.flow', `flow ${target.flow} does not exist`);
        if (flow.published_version === null) throw invalid('body.overflow.flow', `flow ${target.flow} has no published version; publish it first`);
        return;
      }
      case 'voicemail': {
        const ext = await tx.selectFrom('extensions').select(['number', 'voicemail_enabled', 'voicemail_pin_hash']).where('number', '=', target.mailbox).executeTakeFirst();
        if (!ext) throw invalid('body.overflow.mailbox', `extension ${target.mailbox} does not exist`);
        if (!takesMessages(ext)) throw invalid('body.overflow.mailbox', `the mailbox of ${target.mailbox} does not take messages (voicemail off or no PIN)`);
        return;
      }
      case 'extension': {
        const ext = await tx.selectFrom('extensions').select('number').where('number', '=', target.number).executeTakeFirst();
        if (!ext) throw invalid('body.overflow.number', `extension ${target.number} does not exist`);
        return;
      }
    }
  }

  // ---------------------------------------------------------------- members

  async members(name: string): Promise<repo.QueueMemberView[]> {
    const q = await this.getQueue(name);
    return repo.queueMembers(this.db, q.id);
  }

  async setMember(actor: Actor, name: string, agentNumber: string, penalty: number): Promise<repo.QueueMemberView> {
    return this.db.transaction().execute(async (tx) => {
      const q = await lockedQueue(tx, name);
      const agent = await callRepo.findAgentByNumber(tx, agentNumber);
      if (!agent) throw invalid('body.agent', `agent ${agentNumber} does not exist`);
      const before = await repo.findQueueMember(tx, q.id, agent.id);
      await repo.setQueueMember(tx, q.id, agent.id, penalty);
      await audit(tx, actor, before ? 'queue.member.update' : 'queue.member.add', 'queue', q.id, { queue: name, agent: agentNumber, penalty, ...(before ? { previousPenalty: before.penalty } : {}) });
      return (await repo.queueMembers(tx, q.id)).find((m) => m.agent_id === agent.id)!;
    });
  }

  async removeMember(actor: Actor, name: string, agentNumber: string): Promise<void> {
    await this.db.transaction().execute(async (tx) => {
      const q = await lockedQueue(tx, name);
      const agent = await callRepo.findAgentByNumber(tx, agentNumber);
      if (!agent) throw notFound('agent-not-found', 'agent', agentNumber);
      if (!(await repo.removeQueueMember(tx, q.id, agent.id))) {
        throw new AppError('not-found', 404, `agent ${agentNumber} is not a member of queue ${name}`, { queue: name, agent: agentNumber });
      }
      await audit(tx, actor, 'queue.member.remove', 'queue', q.id, { queue: name, agent: agentNumber });
    });
  }

  // ---------------------------------------------------------------- live

  async queueLive(name: string): Promise<QueueLive> {
    const q = await this.getQueue(name);
    const [calls, members, log, callers] = await Promise.all([
      repo.listQueueCalls(this.db, q.id),
      repo.queueMembers(this.db, q.id),
      repo.queueCallsToday(this.db, q.id, this.timezone),
      repo.callersInQueue(this.db, q.id),
    ]);
    const now = this.now().getTime();
    const inLine = calls.filter((c) => c.state === 'waiting' || c.state === 'offered');
    // A caller whose agent's phone rings: the agent row (reserved for the call) says so.
    const ringing = await repo.agentsRinging(this.db, inLine.map((c) => c.call_id));
    const waiting = inLine.map((c) => {
      const agents = ringing.get(c.call_id) ?? [];
      return {
        callId: c.call_id,
        callerNumber: c.caller_number,
        callerName: c.caller_name,
        waitingSeconds: Math.max(0, Math.floor((now - c.enqueued_at.getTime()) / 1000)),
        priority: c.priority,
        state: agents.length > 0 ? ('ringing' as const) : ('waiting' as const),
        agents,
      };
    });
    const count = (s: AgentStatus) => members.filter((m) => m.state === s).length;
    return {
      queue: q.name,
      waiting,
      longestWaitSeconds: waiting.reduce((m, w) => Math.max(m, w.waitingSeconds), 0),
      callbacksWaiting: callers.callbacks,
      agents: {
        ready: count('ready'), reserved: count('reserved'), onCall: count('on-call'), wrapUp: count('wrap-up'), paused: count('paused'), loggedOut: count('logged-out'),
      },
      today: queueToday(calls.filter((c) => c.state !== 'callback').length, log, q.sl_seconds, q.sl_percent),
    };
  }

  // ================================================================ pause reasons

  async pauseReasons(): Promise<PauseReasonRow[]> {
    return repo.listPauseReasons(this.db);
  }

  async createPauseReason(actor: Actor, code: number, name: string): Promise<PauseReasonRow> {
    if (!Number.isInteger(code) || code < 1 || code > 99) throw invalid('body.code', 'must be 1 to 99 (0 is the system\'s "missed")');
    const nameProblem = displayNameProblem(name);
    if (nameProblem) throw invalid('body.name', nameProblem);
    return this.db
      .transaction()
      .execute(async (tx) => {
        await this.refuseTakenReason(tx, code, name);
        const row = await repo.insertPauseReason(tx, code, name);
        await audit(tx, actor, 'pause-reason.create', 'pause_reason', String(code), { code, name });
        return row;
      })
      .catch(async (err: unknown) => {
        if (pgCode(err) === UNIQUE_VIOLATION) {
          await this.refuseTakenReason(this.db, code, name);
          throw new AppError('pause-reason-exists', 409, `pause reason ${code} or ${name} already exists`, { code, name });
        }
        throw err;
      });
  }

  private async refuseTakenReason(db: DbOrTx, code: number, name: string): Promise<void> {
    const all = await repo.listPauseReasons(db);
    const byCode = all.find((r) => r.code === code);
    if (byCode) throw new AppError('pause-reason-exists', 409, `pause reason code ${code} is taken (${byCode.name})`, { field: 'body.code', code });
    const byName = all.find((r) => r.name === name);
    if (byName) throw new AppError('pause-reason-exists', 409, `a pause reason named ${name} exists (code ${byName.code})`, { field: 'body.name', code: byName.code });
  }

  /** Refused for the system's own reasons and while an agent is paused with it (409 pause-reason-in-use). */
  async deletePauseReason(actor: Actor, code: number): Promise<void> {
    await this.db
      .transaction()
      .execute(async (tx) => {
        const reason = await tx.selectFrom('pause_reasons').selectAll().where('code', '=', code).forUpdate().executeTakeFirst();
        if (!reason) throw notFound('pause-reason-not-found', 'pause reason', code);
        if (reason.system) throw new AppError('pause-reason-in-use', 409, `pause reason ${code} (${reason.name}) is built in: the system pauses agents with it`, { code, system: true });
        const agents = await repo.agentsUsingPauseReason(tx, code);
        if (agents.length) throw reasonInUse(reason, agents);
        await repo.deletePauseReason(tx, code);
        await audit(tx, actor, 'pause-reason.delete', 'pause_reason', String(code), { code, name: reason.name });
      })
      .catch(async (err: unknown) => {
        if (pgCode(err) === FOREIGN_KEY_VIOLATION) {
          const reason = await callRepo.findPauseReason(this.db, code);
          throw reasonInUse(reason ?? { code, name: String(code), system: false }, await repo.agentsUsingPauseReason(this.db, code));
        }
        throw err;
      });
  }
}

// ------------------------------------------------------------------ checks

function checkAgentName(name: string): void {
  const p = displayNameProblem(name);
  if (p) throw invalid('body.name', p);
}

function checkPin(pin: string): void {
  if (!/^[0-9]{4,8}$/.test(pin)) throw invalid('body.pin', 'must be 4 to 8 digits');
  const p = pinProblem(pin);
  if (p) throw invalid('body.pin', p);
}

/** The id of a queue's survey flow: it must exist and have a published version (400 naming body.surveyFlow). */
async function surveyFlowId(tx: DbOrTx, name: string | null): Promise<string | null> {
  if (name === null) return null;
  const flow = await tx.selectFrom('flows').select(['id', 'published_version']).where('name', '=', name).executeTakeFirst();
  if (!flow) throw invalid('body.surveyFlow', `flow ${name} does not exist`);
  if (flow.published_version === null) throw invalid('body.surveyFlow', `flow ${name} has no published version; publish it first`);
  return flow.id;
}

function checkSkills(skills: Readonly<Record<string, number>>): Record<string, number> {
  const entries = Object.entries(skills);
  if (entries.length > MAX_SKILLS) throw invalid('body.skills', `at most ${MAX_SKILLS} skills`);
  for (const [skill, level] of entries) {
    if (!SKILL_NAME.test(skill)) throw invalid(`body.skills.${skill}`, 'a skill name is a lower-case letter, then lower-case letters, digits, _ or -, up to 40 characters');
    if (!Number.isInteger(level) || level < 1 || level > 5) throw invalid(`body.skills.${skill}`, 'the level must be 1 to 5');
  }
  return Object.fromEntries(entries);
}

type Settings = Required<{ [K in keyof QueueFields]: Exclude<QueueFields[K], undefined> }>;

const QUEUE_DEFAULTS: Settings = {
  strategy: 'longest-idle',
  ringTimeoutSeconds: 15,
  wrapUpSeconds: 10,
  maxWaitSeconds: null,
  maxLength: null,
  overflow: null,
  joinEmpty: false,
  leaveWhenEmpty: true,
  slSeconds: 20,
  slPercent: 80,
  shortAbandonSeconds: 5,
  slExcludeShortAbandons: true,
  slCountAbandons: true,
  fcrWindowHours: 24,
  announceSeconds: 30,
  missedOffersPause: 3,
  requiredSkills: [],
  widening: [],
  callbackAfterSeconds: null,
  callbackRetries: 2,
  musicClass: 'default',
  recordingRetentionDays: null,
  recordingPolicy: null,
  recordingSamplePercent: null,
  recordingAnnouncement: null,
  callerIdTemplate: null,
  alertInfo: null,
};

function definedOnly(input: QueueFields): Partial<Settings> {
  const out: Record<string, unknown> = {};
  for (const k of Object.keys(QUEUE_DEFAULTS)) {
    const v = (input as Record<string, unknown>)[k];
    if (v !== undefined) out[k] = v;
  }
  return out as Partial<Settings>;
}

function fieldsOf(q: QueueRow): Settings {
  const s: Readonly<Record<string, unknown>> = { ...callRepo.queueSettingsOf(q) };
  const out: Record<string, unknown> = {};
  for (const k of Object.keys(QUEUE_DEFAULTS)) out[k] = s[k];
  return out as Settings;
}

function queueColumns(s: Settings): Omit<NewQueue, 'name'> {
  return {
    strategy: s.strategy,
    ring_timeout_seconds: s.ringTimeoutSeconds,
    wrap_up_seconds: s.wrapUpSeconds,
    max_wait_seconds: s.maxWaitSeconds,
    max_length: s.maxLength,
    overflow: s.overflow === null ? null : JSON.stringify(s.overflow),
    join_empty: s.joinEmpty,
    leave_when_empty: s.leaveWhenEmpty,
    sl_seconds: s.slSeconds,
    sl_percent: s.slPercent,
    report_short_abandon_seconds: s.shortAbandonSeconds,
    report_sl_exclude_short: s.slExcludeShortAbandons,
    report_sl_count_abandons: s.slCountAbandons,
    report_fcr_hours: s.fcrWindowHours,
    announce_seconds: s.announceSeconds,
    missed_offers_pause: s.missedOffersPause,
    required_skills: JSON.stringify(s.requiredSkills),
    widening: JSON.stringify(s.widening),
    callback_after_seconds: s.callbackAfterSeconds,
    callback_retries: s.callbackRetries,
    music_class: s.musicClass,
    recording_retention_days: s.recordingRetentionDays,
    recording_policy: s.recordingPolicy,
    recording_sample_percent: s.recordingSamplePercent,
    recording_announcement: s.recordingAnnouncement === null ? null : JSON.stringify(s.recordingAnnouncement),
    caller_id_template: s.callerIdTemplate,
    alert_info: s.alertInfo,
  };
}

const range = (field: string, v: number | null, min: number, max: number, what = ''): void => {
  if (v === null) return;
  if (!Number.isInteger(v) || v < min || v > max) throw invalid(field, `must be a whole number from ${min} to ${max}${what}`);
};

/** The settings as a whole (after a PATCH is merged in): ranges, then what only makes sense together. */
export function checkQueueFields(s: Settings): void {
  range('body.ringTimeoutSeconds', s.ringTimeoutSeconds, 5, 120);
  range('body.wrapUpSeconds', s.wrapUpSeconds, 0, 600);
  range('body.maxWaitSeconds', s.maxWaitSeconds, 10, 7200, ' (or null: no limit)');
  range('body.maxLength', s.maxLength, 1, 1000, ' (or null: no limit)');
  range('body.slSeconds', s.slSeconds, 1, 3600);
  range('body.slPercent', s.slPercent, 1, 100);
  range('body.shortAbandonSeconds', s.shortAbandonSeconds, 0, 600);
  range('body.fcrWindowHours', s.fcrWindowHours, 1, 720);
  if (s.announceSeconds !== 0) range('body.announceSeconds', s.announceSeconds, 10, 600, ' (or 0: no position announcements)');
  range('body.missedOffersPause', s.missedOffersPause, 1, 10);
  range('body.callbackAfterSeconds', s.callbackAfterSeconds, 10, 7200, ' (or null: no callback offer)');
  range('body.callbackRetries', s.callbackRetries, 0, 5);
  range('body.recordingRetentionDays', s.recordingRetentionDays, 1, 36500, ' (or null: the site default)');
  range('body.recordingSamplePercent', s.recordingSamplePercent, 1, 100, ' (or null: every call)');
  if (s.recordingPolicy !== null && !['always', 'never', 'on-demand'].includes(s.recordingPolicy)) throw invalid('body.recordingPolicy', 'always, never, on-demand or null');
  checkScreenPop(s);
  if (!/^[A-Za-z0-9_-]{1,40}$/.test(s.musicClass)) throw invalid('body.musicClass', 'letters, digits, _ and -, up to 40 (an Asterisk music on hold class)');
  if (s.callbackAfterSeconds !== null && s.maxWaitSeconds !== null && s.callbackAfterSeconds >= s.maxWaitSeconds) {
    throw invalid('body.callbackAfterSeconds', `must be less than maxWaitSeconds (${s.maxWaitSeconds}): callers would leave the queue before the callback offer`);
  }
  if (s.slSeconds > 0 && s.maxWaitSeconds !== null && s.slSeconds > s.maxWaitSeconds) {
    throw invalid('body.slSeconds', `must not be more than maxWaitSeconds (${s.maxWaitSeconds})`);
  }
  if (s.requiredSkills.length > 20) throw invalid('body.requiredSkills', 'at most 20 skills');
  const seen = new Set<string>();
  s.requiredSkills.forEach((r, i) => {
    if (!SKILL_NAME.test(r.skill)) throw invalid(`body.requiredSkills.${i}.skill`, 'a skill name is a lower-case letter, then lower-case letters, digits, _ or -, up to 40 characters');
    if (seen.has(r.skill)) throw invalid(`body.requiredSkills.${i}.skill`, `${r.skill} is listed twice`);
    seen.add(r.skill);
    range(`body.requiredSkills.${i}.minLevel`, r.minLevel, 1, 5);
  });
  if (s.widening.length > 10) throw invalid('body.widening', 'at most 10 steps');
  let prevAfter = 0;
  let prevDrop = 0;
  s.widening.forEach((w, i) => {
    range(`body.widening.${i}.afterSeconds`, w.afterSeconds, 1, 7200);
    if (i > 0 && w.afterSeconds <= prevAfter) throw invalid(`body.widening.${i}.afterSeconds`, `must be later than the step before (${prevAfter} s)`);
    const drop = w.lowerBy === 'any' ? Infinity : w.lowerBy;
    if (w.lowerBy !== 'any') range(`body.widening.${i}.lowerBy`, w.lowerBy, 1, 4, ' or "any"');
    if (drop <= prevDrop) {
      throw invalid(`body.widening.${i}.lowerBy`, `must widen more than the step before (lowerBy ${prevDrop === Infinity ? '"any"' : prevDrop}): the accepted levels must keep decreasing`);
    }
    prevAfter = w.afterSeconds;
    prevDrop = drop;
  });
}

/** The handset's caller-ID name template and Alert-Info (docs/acd.md#screen-pop-on-the-handset). */
function checkScreenPop(s: Pick<Settings, 'callerIdTemplate' | 'alertInfo'>): void {
  if (s.callerIdTemplate !== null) {
    const t = parseCallerIdTemplate(s.callerIdTemplate);
    if ('problem' in t) throw invalid('body.callerIdTemplate', t.problem);
  }
  const alert = s.alertInfo === null ? null : alertInfoProblem(s.alertInfo);
  if (alert) throw invalid('body.alertInfo', alert);
}

// ------------------------------------------------------------------ helpers

async function lockedAgent(tx: DbOrTx, number: string): Promise<callRepo.AgentView> {
  const agent = await repo.lockAgentByNumber(tx, number);
  if (!agent) throw notFound('agent-not-found', 'agent', number);
  return agent;
}

async function lockedQueue(tx: DbOrTx, name: string): Promise<QueueRow> {
  const q = await repo.lockQueue(tx, name);
  if (!q) throw notFound('queue-not-found', 'queue', name);
  return q;
}

const agentExists = (number: string): AppError => new AppError('agent-exists', 409, `an agent with number ${number} already exists`, { field: 'body.number', number });
const queueExists = (name: string): AppError => new AppError('queue-exists', 409, `a queue named ${name} already exists`, { field: 'body.name', name });

function badTransition(number: string, from: AgentStatus, to: string, why?: string): AppError {
  return new AppError('invalid-agent-transition', 409, `agent ${number} cannot be moved from ${from} to ${to}${why ? `: ${why}` : ''}`, { number, from, to });
}

function reasonInUse(reason: Pick<PauseReasonRow, 'code' | 'name'>, agents: string[]): AppError {
  return new AppError('pause-reason-in-use', 409, `pause reason ${reason.code} (${reason.name}) is in use by agent(s) ${agents.join(', ')}`, { code: reason.code, agents });
}

async function audit(tx: DbOrTx, actor: Actor, action: string, entity: string, entityId: string, details: Record<string, unknown>): Promise<void> {
  await recordAudit(tx, actor, { action, entity, entityId, details });
}

/**
 * A queue's figures for today (docs/acd.md#queues): each caller who joined counts once in
 * `offered`, when they join (`inQueue`: the callers in the queue now), and once more in the one
 * way they left it (the call log: answered, abandoned, overflow, timeout, callback). A callback's
 * call (an agent takes it, then the customer is dialed) is not offered again: it counts in
 * `callbacksAnswered` (and in the agent's calls handled), not in `answered` or the service level.
 */
export function queueToday(inQueue: number, log: readonly Pick<QueueCallLogRow, 'call_id' | 'outcome' | 'wait_seconds'>[], slSeconds: number, slPercent: number): QueueLive['today'] {
  const callers = log.filter((l) => !isCallbackId(l.call_id));
  const sl = serviceLevel(callers.map((l) => ({ answered: l.outcome === 'answered', waitedSeconds: l.wait_seconds })), slSeconds);
  return {
    offered: inQueue + callers.length,
    answered: callers.filter((l) => l.outcome === 'answered').length,
    abandoned: callers.filter((l) => l.outcome === 'abandoned').length,
    answeredWithinSl: sl.answeredWithinTarget,
    serviceLevelPercent: sl.ratio === null ? null : Math.round(sl.ratio * 1000) / 10,
    slSeconds,
    slPercentTarget: slPercent,
    callbacksRequested: callers.filter((l) => l.outcome === 'callback').length,
    callbacksAnswered: log.filter((l) => isCallbackId(l.call_id) && l.outcome === 'answered').length,
  };
}
