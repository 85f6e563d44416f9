/**
 * The ACD at run time: callers waiting in queues (this daemon's calls), agents (shared by every
 * daemon through PostgreSQL), and the loop that matches them.
 *
 *   join(call, port)            a caller reaches a queue: joins, or is told where to go instead
 *                               (join-empty rule, max length)
 *   decide()                    routes the waiting calls (router.ts) over a fresh snapshot of the
 *                               agents; each chosen agent is claimed with the 'offer' event under
 *                               the agent's row lock (store.apply): a claim that loses (another
 *                               daemon, a supervisor) is skipped. The call's session rings the
 *                               claimed agents' phones (port.offer).
 *   offerAnswered / offerFailed / callerLeft / callEnded
 *                               the call's session reports; each becomes an agent event
 *                               (agent-state.ts) applied under the row lock; effects (wrap-up timer,
 *                               withdrawing a ringing offer) are carried out here
 *   tick (every second)         max wait (overflow), position announcements, skill widening
 *                               (decide again), agents left in wrap-up by a restart
 *   feature codes               login (number + PIN), logout, pause with a reason code, unpause
 *   callbacks                   a caller who asked to be called back leaves the call but keeps
 *                               their place; at their turn the chosen agent is rung first
 *                               (deps.callbacks.ring), then the customer is dialed; a failed
 *                               callback comes back after CALLBACK_RETRY_MS, up to the queue's
 *                               callbackRetries
 *
 * The engine keeps no agent state of its own: every change goes through the store, so two
 * daemons (or a supervisor) never disagree about who is ready. Only the waiting list is local.
 */
import type { Logger } from '../logger.js';
import type { TransferTarget } from '../ivr/model.js';
import type { AgentEvent, AgentState, AgentStep, PauseReason } from './agent-state.js';
import { initialRouterState, routeCalls, type RouterState, type RoutableAgent, type SkillRequirement, type WideningStep, type Strategy } from './router.js';
import { addWaitingCall, noWaitingCalls, removeWaitingCall, type WaitingCall, type WaitingCalls } from './waiting-calls.js';
import { estimatedWaitSeconds } from './estimate.js';
import { logRejection } from '../shared/log-rejection.js';
import type { LoginOutcome } from './login.js';
import { callbackIdOf } from './callback-id.js';
import type { QueueCallFacts } from './queue-events.js';

export interface QueueSettings {
  readonly id: string;
  readonly name: string;
  readonly strategy: Strategy;
  readonly ringTimeoutSeconds: number;
  readonly wrapUpSeconds: number;
  readonly maxWaitSeconds: number | null;
  readonly maxLength: number | null;
  readonly overflow: TransferTarget | null;
  readonly joinEmpty: boolean;
  readonly leaveWhenEmpty: boolean;
  readonly announceSeconds: number;
  readonly missedOffersPause: number;
  readonly requiredSkills: readonly SkillRequirement[];
  readonly widening: readonly WideningStep[];
  readonly musicClass: string;
  /** After this long in the queue a caller may ask to be called back (null: never). */
  readonly callbackAfterSeconds: number | null;
  readonly callbackRetries: number;
  /** Screen pop on the handset (screen-pop.ts); absent or null: none. */
  readonly callerIdTemplate?: string | null;
  readonly alertInfo?: string | null;
}

/** Rings the agent for a callback; the agent's answer and the customer's come back as events. */
export interface CallbackDialer {
  /** `queue`: the queue's name (the callback's CDR names it). */
  ring(callbackId: string, agent: { readonly id: string; readonly number: string; readonly extension: string }, customer: string, ringTimeoutSeconds: number, queue: string): void;
}

export interface AgentRecord extends RoutableAgent {
  readonly number: string;
  readonly extension: string | null;
  readonly machine: AgentState;
  /** On a headset: offers ask the phone to answer at once. */
  readonly autoAnswer?: boolean;
}

export type LoginCheck = { readonly outcome: 'ok'; readonly agentId: string } | { readonly outcome: 'wrong' | 'locked' };

/** More to an agent event: the phone logged in at, who made it, what the queue knows of the call (its queue event). */
export interface ApplyExtra {
  readonly extension?: string | null;
  readonly actor?: string;
  readonly queueCall?: QueueCallFacts;
}

