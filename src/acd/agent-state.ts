/**
 * One agent's availability in the contact center (ACD, issue #5). Pure:
 *
 *   agentTransition(state, event, at) -> { ok: true, state, record, effects }
 *                                      | { ok: false, code, from, event }
 *
 *   logged-out --login--> ready --offer--> reserved --answer--> on-call --call-ended--> wrap-up
 *                          ^ ^  |             |                      (no wrap-up: on at once)  |
 *                          | |  +--pause--+   +--reject / ring-timeout--> ready, or paused      |
 *                          | |            v                 ('missed') after N misses in a row  |
 *                          | +--unpause-- paused                                                |
 *                          +-------------------------- wrap-up-done ----------------------------+
 *   logout: from ready or paused at once, else parked (below); force: a supervisor's override.
 *
 * Rules a contact center expects:
 *   - A pause or logout asked for while the agent is busy (reserved, on-call, wrap-up) is parked
 *     (`pending`) and carried out when the agent would otherwise become ready again: after wrap-up,
 *     after a call without wrap-up, or after a missed offer. The latest request wins; unpause takes
 *     a parked pause back.
 *   - Missed offers (reject, ring timeout) are counted in a row; answering, logging in, unpausing
 *     and a supervisor's force to ready start over. When the count reaches the queue's limit (`maxMissedOffers` in the event, 0 = no
 *     limit) the agent is paused with MISSED_OFFERS_REASON, unless a parked request comes first.
 *   - The caller hanging up while the agent's phone rings (call-ended while reserved) is not a miss.
 *   - A supervisor's force moves the agent at once to ready, paused or logged-out (taking back a
 *     ringing offer, cutting wrap-up short); only a call in progress is never cut: during on-call
 *     the forced pause/logout is parked like the agent's own.
 *   - Pause reason code 0 is reserved for MISSED_OFFERS_REASON; people use codes >= 1.
 *
 * Every accepted event gives exactly one TransitionRecord for storage (from === to when the event
 * only parked or took back a request, or changed the pause reason). A refused event gives a stable
 * code and leaves the state as it was; nothing ever throws. Times are epoch milliseconds.
 */

import type { AgentStatus } from './tables.js';

/** Defined with the table that stores it (agents.state). */
export type { AgentStatus };

export interface PauseReason {
  /** Site-defined reason code (>= 1); 0 is MISSED_OFFERS_REASON. */
  readonly code: number;
  readonly name: string;
}

export const MISSED_OFFERS_REASON: PauseReason = Object.freeze({ code: 0, name: 'missed' });

export type PendingChange = { readonly kind: 'pause'; readonly reason: PauseReason } | { readonly kind: 'logout' };

export interface AgentCall {
  readonly callId: string;
  readonly queueId: string;
}

export interface AgentState {
  readonly status: AgentStatus;
  /** When the agent entered this status; for 'ready' this is "idle since". */
  readonly since: number;
  /** The reason while paused, else null. */
  readonly pause: PauseReason | null;
  /** The call offered (reserved), talked on (on-call) or wrapped up (wrap-up), else null. */
  readonly call: AgentCall | null;
  /** When wrap-up ends by itself (the runner's timer sends wrap-up-done), else null. */
  readonly wrapUpUntil: number | null;
  /** Offers missed in a row. */
  readonly missedOffers: number;
  /** A pause or logout waiting for the current call to be over. */
  readonly pending: PendingChange | null;
}

export type ForceEvent =
  | { readonly type: 'force'; readonly to: 'ready' | 'logged-out'; readonly by: string }
  | { readonly type: 'force'; readonly to: 'paused'; readonly reason: PauseReason; readonly by: string };

