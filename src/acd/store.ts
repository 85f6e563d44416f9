/**
 * The ACD engine's store over PostgreSQL (repository.ts): agents and queues as the engine and the
 * router read them, agent events applied under the agent's row lock (so two daemons never offer
 * one agent two calls), logins with PIN lockout, and the waiting-call bookkeeping.
 */
import type { Db } from '../db/database.js';
import type { Logger } from '../logger.js';
import type { AgentEvent, AgentStep, PauseReason } from './agent-state.js';
import type { AcdStore, AgentRecord, LoginCheck, QueueCall, QueueSettings } from './engine.js';
import * as repo from './repository.js';
import { adb } from './tables.js';

/** A snapshot is reused for this long by the calls of one routing round. */
const SNAPSHOT_MS = 200;

export class PgAcdStore implements AcdStore {
  private snapshot: { at: number; value: Promise<repo.RoutingSnapshot> } | null = null;

  constructor(
    private readonly db: Db,
    private readonly opts: { readonly timezone: string; readonly log: Logger },
  ) {}

  private load(): Promise<repo.RoutingSnapshot> {
    const now = Date.now();
    if (!this.snapshot || now - this.snapshot.at > SNAPSHOT_MS) {
      this.snapshot = { at: now, value: repo.loadRoutingSnapshot(this.db, { timezone: this.opts.timezone, includeLoggedOut: true }) };
      this.snapshot.value.catch(() => (this.snapshot = null));
    }
    return this.snapshot.value;
  }

  async queues(): Promise<QueueSettings[]> {
    return (await this.load()).queues;
  }

  async agents(): Promise<AgentRecord[]> {
    return (await this.load()).agents.map((a) => ({ ...a, machine: a.agentState }));
  }

  async apply(agentId: string, event: AgentEvent, extra?: { readonly extension?: string | null; readonly actor?: string }): Promise<AgentStep> {
    const fields = extra?.extension !== undefined ? { extension: extra.extension } : undefined;
    const applied = await repo.applyAgentEvent(this.db, agentId, event, { ...(fields ? { fields } : {}), byActor: extra?.actor ?? null });
    this.snapshot = null;
    if (!applied) return { ok: false, code: 'invalid-event', from: 'logged-out', event: event.type };
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
    await repo.upsertQueueCall(this.db, {
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

  async callLeft(call: QueueCall, outcome: 'answered' | 'abandoned' | 'overflow' | 'timeout', at: Date, agentId: string | null): Promise<void> {
    await repo.deleteQueueCall(this.db, call.callId);
    await repo.logQueueCall(this.db, {
      queueId: call.queueId,
      callId: call.callId,
      enqueuedAt: new Date(call.enqueuedAt),
      answeredAt: outcome === 'answered' ? at : null,
      endedAt: at,
      outcome,
      agentId,
    });
  }

  async queuedSince(callId: string): Promise<number | null> {
    const row = await adb(this.db).selectFrom('queue_calls').select('enqueued_at').where('call_id', '=', callId).executeTakeFirst();
    return row ? row.enqueued_at.getTime() : null;
  }

  async pendingCallbacks(): Promise<{ call: QueueCall; customer: string; attempts: number }[]> {
    const rows = await adb(this.db).selectFrom('callbacks').selectAll().where('state', '=', 'waiting').orderBy('enqueued_at').execute();
    return rows.map((r) => ({
      customer: r.caller_number,
      attempts: r.attempts,
      call: { callId: r.call_id, queueId: r.queue_id, channelId: '', callerNumber: r.caller_number, callerName: null, priority: 0, requiredSkills: null, enqueuedAt: r.enqueued_at.getTime() },
    }));
  }

  async callbackSaved(cb: Parameters<AcdStore['callbackSaved']>[0]): Promise<void> {
    const row = {
      queue_id: cb.call.queueId,
      call_id: cb.id,
      caller_number: (cb.call.callerNumber ?? '').slice(0, 32),
      enqueued_at: new Date(cb.call.enqueuedAt),
      state: cb.state,
      attempts: cb.attempts,
      last_result: cb.result,
    };
    const db = adb(this.db);
    const updated = await db.updateTable('callbacks').set(row).where('call_id', '=', cb.id).executeTakeFirst();
    if (updated.numUpdatedRows === 0n) await db.insertInto('callbacks').values(row).execute();
    if (cb.state === 'waiting' && cb.attempts === 0) {
      // The caller left the queue by asking for a callback: counted in the queue's call log.
      await repo.logQueueCall(this.db, { queueId: cb.call.queueId, callId: cb.call.callId.replace(/-cb$/, ''), enqueuedAt: new Date(cb.call.enqueuedAt), outcome: 'callback' });
    }
  }

  async recentHandleSeconds(queueId: string): Promise<number[]> {
    return repo.recentHandleSeconds(this.db, queueId);
  }
}