export interface AcdStore {
  queues(): Promise<QueueSettings[]>;
  agents(): Promise<AgentRecord[]>;
  /** Apply one event to an agent under its row lock; the accepted step is stored with its log row. */
  apply(agentId: string, event: AgentEvent, extra?: ApplyExtra): Promise<AgentStep>;
  checkLogin(number: string, pin: string): Promise<LoginCheck>;
  agentAtExtension(extension: string): Promise<string | null>;
  pauseReason(code: number): Promise<PauseReason | null>;
  /** Waiting-call bookkeeping (live views, restart recovery) and the queue's call log. */
  callJoined(call: QueueCall): Promise<void>;
  /** `details`: of the queue event (an overflow's target). */
  callLeft(call: QueueCall, outcome: 'answered' | 'abandoned' | 'overflow' | 'timeout', at: Date, agentId: string | null, details?: Record<string, unknown>): Promise<void>;
  /** An answered call is over: its talk time counts (least talk time, handle-time estimates). */
  talkEnded(callId: string, agentId: string, at: Date): Promise<void>;
  /** Run `fn` when agents or queues changed outside this engine (another daemon, the API). */
  onChange?(fn: () => void): void;
  /** Handle times of recent answered calls in this queue (seconds), newest first. */
  recentHandleSeconds(queueId: string): Promise<number[]>;
  /** When a call still listed as waiting (a restart) joined its queue. */
  queuedSince(callId: string): Promise<number | null>;
  /**
   * Callbacks not finished when the daemon stopped (a restart): the call (id = the callback id),
   * number, attempts, and whether the customer was being dialed at that moment.
   */
  pendingCallbacks(): Promise<{ readonly call: QueueCall; readonly customer: string; readonly attempts: number; readonly state: 'waiting' | 'dialing' }[]>;
  /** One callback as stored (an adopted call that is one), or null. */
  callback(id: string): Promise<{ readonly call: QueueCall; readonly customer: string; readonly attempts: number } | null>;
  /** Agents on a call for at least `minAgeMs` whose call is live nowhere (it ended while no daemon watched). */
  agentsOnEndedCalls(minAgeMs: number): Promise<readonly { readonly agentId: string; readonly callId: string; readonly state: 'on-call' | 'reserved' }[]>;
  /** Callback bookkeeping (visible in the API): requested, retried, done or failed. */
  callbackSaved(cb: { readonly id: string; readonly call: QueueCall; readonly attempts: number; readonly state: 'waiting' | 'dialing' | 'connected' | 'done' | 'failed'; readonly result: string | null }): Promise<void>;
}

export interface QueueCall {
  readonly callId: string;
  readonly queueId: string;
  readonly channelId: string;
  readonly callerNumber: string | null;
  readonly callerName: string | null;
  readonly priority: number;
  readonly requiredSkills: readonly SkillRequirement[] | null;
  readonly enqueuedAt: number;
}

/** A port for calls with nobody on the line to tell anything (adopted, connected calls). */
export const silentPort: QueueCallPort = { offer: () => undefined, withdraw: () => undefined, leave: () => undefined, announce: () => undefined };

/** An agent whose phone an offer rings. */
export interface OfferedAgent {
  readonly id: string;
  readonly number: string;
  readonly extension: string;
  /** What the agent's phone shows and does while it rings (screen-pop.ts); absent: the caller's name or number, no extra headers. */
  readonly handset?: HandsetOffer;
}

/** The queue's screen pop settings and the agent's auto-answer, for ringing their phone. */
export interface HandsetOffer {
  readonly callerIdTemplate: string | null;
  readonly alertInfo: string | null;
  readonly autoAnswer: boolean;
}

/** What the engine asks of the caller's session. */
export interface QueueCallPort {
  /** Ring these agents' phones (one, or several for ring-all); the session reports each outcome. */
  offer(agents: readonly OfferedAgent[], ringTimeoutSeconds: number): void;
  /** Stop ringing this agent (another one answered a ring-all offer). */
  withdraw(agentId: string): void;
  /** Leave the queue: to the overflow target, or (null) hang up. */
  leave(target: TransferTarget | null, why: 'max-wait' | 'no-agents'): void;
  announce(position: number, waitSeconds: number | null): void;
}

export type JoinResult =
  /** `offered`: once the routing decision that takes this caller in is through, whether it offered them to an agent (never rejects). */
  | { readonly kind: 'joined'; readonly queue: QueueSettings; readonly offered: Promise<boolean> }
  | { readonly kind: 'unknown-queue' }
  | { readonly kind: 'not-joined'; readonly queue: QueueSettings; readonly why: 'no-agents' | 'full' };

export type DeviceStateSink = (agentNumber: string, status: AgentState['status']) => void;

interface Waiting {
  readonly call: QueueCall;
  readonly port: QueueCallPort;
  queue: QueueSettings;
  /** Agents ringing for this call now. */
  offered: Set<string>;
  answeredBy: string | null;
  lastAnnouncedAt: number;
  /** The waiting-call row is written (callLeft waits for it). */
  saved?: Promise<void>;
  /** The answered call's log row is written (talkEnded waits for it). */
  left?: Promise<void>;
  /** A callback: the customer's number, attempts so far, not offered before this time. */
  callback?: { readonly customer: string; attempts: number; notBefore: number };
}

const TICK_MS = 1_000;
/** A callback that did not reach the customer is tried again after this long. */
const CALLBACK_RETRY_MS = 30_000;
/** Longer than any queue's ring timeout (max 120 s): an offer this old belonged to a daemon that is gone. */
const STALE_OFFER_MS = 150_000;
/** How often agents on calls that ended unseen are looked for, and how long on a call they must be (default). */
const ENDED_CALL_CHECK_MS = 30_000;
/** Handle time assumed for a queue without history (an estimate, said to callers). */
const DEFAULT_HANDLE_SECONDS = 180;

export class AcdEngine {
  private readonly calls = new Map<string, Waiting>();
  private index: WaitingCalls = noWaitingCalls;
  private routerState: RouterState = initialRouterState;
  private deciding: Promise<void> | null = null;
  private again = false;
  private timer: NodeJS.Timeout | null = null;
  private sweepTimer: NodeJS.Timeout | null = null;
  private readonly wrapUps = new Map<string, NodeJS.Timeout>();
  private dialer: CallbackDialer | null;