export type AgentEvent =
  | { readonly type: 'login' }
  | { readonly type: 'logout' }
  | { readonly type: 'pause'; readonly reason: PauseReason }
  | { readonly type: 'unpause' }
  | { readonly type: 'offer'; readonly callId: string; readonly queueId: string }
  | { readonly type: 'answer'; readonly callId: string }
  /** The agent declined, or the phone rang out; maxMissedOffers is the offering queue's limit (0 = none). */
  | { readonly type: 'reject' | 'ring-timeout'; readonly callId: string; readonly maxMissedOffers: number }
  /** The call is over (either side hung up). While reserved: the caller gave up before the answer. */
  | { readonly type: 'call-ended'; readonly callId: string; readonly wrapUpSeconds: number }
  /** Wrap-up is over (the agent said so, or the timer fired; callId, when given, must match). */
  | { readonly type: 'wrap-up-done'; readonly callId?: string }
  | ForceEvent;

export type AgentEventType = AgentEvent['type'];

export const AGENT_EVENT_TYPES: readonly AgentEventType[] = [
  'login', 'logout', 'pause', 'unpause', 'offer', 'answer', 'reject', 'ring-timeout', 'call-ended', 'wrap-up-done', 'force',
];

export interface TransitionCause {
  readonly kind: AgentEventType;
  readonly callId?: string;
  readonly queueId?: string;
  /** The pause reason set (pause, force to paused, missed-offers pause, a parked pause carried out). */
  readonly reason?: PauseReason;
  /** The supervisor, for force. */
  readonly by?: string;
  /** Missed offers in a row after a reject / ring-timeout. */
  readonly missedOffers?: number;
  /** The event only parked this request until the call is over. */
  readonly deferred?: PendingChange['kind'];
  /** A parked request this event carried out. */
  readonly applied?: PendingChange['kind'];
  /** A parked request this event took back (unpause, force to ready during a call). */
  readonly cancelled?: PendingChange['kind'];
}

export interface TransitionRecord {
  readonly from: AgentStatus;
  readonly to: AgentStatus;
  readonly cause: TransitionCause;
  readonly at: number;
}

export type AgentEffect =
  /** Send wrap-up-done (with the call id) after this many seconds. */
  | { readonly kind: 'start-wrap-up-timer'; readonly callId: string; readonly seconds: number }
  | { readonly kind: 'cancel-wrap-up-timer'; readonly callId: string }
  /** Stop ringing the agent; with requeue the call goes back to routing at its place in the queue. */
  | { readonly kind: 'withdraw-offer'; readonly callId: string; readonly queueId: string; readonly requeue: boolean };

export type RefusalCode =
  /** The event makes no sense in the agent's status (e.g. answer while ready). */
  | 'invalid-transition'
  /** The event names another call than the agent's current one (stale or misrouted). */
  | 'call-mismatch'
  /** Pause reason missing, not an integer >= 1, the reserved code 0, or without a name. */
  | 'invalid-reason'
  /** Not an event this machine knows (e.g. bad JSON from a client). */
  | 'invalid-event';

export type AgentStep =
  | { readonly ok: true; readonly state: AgentState; readonly record: TransitionRecord; readonly effects: readonly AgentEffect[] }
  | { readonly ok: false; readonly code: RefusalCode; readonly from: AgentStatus; readonly event: string };

export const initialAgentState: AgentState = Object.freeze({
  status: 'logged-out', since: 0, pause: null, call: null, wrapUpUntil: null, missedOffers: 0, pending: null,
});

const BUSY: ReadonlySet<AgentStatus> = new Set(['reserved', 'on-call', 'wrap-up']);

