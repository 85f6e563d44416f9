/**
 * The ACD engine's store over PostgreSQL (repository.ts): agents and queues as the engine and the
 * router read them, agent events applied atomically (so two daemons never offer one agent two
 * calls), logins with PIN lockout, and the waiting-call bookkeeping.
 *
 * The routing view is kept warm in memory (routing-cache.ts), so a caller joining a queue and a
 * routing decision read nothing from Postgres:
 *   - an agent event is written in one statement guarded by the row's version as held here
 *     (repository.applyAgentEventAt); when another daemon or the API changed the agent meanwhile,
 *     the write misses and the event goes through the row lock instead (applyAgentEvent), which
 *     reads the row as it is. Either way the written row is taken into the cache.
 *   - changes made elsewhere arrive by LISTEN pbx_acd (triggers on agents, queues, members,
 *     skills, pause reasons: migrations/2026-11-25T00-00-00_acd_versions.ts); the agent or the
 *     whole view is reloaded, then onChange listeners run (the engine decides again).
 *   - today's figures of the calls this daemon handles (calls answered, talk time) are added in
 *     memory as their rows are written (RoutingCache.addToday), not read again;
 *   - a full reload every REFRESH_MS besides (today's figures of calls handled by other daemons;
 *     anything a lost notification missed), and after the LISTEN connection comes back.
 *
 * Postgres unreachable (docs/queue-events.md#postgres-down): the writes that record what happened
 * to a call or an agent wait in memory and are written, in order per call and per agent, once it
 * answers (src/shared/waiting-writes.ts); nothing of a call this daemon handles through an outage
 * is lost. They are:
 *   - the agent events of a call this daemon holds the agent for (answer, reject, ring-timeout,
 *     call-ended, wrap-up-done): the step is taken over the row held in memory (the agent is
 *     reserved for, on or wrapping up this daemon's call, so no other daemon moves them) and the
 *     view keeps that row until the event is written; the event is written again through the row
 *     lock (applyAgentEvent) with its own time, so its state log row and queue events are those
 *     of the moment it happened. An event already written (its answer lost with the connection) is
 *     refused the second time by the state machine: never two rows.
 *   - a caller joining or leaving the queue, an answered call's talk time, a callback's saves
 *     (each idempotent: the join and the callback look at the stored row, the leave at the call's
 *     log row, the talk time is set once).
 * An event that claims or moves an agent for its own sake (an offer, login, logout, pause, a
 * supervisor's force) is not taken in memory: it fails as Postgres does (the phone or the API says
 * so), also while earlier events of that agent still wait.
 */
import type { Config } from '../config.js';
import type { Db } from '../db/database.js';
import { PgListener } from '../db/listener.js';
import type { Logger } from '../logger.js';
import type { BackoffPolicy } from '../shared/backoff.js';
import { isPgUnreachable, markPgUnreachable } from '../shared/pg-errors.js';
import { WaitingWrites, type WaitingTexts } from '../shared/waiting-writes.js';
import type { AgentEvent, AgentEventType, AgentStep, PauseReason } from './agent-state.js';
import type { AcdStore, AgentRecord, ApplyExtra, LoginCheck, QueueCall, QueueSettings } from './engine.js';
import * as repo from './call-repository.js';
import { RoutingCache } from './routing-cache.js';
import { callerCallIdOf } from './callback-id.js';

const REFRESH_MS = 3_000;
export const ACD_CHANNEL = 'pbx_acd';

/** Agent events about a call this daemon holds the agent for: taken in memory while Postgres is unreachable. */
const CALL_EVENTS: ReadonlySet<AgentEventType> = new Set(['answer', 'reject', 'ring-timeout', 'call-ended', 'wrap-up-done']);

/** A write of the ACD that may wait for Postgres (see the header). */
export type AcdWrite =
  | { readonly kind: 'agent-event'; readonly agentId: string; readonly event: AgentEvent; readonly options: repo.ApplyOptions & { readonly at: number } }
  | { readonly kind: 'call-joined'; readonly call: QueueCall }
  | { readonly kind: 'call-left'; readonly left: repo.QueueCallLogInput; readonly agentId: string | null }
  | { readonly kind: 'talk-ended'; readonly callId: string; readonly agentId: string; readonly at: Date }
  | { readonly kind: 'callback-saved'; readonly callback: repo.CallbackInput };