  constructor(
    private readonly deps: {
      readonly store: AcdStore;
      readonly log: Logger;
      readonly now?: () => number;
      readonly rng?: () => number;
      readonly deviceState?: DeviceStateSink;
      readonly callbacks?: CallbackDialer;
      /** See ENDED_CALL_CHECK_MS. */
      readonly endedCallCheckMs?: number;
    },
  ) {
    this.dialer = deps.callbacks ?? null;
    deps.store.onChange?.(() => this.decide());
  }

  /** The callback dialer (the call dispatcher), set once it exists. */
  useCallbackDialer(dialer: CallbackDialer): void {
    this.dialer = dialer;
  }

  private now(): number {
    return this.deps.now?.() ?? Date.now();
  }

  start(): void {
    this.timer ??= setInterval(() => logRejection(this.tick(), this.deps.log, 'queue tick failed'), TICK_MS);
    this.timer.unref();
    this.sweepTimer ??= setInterval(
      () => logRejection(this.releaseAgentsOfEndedCalls(), this.deps.log, 'agents on ended calls not released'),
      this.deps.endedCallCheckMs ?? ENDED_CALL_CHECK_MS,
    );
    this.sweepTimer.unref();
    logRejection(this.releaseStaleWrapUps(), this.deps.log, 'agents in wrap-up not released');
    logRejection(this.restoreCallbacks(), this.deps.log, 'callbacks not restored');
  }

  /**
   * Callbacks not finished when the daemon stopped are taken up again, at their place. One whose
   * customer was being dialed then counts that attempt as not reached (the restarted daemon hangs
   * up the legs it finds ringing) and is tried again only after CALLBACK_RETRY_MS, so the customer
   * never gets a second call on top of one still ringing; out of retries, it has failed.
   */
  private async restoreCallbacks(): Promise<void> {
    try {
      const [pending, queues] = await Promise.all([this.deps.store.pendingCallbacks(), this.deps.store.queues()]);
      for (const cb of pending) {
        const queue = queues.find((q) => q.id === cb.call.queueId);
        if (!queue || this.calls.has(cb.call.callId)) continue;
        const interrupted = cb.state === 'dialing';
        const attempts = interrupted ? cb.attempts + 1 : cb.attempts;
        if (interrupted) {
          const failed = attempts > queue.callbackRetries;
          // A failed save does not stop the restore: the callback is still taken up (its row keeps
          // 'dialing' and is counted again at the next start, one try too many rather than none).
          await this.deps.store
            .callbackSaved({ id: cb.call.callId, call: cb.call, attempts, state: failed ? 'failed' : 'waiting', result: 'not reached (daemon restarted)' })
            .catch((err: Error) => this.deps.log.warn({ callback: cb.call.callId, err: err.message }, 'callback cut off by a restart: its new state was not saved'));
          this.deps.log.info({ callback: cb.call.callId, attempts }, failed ? 'callback failed: its last try was cut off by a restart' : 'callback cut off by a restart: tried again later');
          if (failed) continue;
        }
        this.calls.set(cb.call.callId, {
          call: cb.call, port: this.callbackPort(cb.call.callId, cb.customer, queue.name), queue, offered: new Set(), answeredBy: null,
          lastAnnouncedAt: this.now(), callback: { customer: cb.customer, attempts, notBefore: interrupted ? this.now() + CALLBACK_RETRY_MS : 0 },
        });
        this.index = addWaitingCall(this.index, toWaiting(cb.call));
      }
      if (pending.length > 0) {
        this.deps.log.info({ callbacks: pending.length }, 'callbacks waiting from before the restart taken up again');
        this.decide();
      }
    } catch (err) {
      this.deps.log.warn({ err: (err as Error).message }, 'waiting callbacks not restored');
    }
  }

  private callbackPort(id: string, customer: string, queue: string): QueueCallPort {
    return { ...silentPort, offer: (agents, ringTimeoutSeconds) => this.dialer?.ring(id, agents[0]!, customer, ringTimeoutSeconds, queue) };
  }

  stop(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = null;
    if (this.sweepTimer) clearInterval(this.sweepTimer);
    this.sweepTimer = null;
    for (const t of this.wrapUps.values()) clearTimeout(t);
    this.wrapUps.clear();
  }

  get waitingCount(): number {
    return this.calls.size;
  }

  // ---------------------------------------------------------------- callers