export function agentTransition(state: AgentState, event: AgentEvent, at: number): AgentStep {
  const refuse = (code: RefusalCode): AgentStep => ({ ok: false, code, from: state.status, event: String(event.type) });
  const s = state.status;
  switch (event.type) {
    case 'login':
      if (s !== 'logged-out') return refuse('invalid-transition');
      return accept(state, enter(state, 'ready', at, { missedOffers: 0 }), { kind: 'login' }, at);

    case 'logout':
      if (s === 'logged-out') return refuse('invalid-transition');
      if (BUSY.has(s)) return park(state, { kind: 'logout' }, { kind: 'logout' }, at);
      return accept(state, loggedOut(state, at), { kind: 'logout' }, at);

    case 'pause': {
      if (!validReason(event.reason)) return refuse('invalid-reason');
      if (s === 'logged-out') return refuse('invalid-transition');
      const reason = { code: event.reason.code, name: event.reason.name };
      if (BUSY.has(s)) return park(state, { kind: 'pause', reason }, { kind: 'pause', reason }, at);
      return accept(state, { ...enter(state, 'paused', s === 'paused' ? state.since : at), pause: reason }, { kind: 'pause', reason }, at);
    }

    case 'unpause':
      if (s === 'paused') return accept(state, enter(state, 'ready', at, { missedOffers: 0 }), { kind: 'unpause' }, at);
      if (BUSY.has(s) && state.pending?.kind === 'pause') {
        return accept(state, { ...state, pending: null }, { kind: 'unpause', cancelled: 'pause' }, at);
      }
      return refuse('invalid-transition');

    case 'offer':
      if (s !== 'ready') return refuse('invalid-transition');
      return accept(state, { ...enter(state, 'reserved', at), call: { callId: event.callId, queueId: event.queueId } },
        { kind: 'offer', callId: event.callId, queueId: event.queueId }, at);

    case 'answer':
      if (s !== 'reserved') return refuse('invalid-transition');
      if (state.call?.callId !== event.callId) return refuse('call-mismatch');
      return accept(state, { ...enter(state, 'on-call', at, { missedOffers: 0 }), call: state.call, pending: state.pending }, { kind: 'answer', ...callOf(state) }, at);

    case 'reject':
    case 'ring-timeout': {
      if (s !== 'reserved') return refuse('invalid-transition');
      const call = state.call;
      if (!call || call.callId !== event.callId) return refuse('call-mismatch');
      const missedOffers = state.missedOffers + 1;
      const effects: AgentEffect[] = [{ kind: 'withdraw-offer', ...call, requeue: true }];
      const cause: TransitionCause = { kind: event.type, ...callOf(state), missedOffers };
      if (state.pending) return afterCall(state, cause, at, effects, { missedOffers });
      const limit = Number.isFinite(event.maxMissedOffers) ? Math.floor(event.maxMissedOffers) : 0;
      if (limit > 0 && missedOffers >= limit) {
        const next: AgentState = { ...enter(state, 'paused', at, { missedOffers }), pause: MISSED_OFFERS_REASON };
        return accept(state, next, { ...cause, reason: MISSED_OFFERS_REASON }, at, effects);
      }
      return accept(state, enter(state, 'ready', at, { missedOffers }), cause, at, effects);
    }

    case 'call-ended': {
      if (s !== 'reserved' && s !== 'on-call') return refuse('invalid-transition');
      const call = state.call;
      if (!call || call.callId !== event.callId) return refuse('call-mismatch');
      const cause: TransitionCause = { kind: 'call-ended', ...call };
      if (s === 'reserved') return afterCall(state, cause, at, [{ kind: 'withdraw-offer', ...call, requeue: false }]);
      const seconds = Number.isFinite(event.wrapUpSeconds) ? Math.max(0, event.wrapUpSeconds) : 0;
      if (seconds === 0) return afterCall(state, cause, at, []);
      const next: AgentState = { ...enter(state, 'wrap-up', at), call: state.call, wrapUpUntil: at + seconds * 1000, pending: state.pending };
      return accept(state, next, cause, at, [{ kind: 'start-wrap-up-timer', callId: event.callId, seconds }]);
    }

    case 'wrap-up-done':
      if (s !== 'wrap-up') return refuse('invalid-transition');
      if (event.callId !== undefined && event.callId !== state.call?.callId) return refuse('call-mismatch');
      return afterCall(state, { kind: 'wrap-up-done', ...callOf(state) }, at, [{ kind: 'cancel-wrap-up-timer', callId: state.call?.callId ?? '' }]);

    case 'force':
      return force(state, event, at, refuse);

    default:
      return refuse('invalid-event');
  }
}