/** Order is kept per agent, and per call (a callback's writes with its caller's call). */
export function acdWriteKey(w: AcdWrite): string {
  switch (w.kind) {
    case 'agent-event':
      return `agent:${w.agentId}`;
    case 'call-joined':
      return `call:${callerCallIdOf(w.call.callId)}`;
    case 'call-left':
      return `call:${callerCallIdOf(w.left.callId)}`;
    case 'talk-ended':
      return `call:${callerCallIdOf(w.callId)}`;
    case 'callback-saved':
      return `call:${w.callback.callerCallId}`;
  }
}

export const ACD_WAITING_TEXTS: WaitingTexts = {
  waiting: 'ACD writes wait in memory: Postgres unreachable',
  back: 'ACD writes that waited for Postgres are written',
  dropped: 'ACD writes dropped: too many waiting for Postgres',
  skipped: 'ACD write that waited for Postgres not written',
  atStop: 'ACD writes still waiting for Postgres at stop: lost',
};

export class PgAcdStore implements AcdStore {
  private readonly cache = new RoutingCache();
  private fullLoad: Promise<void> | null = null;
  private fullLoadAgain = false;
  private readonly agentsToLoad = new Set<string>();
  private agentLoad: Promise<void> | null = null;
  private readonly listeners: (() => void)[] = [];
  /** Agent events being written by this store, by agent id. */
  private readonly writing = new Map<string, Promise<AgentStep>>();
  private readonly listener: PgListener | null;
  private timer: NodeJS.Timeout | null = null;
  /** Writes waiting for Postgres (unreachable), in order per agent and per call. */
  private readonly waiting: WaitingWrites<AcdWrite>;

  constructor(
    private readonly db: Db,
    private readonly opts: {
      readonly timezone: string;
      readonly log: Logger;
      /** Where to LISTEN for changes made by other daemons and the API (none: reloads only). */
      readonly listen?: { readonly db: Config['db']; readonly backoff: BackoffPolicy };
    },
  ) {
    this.listener = opts.listen
      ? new PgListener(opts.listen.db, ACD_CHANNEL, opts.listen.backoff, {
          onNotification: (payload) => this.notified(payload),
          onConnected: () => {
            this.reloadAll().then(() => this.changed(), () => undefined); // a failure is logged by reloadAll
          },
        }, opts.log)
      : null;
    this.waiting = new WaitingWrites<AcdWrite>({
      write: (w) => this.writeLater(w),
      retryable: isPgUnreachable,
      log: opts.log,
      texts: ACD_WAITING_TEXTS,
      keyOf: acdWriteKey,
      describe: describeWrite,
      settled: (w) => {
        if (w.kind !== 'agent-event' || this.waiting.waits(acdWriteKey(w))) return;
        // Its last waiting event is written (or given up): the view takes the agent's row as stored.
        this.cache.settle(w.agentId);
        this.reloadAgent(w.agentId).catch(() => undefined); // a failure is logged by reloadAgent
      },
    });
  }

  /** Writes waiting for Postgres now, and those dropped since start because too many waited (metrics). */
  get waitingWrites(): { readonly waiting: number; readonly dropped: number } {
    return this.waiting.stats;
  }

  start(): void {
    this.waiting.start();
    this.listener?.start();
    this.timer ??= setInterval(() => {
      this.reloadAll().catch(() => undefined); // a failure is logged by reloadAll
    }, REFRESH_MS);
    this.timer.unref();
  }

  async stop(): Promise<void> {
    this.waiting.stop();
    if (this.timer) clearInterval(this.timer);
    this.timer = null;
    await this.listener?.stop();
  }

  /** Run `fn` when agents or queues changed elsewhere (another daemon, the API). */
  onChange(fn: () => void): void {
    this.listeners.push(fn);
  }

  private changed(): void {
    for (const fn of this.listeners) fn();
  }

