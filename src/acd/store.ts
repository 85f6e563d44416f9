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
 *   - a full reload every REFRESH_MS besides (today's figures of calls handled by other daemons;
 *     anything a lost notification missed), and after the LISTEN connection comes back.
 */
import type { Config } from '../config.js';
import type { Db } from '../db/database.js';
import { PgListener } from '../db/listener.js';
import type { Logger } from '../logger.js';
import type { BackoffPolicy } from '../shared/backoff.js';
import type { AgentEvent, AgentStep, PauseReason } from './agent-state.js';
import type { AcdStore, AgentRecord, ApplyExtra, LoginCheck, QueueCall, QueueSettings } from './engine.js';
import * as repo from './call-repository.js';
import { RoutingCache } from './routing-cache.js';
import { callerCallIdOf } from './callback-id.js';

const REFRESH_MS = 3_000;
export const ACD_CHANNEL = 'pbx_acd';

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
  }

  start(): void {
    this.listener?.start();
    this.timer ??= setInterval(() => {
      this.reloadAll().catch(() => undefined); // a failure is logged by reloadAll
    }, REFRESH_MS);
    this.timer.unref();
  }

  async stop(): Promise<void> {
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
    const write = this.applyNow(agentId, event, extra);
    this.writing.set(agentId, write);
    try {
      return await write;
    } finally {
      if (this.writing.get(agentId) === write) this.writing.delete(agentId);
    }
  }

  private async applyNow(agentId: string, event: AgentEvent, extra?: ApplyExtra): Promise<AgentStep> {
    const fields = extra?.extension !== undefined ? { extension: extra.extension } : undefined;
    const options = { ...(fields ? { fields } : {}), byActor: extra?.actor ?? null, ...(extra?.queueCall ? { queueCall: extra.queueCall } : {}) };
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

  async callJoined(call: QueueCall): Promise<void> {
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
    await repo.queueCallLeft(this.db, {
      queueId: call.queueId,
      callId: call.callId,
      enqueuedAt: new Date(call.enqueuedAt),
      answeredAt: outcome === 'answered' ? at : null,
      endedAt: at,
      outcome,
      agentId,
      ...(details ? { details } : {}),
    });
    if (agentId) this.reloadAgent(agentId).catch(() => undefined); // calls handled today; a failure is logged by reloadAgent
  }

  async talkEnded(callId: string, agentId: string, at: Date): Promise<void> {
    await repo.recordTalkTime(this.db, callId, at);
    this.reloadAgent(agentId).catch(() => undefined); // talk time today; a failure is logged by reloadAgent
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
    await repo.saveCallback(this.db, {
      id: cb.id,
      queueId: cb.call.queueId,
      callerCallId: callerCallIdOf(cb.call.callId),
      callerNumber: cb.call.callerNumber ?? '',
      enqueuedAt: new Date(cb.call.enqueuedAt),
      state: cb.state,
      attempts: cb.attempts,
      result: cb.result,
    });
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