  /**
   * `rejoin`: a caller picked up again after a restart (looks up their earlier place).
   * `reservedFor`: an agent reserved for this call before it existed (a preview campaign's
   * contact: reserve); while the agent is still reserved for it, the call is offered to them at
   * once, without routing; else it is routed as any call.
   */
  async join(call: Omit<QueueCall, 'queueId' | 'enqueuedAt'> & { readonly queueName: string }, port: QueueCallPort, rejoin = false, reservedFor: string | null = null): Promise<JoinResult> {
    const queue = (await this.deps.store.queues()).find((q) => q.name === call.queueName);
    if (!queue) return { kind: 'unknown-queue' };
    if (reservedFor !== null) {
      const joined = await this.joinReserved(call, port, queue, reservedFor);
      if (joined) return joined;
    }
    const inQueue = [...this.calls.values()].filter((w) => w.queue.id === queue.id).length;
    if (queue.maxLength !== null && inQueue >= queue.maxLength) return { kind: 'not-joined', queue, why: 'full' };
    if (!queue.joinEmpty && !(await this.staffed(queue.id))) return { kind: 'not-joined', queue, why: 'no-agents' };
    const { queueName: _name, ...rest } = call;
    // A caller picked up again after a restart keeps their place.
    const since = rejoin ? await this.deps.store.queuedSince(call.callId).catch(() => null) : null;
    const entry: QueueCall = { ...rest, queueId: queue.id, enqueuedAt: since ?? this.now() };
    // Routing first; the row (live views, restart recovery) is written once this decision is
    // through (its offer claim does not queue behind the insert), and whatever happens to the call
    // next waits for it (saved), so a quick answer never overtakes the insert.
    const waiting: Waiting = { call: entry, port, queue, offered: new Set(), answeredBy: null, lastAnnouncedAt: this.now() };
    this.calls.set(call.callId, waiting);
    this.index = addWaitingCall(this.index, toWaiting(entry));
    this.decide();
    waiting.saved = Promise.resolve(this.deciding)
      .then(() => this.deps.store.callJoined(entry))
      .catch((err: Error) => this.deps.log.warn({ err: err.message }, 'queue call not saved'));
    this.deps.log.info({ callId: call.callId, queue: queue.name, waiting: inQueue + 1 }, 'caller joined queue');
    const offered = Promise.resolve(this.deciding).then(() => waiting.offered.size > 0 || waiting.answeredBy !== null);
    return { kind: 'joined', queue, offered };
  }

  private async joinReserved(call: Omit<QueueCall, 'queueId' | 'enqueuedAt'> & { readonly queueName: string }, port: QueueCallPort, queue: QueueSettings, agentId: string): Promise<JoinResult | null> {
    const agent = (await this.deps.store.agents()).find((a) => a.id === agentId);
    if (!agent?.extension || agent.machine.status !== 'reserved' || agent.machine.call?.callId !== call.callId) return null;
    const { queueName: _name, ...rest } = call;
    const entry: QueueCall = { ...rest, queueId: queue.id, enqueuedAt: this.now() };
    const waiting: Waiting = { call: entry, port, queue, offered: new Set([agent.id]), answeredBy: null, lastAnnouncedAt: this.now() };
    this.calls.set(call.callId, waiting);
    this.index = addWaitingCall(this.index, toWaiting(entry));
    waiting.saved = this.deps.store.callJoined(entry).catch((err: Error) => this.deps.log.warn({ err: err.message }, 'queue call not saved'));
    const handset = { callerIdTemplate: queue.callerIdTemplate ?? null, alertInfo: queue.alertInfo ?? null, autoAnswer: agent.autoAnswer ?? false };
    this.deps.log.info({ callId: call.callId, queue: queue.name, agent: agent.number }, 'offering call to the agent reserved for it');
    port.offer([{ id: agent.id, number: agent.number, extension: agent.extension, handset }], queue.ringTimeoutSeconds);
    return { kind: 'joined', queue, offered: Promise.resolve(true) };
  }

  /** Preview mode (src/campaigns/preview.ts): reserve a ready agent for call `callId` before it exists (ready -> reserved). */
  async reserve(agentId: string, callId: string, queueId: string): Promise<boolean> {
    return (await this.apply(agentId, { type: 'offer', callId, queueId })).ok;
  }

  /**
   * The call an agent was reserved for will not reach them: ready again (`missed`: as an offer
   * rung out, the queue's missedOffersPause applies). Nothing when the agent is not reserved for
   * `callId` any more (the call reached them: its queue steps settle the agent).
   */
  async releaseReserved(agentId: string, callId: string, missed: boolean): Promise<void> {
    const w = this.calls.get(callId);
    if (w && (w.offered.has(agentId) || w.answeredBy === agentId)) return;
    const agent = (await this.deps.store.agents()).find((a) => a.id === agentId);
    if (agent?.machine.status !== 'reserved' || agent.machine.call?.callId !== callId) return;
    const queue = missed ? (await this.deps.store.queues()).find((q) => q.id === agent.machine.call?.queueId) : undefined;
    await this.apply(agentId, missed ? { type: 'ring-timeout', callId, maxMissedOffers: queue?.missedOffersPause ?? 0 } : { type: 'call-ended', callId, wrapUpSeconds: 0 });
  }

  /** The agent's phone answered: the call is theirs; other ringing agents are let go. */
  async offerAnswered(callId: string, agentId: string): Promise<boolean> {
    const w = this.calls.get(callId);
    if (!w || w.answeredBy) return false;
    const step = await this.apply(agentId, { type: 'answer', callId }, { queueCall: { enqueuedAt: w.call.enqueuedAt } });
    if (!step.ok) return false;
    w.answeredBy = agentId;
    w.offered.delete(agentId);
    for (const other of w.offered) {
      w.port.withdraw(other);
      logRejection(this.apply(other, { type: 'call-ended', callId, wrapUpSeconds: 0 }), this.deps.log, 'ringing agent not let go', { agentId: other, callId });
    }
    w.offered.clear();
    this.index = removeWaitingCall(this.index, w.queue.id, callId);
    if (w.callback) {
      // The customer is dialed next: recorded first, so a restart meanwhile does not dial them again at once.
      await this.deps.store.callbackSaved({ id: callId, call: w.call, attempts: w.callback.attempts, state: 'dialing', result: null }).catch(() => undefined);
    }
    const at = new Date(this.now());
    w.left = Promise.resolve(w.saved).then(() => this.deps.store.callLeft(w.call, 'answered', at, agentId)).catch(() => undefined);
    return true;
  }