  /** 'agent:<id>:<version>' or 'config:<table>' (the triggers' payloads). */
  private notified(payload: string): void {
    const agent = /^agent:([0-9]{1,18}):(-?[0-9]{1,19})$/.exec(payload);
    if (agent) {
      const version = BigInt(agent[2]!);
      // The notice of our own write can come before the write's answer: look once that is in.
      const writing = this.writing.get(agent[1]!);
      if (writing) {
        writing.then(() => this.notified(payload), () => this.notified(payload));
        return;
      }
      if (version >= 0n && !this.cache.isBehind(agent[1]!, version)) return; // our own write, already taken in
      this.reloadAgent(agent[1]!).then(() => this.changed(), () => undefined); // a failure is logged by reloadAgent
      return;
    }
    if (payload.startsWith('config:')) this.reloadAll().then(() => this.changed(), () => undefined); // a failure is logged by reloadAll
  }

  /** Load everything again (one load at a time; a request during a load runs one more after it). */
  private reloadAll(): Promise<void> {
    if (this.fullLoad) {
      this.fullLoadAgain = true;
      return this.fullLoad;
    }
    const run = async (): Promise<void> => {
      do {
        this.fullLoadAgain = false;
        const [agents, queues] = await Promise.all([
          repo.loadSnapshotAgents(this.db, { timezone: this.opts.timezone, includeLoggedOut: true }),
          repo.loadQueueSettings(this.db),
        ]);
        this.cache.takeAll(agents, queues);
      } while (this.fullLoadAgain);
    };
    this.fullLoad = run().finally(() => (this.fullLoad = null));
    this.fullLoad.catch((err: Error) => this.opts.log.warn({ err: err.message }, 'ACD routing view not reloaded'));
    return this.fullLoad;
  }

  /** Load these agents again (their row, memberships, skills, today's figures), batched. */
  private reloadAgent(id: string): Promise<void> {
    this.agentsToLoad.add(id);
    this.agentLoad ??= (async () => {
      try {
        while (this.agentsToLoad.size > 0) {
          const ids = [...this.agentsToLoad];
          this.agentsToLoad.clear();
          this.cache.takeAgents(ids, await repo.loadSnapshotAgents(this.db, { timezone: this.opts.timezone, includeLoggedOut: true, ids }));
        }
      } finally {
        this.agentLoad = null;
      }
    })();
    this.agentLoad.catch((err: Error) => this.opts.log.warn({ err: err.message }, 'ACD agent not reloaded'));
    return this.agentLoad;
  }

  private async current(): Promise<RoutingCache> {
    if (!this.cache.loaded) await this.reloadAll();
    return this.cache;
  }

  async queues(): Promise<QueueSettings[]> {
    return (await this.current()).queues();
  }

  async agents(): Promise<AgentRecord[]> {
    return (await this.current()).agents();
  }

  async apply(agentId: string, event: AgentEvent, extra?: ApplyExtra): Promise<AgentStep> {
    const fields = extra?.extension !== undefined ? { extension: extra.extension } : undefined;
    const options = { ...(fields ? { fields } : {}), byActor: extra?.actor ?? null, ...(extra?.queueCall ? { queueCall: extra.queueCall } : {}), at: Date.now() };
    const w: AcdWrite = { kind: 'agent-event', agentId, event, options };
    const write = this.waiting.submit(w, () => this.applyNow(agentId, event, options), () => this.applyInMemory(agentId, event, options));
    this.writing.set(agentId, write);
    try {
      return await write;
    } finally {
      if (this.writing.get(agentId) === write) this.writing.delete(agentId);
    }
  }

  /**
   * Postgres unreachable, or earlier events of this agent wait for it: an event about the call
   * this daemon holds the agent for is taken over the row held (and written later); any other
   * fails as Postgres does.
   */
  private applyInMemory(agentId: string, event: AgentEvent, options: repo.ApplyOptions): { result: AgentStep; wait: boolean } {
    const held = this.cache.agent(agentId);
    if (!held || !CALL_EVENTS.has(event.type) || !held.agentState.call) {
      throw markPgUnreachable(new Error(`agent ${agentId}: ${event.type} not stored: Postgres unreachable${this.waiting.waits(`agent:${agentId}`) ? ' (earlier changes of the agent wait for it)' : ''}`));
    }
    const applied = repo.agentEventInMemory(held.row, event, options);
    if (!applied.ok) return { result: applied.step, wait: false };
    this.cache.takeAhead(applied.agent);
    return { result: applied.step, wait: true };
  }