function force(state: AgentState, event: ForceEvent, at: number, refuse: (code: RefusalCode) => AgentStep): AgentStep {
  const s = state.status;
  const by = event.by;
  if (event.to !== 'ready' && event.to !== 'paused' && event.to !== 'logged-out') return refuse('invalid-event');
  if (event.to === 'paused' && !validReason(event.reason)) return refuse('invalid-reason');
  const reason = event.to === 'paused' ? { code: event.reason.code, name: event.reason.name } : undefined;
  if (s === 'on-call') {
    // A call in progress is never cut: park the pause / logout, or take back a parked one.
    if (event.to === 'ready') {
      if (!state.pending) return refuse('invalid-transition');
      return accept(state, { ...state, pending: null }, { kind: 'force', by, cancelled: state.pending.kind }, at);
    }
    const pending: PendingChange = reason ? { kind: 'pause', reason } : { kind: 'logout' };
    return park(state, pending, { kind: 'force', by, ...(reason ? { reason } : {}) }, at);
  }
  if (event.to === s && event.to !== 'paused') return refuse('invalid-transition');
  const effects: AgentEffect[] = [];
  if (s === 'reserved' && state.call) effects.push({ kind: 'withdraw-offer', ...state.call, requeue: true });
  if (s === 'wrap-up' && state.call) effects.push({ kind: 'cancel-wrap-up-timer', callId: state.call.callId });
  const cause: TransitionCause = { kind: 'force', by, ...callOf(state), ...(reason ? { reason } : {}) };
  if (event.to === 'logged-out') return accept(state, loggedOut(state, at), cause, at, effects);
  if (event.to === 'ready') return accept(state, enter(state, 'ready', at, { missedOffers: 0 }), cause, at, effects);
  const since = s === 'paused' ? state.since : at;
  return accept(state, { ...enter(state, 'paused', since), pause: reason ?? null }, cause, at, effects);
}

/** The call is over for the agent: carry out a parked request, else ready. */
function afterCall(state: AgentState, cause: TransitionCause, at: number, effects: AgentEffect[], keep?: { missedOffers: number }): AgentStep {
  const p = state.pending;
  if (p?.kind === 'logout') return accept(state, loggedOut(state, at), { ...cause, applied: 'logout' }, at, effects);
  if (p?.kind === 'pause') {
    return accept(state, { ...enter(state, 'paused', at, keep), pause: p.reason }, { ...cause, applied: 'pause', reason: p.reason }, at, effects);
  }
  return accept(state, enter(state, 'ready', at, keep), cause, at, effects);
}

function park(state: AgentState, pending: PendingChange, cause: TransitionCause, at: number): AgentStep {
  return accept(state, { ...state, pending }, { ...cause, deferred: pending.kind, ...callOf(state) }, at);
}

/** A fresh state in `status`: no call, no pause, nothing parked (callers add what stays). */
function enter(state: AgentState, status: AgentStatus, since: number, keep?: { missedOffers: number }): AgentState {
  return { status, since, pause: null, call: null, wrapUpUntil: null, missedOffers: keep?.missedOffers ?? state.missedOffers, pending: null };
}

function loggedOut(state: AgentState, at: number): AgentState {
  return enter(state, 'logged-out', at, { missedOffers: 0 });
}

function callOf(state: AgentState): { callId?: string; queueId?: string } {
  return state.call ? { callId: state.call.callId, queueId: state.call.queueId } : {};
}

function accept(from: AgentState, state: AgentState, cause: TransitionCause, at: number, effects: readonly AgentEffect[] = []): AgentStep {
  return { ok: true, state, record: { from: from.status, to: state.status, cause, at }, effects };
}

export function validReason(reason: PauseReason | undefined): boolean {
  return (
    typeof reason === 'object' && reason !== null &&
    Number.isInteger(reason.code) && reason.code >= 1 &&
    typeof reason.name === 'string' && reason.name.trim() !== ''
  );
}