  /** An offer that did not connect: busy (the agent declined) or no answer in time. */
  async offerFailed(callId: string, agentId: string, why: 'busy' | 'no-answer'): Promise<void> {
    const w = this.calls.get(callId);
    const queue = w?.queue;
    w?.offered.delete(agentId);
    await this.apply(agentId, {
      type: why === 'busy' ? 'reject' : 'ring-timeout',
      callId,
      maxMissedOffers: queue?.missedOffersPause ?? 0,
    });
    if (w && !w.answeredBy && w.offered.size === 0) this.decide(); // back at its place in the queue
  }

  /** The caller hung up (or left) before being connected; `details` of its queue event (an overflow's target). */
  async callerLeft(callId: string, outcome: 'abandoned' | 'overflow' | 'timeout' = 'abandoned', details?: Record<string, unknown>): Promise<void> {
    const w = this.calls.get(callId);
    if (!w) return;
    this.calls.delete(callId);
    this.index = removeWaitingCall(this.index, w.queue.id, callId);
    for (const agentId of w.offered) {
      w.port.withdraw(agentId);
      await this.apply(agentId, { type: 'call-ended', callId, wrapUpSeconds: 0 });
    }
    if (!w.answeredBy) {
      const at = new Date(this.now());
      await Promise.resolve(w.saved).then(() => this.deps.store.callLeft(w.call, outcome, at, null, details)).catch(() => undefined);
    }
    this.deps.log.info({ callId, queue: w.queue.name, outcome }, 'caller left queue');
  }

  /** May this caller ask for a callback now (the queue offers it and they waited long enough)? */
  callbackOffered(callId: string): boolean {
    const w = this.calls.get(callId);
    const after = w?.queue.callbackAfterSeconds;
    return Boolean(w && !w.answeredBy && w.offered.size === 0 && after != null && this.now() - w.call.enqueuedAt >= after * 1000 && this.dialer);
  }

  /**
   * The caller pressed the callback key: they hang up and keep their place. Returns the callback
   * id, or null when a callback is not possible (no number to call back, not offered).
   */
  async requestCallback(callId: string): Promise<string | null> {
    const w = this.calls.get(callId);
    const customer = w?.call.callerNumber;
    if (!w || !customer || !/^\+?[0-9]{3,20}$/.test(customer) || !this.callbackOffered(callId)) return null;
    const id = callbackIdOf(callId);
    this.calls.delete(callId);
    this.index = removeWaitingCall(this.index, w.queue.id, callId);
    const call: QueueCall = { ...w.call, callId: id };
    const port = this.callbackPort(id, customer, w.queue.name);
    this.calls.set(id, { ...w, call, port, offered: new Set(), answeredBy: null, callback: { customer, attempts: 0, notBefore: 0 } });
    this.index = addWaitingCall(this.index, toWaiting(call));
    await this.deps.store.callbackSaved({ id, call, attempts: 0, state: 'waiting', result: null }).catch(() => undefined);
    this.deps.log.info({ callId, callback: id, queue: w.queue.name }, 'callback requested; the caller keeps their place');
    return id;
  }

  /** The callback's customer answered (connected) or could not be reached (failed). */
  async callbackResult(callbackId: string, reached: boolean): Promise<void> {
    const w = this.calls.get(callbackId);
    if (!w?.callback) return;
    const cb = w.callback;
    cb.attempts += 1;
    if (reached) {
      await this.deps.store.callbackSaved({ id: callbackId, call: w.call, attempts: cb.attempts, state: 'connected', result: 'answered' }).catch(() => undefined);
      return;
    }
    // The agent's part ends here (wrap-up); the callback goes back to its place for another try.
    const agentId = w.answeredBy;
    this.calls.delete(callbackId);
    if (agentId) await this.apply(agentId, { type: 'call-ended', callId: callbackId, wrapUpSeconds: w.queue.wrapUpSeconds });
    if (cb.attempts > w.queue.callbackRetries) {
      await this.deps.store.callbackSaved({ id: callbackId, call: w.call, attempts: cb.attempts, state: 'failed', result: 'not reached' }).catch(() => undefined);
      this.deps.log.info({ callback: callbackId, attempts: cb.attempts }, 'callback failed: customer not reached');
      return;
    }
    cb.notBefore = this.now() + CALLBACK_RETRY_MS;
    this.calls.set(callbackId, { ...w, offered: new Set(), answeredBy: null });
    this.index = addWaitingCall(this.index, toWaiting(w.call));
    await this.deps.store.callbackSaved({ id: callbackId, call: w.call, attempts: cb.attempts, state: 'waiting', result: 'not reached' }).catch(() => undefined);
  }