  /** A write that waited for Postgres (see the header: each can be written twice without a second row). */
  private async writeLater(w: AcdWrite): Promise<void> {
    switch (w.kind) {
      case 'agent-event': {
        const applied = await repo.applyAgentEvent(this.db, w.agentId, w.event, w.options);
        if (!applied?.ok) this.opts.log.info({ agentId: w.agentId, event: w.event.type, code: applied?.step.code ?? 'no-agent' }, 'agent event that waited for Postgres refused: written already, or the agent moved on');
        return;
      }
      case 'call-joined':
        return this.callJoinedNow(w.call);
      case 'call-left':
        await repo.queueCallLeft(this.db, w.left, { once: true });
        if (w.agentId) this.reloadAgent(w.agentId).catch(() => undefined); // a failure is logged by reloadAgent
        return;
      case 'talk-ended':
        return this.talkEndedNow(w.callId, w.agentId, w.at);
      case 'callback-saved':
        return repo.saveCallback(this.db, w.callback);
    }
  }

  private async applyNow(agentId: string, event: AgentEvent, options: repo.ApplyOptions): Promise<AgentStep> {
    const fields = options.fields;
    const held = this.cache.agent(agentId);
    if (held) {
      const fast = await repo.applyAgentEventAt(this.db, held.row, event, options);
      if (fast !== 'stale') {
        this.cache.takeRow(fast.agent);
        return fast.step;
      }
    }
    const applied = await repo.applyAgentEvent(this.db, agentId, event, options);
    if (!applied) return { ok: false, code: 'invalid-event', from: 'logged-out', event: event.type };
    this.cache.takeRow(applied.agent); // read under the lock: as it is now, accepted or not
    if (!applied.ok) {
      // Logging in again at another phone while logged in: the agent moves to that phone.
      if (event.type === 'login' && fields && applied.agent.state !== 'logged-out') await repo.updateAgentRow(this.db, agentId, fields);
      return applied.step;
    }
    return applied.step;
  }

  async checkLogin(number: string, pin: string): Promise<LoginCheck> {
    const check = await repo.checkAgentPin(this.db, number, pin);
    if (check.ok) return { outcome: 'ok', agentId: check.agent.id };
    if (check.reason === 'locked') this.opts.log.warn({ agent: number }, 'agent login refused: locked after repeated wrong PINs');
    return { outcome: check.reason === 'locked' ? 'locked' : 'wrong' };
  }

  async agentAtExtension(extension: string): Promise<string | null> {
    const agent = await repo.findAgentByExtension(this.db, extension);
    return agent && agent.state !== 'logged-out' ? agent.id : null;
  }

  async pauseReason(code: number): Promise<PauseReason | null> {
    const r = await repo.findPauseReason(this.db, code);
    return r && !r.system ? { code: r.code, name: r.name } : null;
  }

  /** Written now, or once Postgres answers (in order with the call's other writes). */
  private submitCallWrite(w: AcdWrite, now: () => Promise<void>): Promise<void> {
    return this.waiting.submit(w, now, () => ({ result: undefined, wait: true }));
  }

  async callJoined(call: QueueCall): Promise<void> {
    await this.submitCallWrite({ kind: 'call-joined', call }, () => this.callJoinedNow(call));
  }

  private async callJoinedNow(call: QueueCall): Promise<void> {
    const enqueuedAt = new Date(call.enqueuedAt);
    await repo.queueCallJoined(this.db, {
      callId: call.callId,
      queueId: call.queueId,
      channelId: call.channelId,
      callerNumber: call.callerNumber,
      callerName: call.callerName,
      priority: call.priority,
      skills: call.requiredSkills,
      enqueuedAt,
      state: 'waiting',
    });
  }