  /**
   * A restarted daemon picked up a call that was connected to an agent: end it properly later.
   * `callback`: the call is a callback's (id = the callback id), marked done when it ends.
   */
  async adoptConnected(callId: string, port: QueueCallPort, callback = false): Promise<void> {
    const agent = (await this.deps.store.agents()).find((a) => a.machine.status === 'on-call' && a.machine.call?.callId === callId);
    const queue = agent && (await this.deps.store.queues()).find((q) => q.id === agent.machine.call?.queueId);
    if (!agent || !queue) return;
    const stored = callback ? await this.deps.store.callback(callId).catch(() => null) : null;
    const call: QueueCall = stored?.call ?? { callId, queueId: queue.id, channelId: '', callerNumber: null, callerName: null, priority: 0, requiredSkills: null, enqueuedAt: this.now() };
    this.calls.set(callId, {
      call, port, queue, offered: new Set(), answeredBy: agent.id, lastAnnouncedAt: this.now(),
      ...(stored ? { callback: { customer: stored.customer, attempts: stored.attempts, notBefore: 0 } } : {}),
    });
  }

  /**
   * Agents left on a call that ended while no daemon watched it (it ended during a restart, or
   * a callback's customer was still being dialed then), or reserved for an offer of a call that
   * ended unseen (a daemon killed while the phone rang, Postgres refusing the write) go to ready:
   * nothing else would move them. A call this engine holds as connected to the agent, or still
   * waiting (its offer may be ringing), is never taken for ended.
   */
  async releaseAgentsOfEndedCalls(): Promise<void> {
    try {
      for (const { agentId, callId, state } of await this.deps.store.agentsOnEndedCalls(this.deps.endedCallCheckMs ?? ENDED_CALL_CHECK_MS)) {
        const held = this.calls.get(callId);
        if (held && (held.answeredBy === agentId || state === 'reserved')) continue;
        const step = await this.apply(agentId, { type: 'call-ended', callId, wrapUpSeconds: 0 });
        if (step.ok) this.deps.log.warn({ agentId, callId }, 'agent released: their call ended while no daemon was watching it');
      }
    } catch (err) {
      this.deps.log.warn({ err: (err as Error).message }, 'agents on ended calls not released');
    }
  }

  /**
   * A connected call is over (either side hung up, or the agent transferred it to `transferTo`):
   * the agent goes to wrap-up. `holdMs`: the time it spent on hold (its queue 'end' event, written
   * when wrap-up is over).
   */
  async callEnded(callId: string, holdMs = 0, transferTo?: string): Promise<void> {
    const w = this.calls.get(callId);
    if (!w || (w.callback && !w.answeredBy)) return; // a callback waiting for its next try stays
    if (w.callback) {
      await this.deps.store.callbackSaved({ id: callId, call: w.call, attempts: w.callback.attempts, state: 'done', result: 'answered' }).catch(() => undefined);
    }
    this.calls.delete(callId);
    const agentId = w.answeredBy;
    if (!agentId) return;
    const at = new Date(this.now());
    Promise.resolve(w.left).then(() => this.deps.store.talkEnded(callId, agentId, at)).catch((err: Error) => this.deps.log.warn({ err: err.message }, 'talk time not recorded'));
    await this.apply(agentId, { type: 'call-ended', callId, wrapUpSeconds: w.queue.wrapUpSeconds }, { queueCall: { holdMs, ...(transferTo !== undefined ? { transferTo } : {}) } });
  }

  // ---------------------------------------------------------------- agents at desk phones

  // Feature codes: a storage failure (Postgres unreachable) throws, so the phone says so instead
  // of "logged in" or "not logged in" (agent-call.ts); the agent's state did not change.

  /** 'unavailable': not checked, or checked but not logged in (Postgres unreachable). */
  async login(extension: string, number: string, pin: string): Promise<LoginOutcome> {
    try {
      const check = await this.deps.store.checkLogin(number, pin);
      if (check.outcome !== 'ok') return check.outcome;
      const step = await this.applyStored(check.agentId, { type: 'login' }, { extension });
      // Logged in already (at this or another phone): the agent is where they logged in last.
      if (!step.ok) await this.deps.store.apply(check.agentId, { type: 'unpause' }, { extension });
    } catch (err) {
      this.deps.log.error({ extension, agent: number, err: (err as Error).message }, 'agent login not stored');
      return 'unavailable';
    }
    this.decide();
    return 'ok';
  }

  async logout(extension: string): Promise<boolean> {
    const agentId = await this.deps.store.agentAtExtension(extension);
    return agentId ? (await this.applyStored(agentId, { type: 'logout' })).ok : false;
  }

  /** 'unknown-reason' when the code is not a pause reason (the phone hears an error). */
  async pause(extension: string, code: number): Promise<'ok' | 'not-logged-in' | 'unknown-reason'> {
    const agentId = await this.deps.store.agentAtExtension(extension);
    if (!agentId) return 'not-logged-in';
    const reason = code >= 1 ? await this.deps.store.pauseReason(code) : null;
    if (!reason) return 'unknown-reason';
    return (await this.applyStored(agentId, { type: 'pause', reason })).ok ? 'ok' : 'not-logged-in';
  }

  async unpause(extension: string): Promise<boolean> {
    const agentId = await this.deps.store.agentAtExtension(extension);
    if (!agentId) return false;
    const ok = (await this.applyStored(agentId, { type: 'unpause' })).ok;
    if (ok) this.decide();
    return ok;
  }

  // ---------------------------------------------------------------- the loop

  /** Route now (or right after the decision running now). Never throws. */
  decide(): void {
    if (this.deciding) {
      this.again = true;
      return;
    }
    this.deciding = this.decideOnce()
      .catch((err: Error) => this.deps.log.error({ err: err.message }, 'routing decision failed'))
      .finally(() => {
        this.deciding = null;
        if (this.again) {
          this.again = false;
          this.decide();
        }
      });
  }

  /** Resolves when no decision is running (tests, shutdown). */
  async settled(): Promise<void> {
    while (this.deciding) await this.deciding;
  }

  private async decideOnce(): Promise<void> {
    const pending = [...this.calls.values()].filter((w) => !w.answeredBy && w.offered.size === 0);
    if (pending.length === 0) return;
    const [queues, agents] = await Promise.all([this.deps.store.queues(), this.deps.store.agents()]);
    const byId = new Map(agents.map((a) => [a.id, a]));
    for (const w of this.calls.values()) w.queue = queues.find((q) => q.id === w.queue.id) ?? w.queue;
    // Only calls that are not ringing anyone take part (and callbacks due); agents without a phone cannot be offered.
    let waiting = this.index;
    const now = this.now();
    for (const w of this.calls.values()) {
      if (w.offered.size > 0 || w.answeredBy || (w.callback && w.callback.notBefore > now)) waiting = removeWaitingCall(waiting, w.queue.id, w.call.callId);
    }
    const decision = routeCalls(
      {
        queues: queues.map((q) => ({ id: q.id, strategy: q.strategy, requiredSkills: q.requiredSkills, widening: q.widening })),
        waiting,
        agents: agents.filter((a) => a.extension !== null),
        now: this.now(),
        rng: this.deps.rng ?? Math.random,
      },
      this.routerState,
    );
    this.routerState = decision.state;
    for (const a of decision.assignments) {
      const w = this.calls.get(a.callId);
      if (!w || w.offered.size > 0 || w.answeredBy) continue;
      const claimed: OfferedAgent[] = [];
      let unstored = false;
      for (const agentId of a.agentIds) {
        const agent = byId.get(agentId);
        if (!agent?.extension) continue;
        let step: AgentStep;
        try {
          step = await this.applyStored(agentId, { type: 'offer', callId: a.callId, queueId: a.queueId });
        } catch (err) {
          this.deps.log.warn({ agentId, callId: a.callId, err: (err as Error).message }, 'offer not stored: the call waits for the next decision');
          unstored = true;
          continue;
        }
        const handset = { callerIdTemplate: w.queue.callerIdTemplate ?? null, alertInfo: w.queue.alertInfo ?? null, autoAnswer: agent.autoAnswer ?? false };
        if (step.ok) claimed.push({ id: agentId, number: agent.number, extension: agent.extension, handset });
      }
      if (claimed.length === 0) {
        // Lost every claim: look again with fresh states. A claim Postgres could not store (down)
        // waits for the next tick instead: looking again at once would spin while it is down.
        if (!unstored) this.again = true;
        continue;
      }
      for (const c of claimed) w.offered.add(c.id);
      this.deps.log.info({ callId: a.callId, queue: w.queue.name, agents: claimed.map((c) => c.number) }, 'offering call to agent');
      w.port.offer(claimed, w.queue.ringTimeoutSeconds);
    }
  }

  private async tick(): Promise<void> {
    const now = this.now();
    let widen = false;
    const positions = new Map<string, number>();
    const waiting = [...this.calls.values()].filter((w) => !w.answeredBy);
    // Leave when empty: the last agent of the queue logged out; its callers go to the overflow.
    const agents = waiting.some((w) => w.queue.leaveWhenEmpty) ? await this.deps.store.agents().catch(() => null) : null;
    const staffed = (queueId: string) => agents === null || agents.some((a) => a.state !== 'logged-out' && a.memberships.some((m) => m.queueId === queueId));
    for (const w of waiting.sort((a, b) => a.call.enqueuedAt - b.call.enqueuedAt)) {
      const position = (positions.get(w.queue.id) ?? 0) + 1;
      positions.set(w.queue.id, position);
      if (w.callback) continue; // holds its place; nobody is on the line to announce to or time out
      const waited = (now - w.call.enqueuedAt) / 1000;
      if (w.queue.leaveWhenEmpty && w.offered.size === 0 && !staffed(w.queue.id)) {
        await this.callerLeft(w.call.callId, 'overflow', { target: w.queue.overflow, why: 'no-agents' });
        w.port.leave(w.queue.overflow, 'no-agents');
        continue;
      }
      if (w.queue.maxWaitSeconds !== null && waited >= w.queue.maxWaitSeconds && w.offered.size === 0) {
        await this.callerLeft(w.call.callId, 'timeout', { target: w.queue.overflow, why: 'max-wait' });
        w.port.leave(w.queue.overflow, 'max-wait');
        continue;
      }
      if (w.queue.announceSeconds > 0 && w.offered.size === 0 && now - w.lastAnnouncedAt >= w.queue.announceSeconds * 1000) {
        w.lastAnnouncedAt = now;
        const ewt = await this.estimate(w.queue, position).catch(() => null);
        w.port.announce(position, ewt);
      }
      if (w.queue.widening.length > 0 || w.offered.size === 0) widen = true;
    }
    if (widen) this.decide();
  }