  async callLeft(call: QueueCall, outcome: 'answered' | 'abandoned' | 'overflow' | 'timeout', at: Date, agentId: string | null, details?: Record<string, unknown>): Promise<void> {
    const left: repo.QueueCallLogInput = {
      queueId: call.queueId,
      callId: call.callId,
      enqueuedAt: new Date(call.enqueuedAt),
      answeredAt: outcome === 'answered' ? at : null,
      endedAt: at,
      outcome,
      agentId,
      ...(details ? { details } : {}),
    };
    await this.submitCallWrite({ kind: 'call-left', left, agentId }, async () => {
      await repo.queueCallLeft(this.db, left);
      if (agentId && outcome === 'answered') this.cache.addToday(agentId, { calls: 1 }); // calls handled today (the row just written)
    });
  }

  async talkEnded(callId: string, agentId: string, at: Date): Promise<void> {
    await this.submitCallWrite({ kind: 'talk-ended', callId, agentId, at }, () => this.talkEndedNow(callId, agentId, at));
  }

  private async talkEndedNow(callId: string, agentId: string, at: Date): Promise<void> {
    const seconds = await repo.recordTalkTime(this.db, callId, at);
    if (seconds !== null) this.cache.addToday(agentId, { talkSeconds: seconds }); // talk time today (the row just written)
  }

  async queuedSince(callId: string): Promise<number | null> {
    const row = await this.db.selectFrom('queue_calls').select('enqueued_at').where('call_id', '=', callId).executeTakeFirst();
    return row ? row.enqueued_at.getTime() : null;
  }

  async pendingCallbacks(): Promise<{ call: QueueCall; customer: string; attempts: number; state: 'waiting' | 'dialing' }[]> {
    const rows = await this.db.selectFrom('callbacks').selectAll().where('state', 'in', ['waiting', 'dialing']).orderBy('enqueued_at').execute();
    return rows.map((r) => ({ ...callbackOf(r), state: r.state === 'dialing' ? ('dialing' as const) : ('waiting' as const) }));
  }

  async callback(id: string): Promise<{ call: QueueCall; customer: string; attempts: number } | null> {
    const r = await this.db.selectFrom('callbacks').selectAll().where('call_id', '=', id).executeTakeFirst();
    return r ? callbackOf(r) : null;
  }

  async agentsOnEndedCalls(minAgeMs: number): Promise<{ agentId: string; callId: string; state: 'on-call' | 'reserved' }[]> {
    return repo.agentsOnEndedCalls(this.db, minAgeMs);
  }

  /** The callback's row; its first save is the caller leaving the queue, done / failed its end (repo.saveCallback: one transaction). */
  async callbackSaved(cb: Parameters<AcdStore['callbackSaved']>[0]): Promise<void> {
    const callback: repo.CallbackInput = {
      id: cb.id,
      queueId: cb.call.queueId,
      callerCallId: callerCallIdOf(cb.call.callId),
      callerNumber: cb.call.callerNumber ?? '',
      enqueuedAt: new Date(cb.call.enqueuedAt),
      state: cb.state,
      attempts: cb.attempts,
      result: cb.result,
      at: new Date(),
    };
    await this.submitCallWrite({ kind: 'callback-saved', callback }, () => repo.saveCallback(this.db, callback));
  }

  async recentHandleSeconds(queueId: string): Promise<number[]> {
    return repo.recentHandleSeconds(this.db, queueId);
  }
}

/** A callbacks row as the engine takes it: the call (id = the callback id), number, attempts. */
function callbackOf(r: { call_id: string; queue_id: string; caller_number: string; attempts: number; enqueued_at: Date }): { call: QueueCall; customer: string; attempts: number } {
  return {
    customer: r.caller_number,
    attempts: r.attempts,
    call: { callId: r.call_id, queueId: r.queue_id, channelId: '', callerNumber: r.caller_number, callerName: null, priority: 0, requiredSkills: null, enqueuedAt: r.enqueued_at.getTime() },
  };
}

/** Log fields naming one waiting write. */
function describeWrite(w: AcdWrite): Record<string, unknown> {
  switch (w.kind) {
    case 'agent-event':
      return { write: w.kind, agentId: w.agentId, event: w.event.type };
    case 'call-joined':
      return { write: w.kind, callId: w.call.callId };
    case 'call-left':
      return { write: w.kind, callId: w.left.callId, outcome: w.left.outcome };
    case 'talk-ended':
      return { write: w.kind, callId: w.callId };
    case 'callback-saved':
      return { write: w.kind, callId: w.callback.id, state: w.callback.state };
  }
}