  private async estimate(queue: QueueSettings, position: number): Promise<number | null> {
    const [samples, agents] = await Promise.all([this.deps.store.recentHandleSeconds(queue.id), this.deps.store.agents()]);
    const members = agents.filter((a) => a.memberships.some((m) => m.queueId === queue.id));
    return estimatedWaitSeconds({
      position,
      agentsStaffed: members.filter((a) => a.state !== 'logged-out' && a.state !== 'paused').length,
      agentsReady: members.filter((a) => a.state === 'ready').length,
      recentHandleSeconds: samples,
      defaultHandleSeconds: DEFAULT_HANDLE_SECONDS,
    });
  }

  private async staffed(queueId: string): Promise<boolean> {
    return (await this.deps.store.agents()).some((a) => a.state !== 'logged-out' && a.memberships.some((m) => m.queueId === queueId));
  }

  /**
   * After a restart nobody runs the wrap-up timers of the agents left in wrap-up: end them now. An
   * agent left reserved for longer than any ring timeout lost its offer with the old daemon.
   */
  private async releaseStaleWrapUps(): Promise<void> {
    try {
      for (const a of await this.deps.store.agents()) {
        if (a.machine.status === 'wrap-up' && !this.wrapUps.has(a.id)) await this.apply(a.id, { type: 'wrap-up-done' });
        const call = a.machine.call;
        if (a.machine.status === 'reserved' && call && !this.calls.has(call.callId) && this.now() - a.machine.since > STALE_OFFER_MS) {
          await this.apply(a.id, { type: 'call-ended', callId: call.callId, wrapUpSeconds: 0 });
        }
      }
    } catch (err) {
      this.deps.log.warn({ err: (err as Error).message }, 'agents in wrap-up not released');
    }
  }

  /** One agent event through the store, then its effects. Never throws: a refused step is returned, and so is a storage failure (logged). */
  private async apply(agentId: string, event: AgentEvent, extra?: ApplyExtra): Promise<AgentStep> {
    try {
      return await this.applyStored(agentId, event, extra);
    } catch (err) {
      this.deps.log.error({ agentId, event: event.type, err: (err as Error).message }, 'agent event not stored');
      return { ok: false, code: 'invalid-event', from: 'logged-out', event: event.type };
    }
  }

  /** The same, but a storage failure throws (feature codes tell the phone). */
  private async applyStored(agentId: string, event: AgentEvent, extra?: ApplyExtra): Promise<AgentStep> {
    const step = await this.deps.store.apply(agentId, event, extra);
    if (!step.ok) {
      this.deps.log.debug({ agentId, event: event.type, code: step.code, from: step.from }, 'agent event refused');
      return step;
    }
    this.deps.log.info({ agentId, from: step.record.from, to: step.record.to, cause: step.record.cause.kind }, 'agent state');
    this.carryOut(agentId, step);
    return step;
  }

  /** A change made elsewhere (a supervisor through the API) reached this daemon: its effects. */
  async agentChanged(agentId: string, step: Extract<AgentStep, { ok: true }>): Promise<void> {
    this.carryOut(agentId, step);
  }

  private carryOut(agentId: string, step: Extract<AgentStep, { ok: true }>): void {
    for (const effect of step.effects) {
      switch (effect.kind) {
        case 'start-wrap-up-timer': {
          const t = setTimeout(() => {
            this.wrapUps.delete(agentId);
            logRejection(this.apply(agentId, { type: 'wrap-up-done', callId: effect.callId }).then(() => this.decide()), this.deps.log, 'wrap-up not ended', { agentId });
          }, effect.seconds * 1000);
          this.wrapUps.set(agentId, t);
          break;
        }
        case 'cancel-wrap-up-timer': {
          const t = this.wrapUps.get(agentId);
          if (t) clearTimeout(t);
          this.wrapUps.delete(agentId);
          break;
        }
        case 'withdraw-offer': {
          const w = this.calls.get(effect.callId);
          if (w?.offered.delete(agentId)) w.port.withdraw(agentId);
          if (effect.requeue) this.decide();
          break;
        }
      }
    }
    if (step.state.status === 'ready') this.decide();
    // The lamp follows (lamps.ts); the caller of this event (an offer about to ring) does not wait for it.
    const status = step.state.status;
    this.deps.store.agents().then(
      (agents) => {
        const agent = agents.find((a) => a.id === agentId);
        if (agent) this.deps.deviceState?.(agent.number, status);
      },
      (err: Error) => this.deps.log.warn({ agentId, err: err.message }, 'agent lamp not set: agents not read'),
    );
  }
}

function toWaiting(c: QueueCall): WaitingCall {
  return { id: c.callId, queueId: c.queueId, priority: c.priority, enqueuedAt: c.enqueuedAt, requiredSkills: c.requiredSkills };
}
