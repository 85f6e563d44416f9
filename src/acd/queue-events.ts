/**
 * Queue events (docs/queue-events.md): which queue_events row a step of a queue call writes. Pure;
 * the repository (call-repository.ts) writes the row in the same statement or transaction as the
 * state it describes.
 *
 *   agentQueueEvents    an agent's state change -> offer, ring-no-answer, answer, transfer, end (or none)
 *   agentCallFigures    what the agent's row keeps through wrap-up for the end event
 *   leftQueueEventType  a caller leaving the queue (queue_call_log outcome) -> abandon, overflow,
 *                       timeout, callback-requested (answered: none, the answer is the agent's)
 */
import type { AgentState, TransitionRecord } from './agent-state.js';
import type { NewQueueEvent, QueueCallOutcome, QueueEventType } from './tables.js';

/** What the queue knows of the call and the agent state machine does not. */
export interface QueueCallFacts {
  /** When the caller joined the queue (epoch ms): an answer's wait. */
  readonly enqueuedAt?: number;
  /** Time the call spent on hold, either side (ms): at its hang-up. */
  readonly holdMs?: number;
  /** The agent blind-transferred the call to this number (it ends for the agent there). */
  readonly transferTo?: string;
}

/** The agent before the change, as far as queue events need it. */
export interface AgentBefore {
  readonly state: Pick<AgentState, 'status' | 'since' | 'call'>;
  /** In wrap-up: the call's talk and hold (agents.call_talk_ms / call_hold_ms). */
  readonly callTalkMs: number | null;
  readonly callHoldMs: number | null;
}

export interface QueueEvent {
  readonly type: QueueEventType;
  readonly at: Date;
  readonly queueId: string;
  readonly callId: string;
  readonly agentId?: string | null;
  readonly callerNumber?: string | null;
  readonly waitMs?: number | null;
  readonly talkMs?: number | null;
  readonly holdMs?: number | null;
  readonly wrapUpMs?: number | null;
  readonly details?: Record<string, unknown> | null;
}

const ID = /^[0-9]{1,18}$/;
const ms = (n: number): number => Math.max(0, Math.round(n));
/** Statuses in which the agent is handling an answered call. */
const HANDLING = new Set(['on-call', 'wrap-up']);

/** At most two: a transfer and, without wrap-up, the end it brings. */
export type AgentQueueEvents = readonly [] | readonly [QueueEvent] | readonly [QueueEvent, QueueEvent];

/**
 * The queue events of one accepted agent state change (agentQueueEvent), with a 'transfer' before
 * it when the call ended by the agent's blind transfer (details.target; the answered call's end,
 * at once or after wrap-up, follows as usual).
 */
export function agentQueueEvents(agentId: string, before: AgentBefore, record: TransitionRecord, facts: QueueCallFacts = {}): AgentQueueEvents {
  const ev = agentQueueEvent(agentId, before, record, facts);
  const call = before.state.call;
  if (facts.transferTo === undefined || record.cause.kind !== 'call-ended' || record.from !== 'on-call' || !call || !ID.test(call.queueId)) return ev ? [ev] : [];
  const transfer: QueueEvent = { type: 'transfer', at: new Date(record.at), queueId: call.queueId, callId: call.callId, agentId, details: { target: facts.transferTo, kind: 'blind' } };
  return ev ? [transfer, ev] : [transfer];
}

/**
 * The queue event of one accepted agent state change, or null:
 *   - offer (ready -> reserved): 'offer'
 *   - reject / ring-timeout (the offer ends unanswered): 'ring-no-answer', details.cause
 *   - answer (reserved -> on-call): 'answer', wait_ms = answer - join
 *   - leaving the handling of an answered call (on-call or wrap-up -> ready, paused, logged-out):
 *     'end' with talk (answer to hang-up, less hold), hold, and wrap-up (hang-up to now; 0 without)
 * A call whose queue id is not a queue's (a callback restored without one) writes nothing.
 */
export function agentQueueEvent(agentId: string, before: AgentBefore, record: TransitionRecord, facts: QueueCallFacts = {}): QueueEvent | null {
  const c = record.cause;
  const at = new Date(record.at);
  const call = before.state.call ?? (c.callId && c.queueId ? { callId: c.callId, queueId: c.queueId } : null);
  const queueId = c.kind === 'offer' ? c.queueId : call?.queueId;
  const callId = c.kind === 'offer' ? c.callId : call?.callId;
  if (!queueId || !callId || !ID.test(queueId)) return null;
  const base = { at, queueId, callId, agentId };
  if (c.kind === 'offer' && record.to === 'reserved') return { ...base, type: 'offer' };
  if ((c.kind === 'reject' || c.kind === 'ring-timeout') && record.from === 'reserved') {
    return { ...base, type: 'ring-no-answer', details: { cause: c.kind } };
  }
  if (c.kind === 'answer' && record.to === 'on-call') {
    return { ...base, type: 'answer', waitMs: facts.enqueuedAt === undefined ? null : ms(record.at - facts.enqueuedAt) };
  }
  if (HANDLING.has(record.from) && !HANDLING.has(record.to)) {
    const fromCall = record.from === 'on-call';
    const call = fromCall ? talkAndHold(before, record, facts) : { talk: ms(before.callTalkMs ?? 0), hold: ms(before.callHoldMs ?? 0) };
    return {
      ...base,
      type: 'end',
      talkMs: call.talk,
      holdMs: call.hold,
      wrapUpMs: fromCall ? 0 : ms(record.at - before.state.since),
      details: { endedBy: c.kind === 'force' ? 'supervisor' : c.kind, ...(facts.transferTo !== undefined && fromCall ? { transferred: true } : {}) },
    };
  }
  return null;
}

/** An answered call at its hang-up: hold, and talk = answer to hang-up less hold (AHT = talk + hold + wrap-up). */
function talkAndHold(before: AgentBefore, record: TransitionRecord, facts: QueueCallFacts): { talk: number; hold: number } {
  const connected = ms(record.at - before.state.since);
  const hold = Math.min(connected, ms(facts.holdMs ?? 0));
  return { talk: connected - hold, hold };
}

/**
 * What the agent's row keeps of the call through wrap-up: set when an answered call ends into
 * wrap-up (talk and hold, talkAndHold), cleared when wrap-up is over; undefined: unchanged.
 */
export function agentCallFigures(before: AgentBefore, record: TransitionRecord, facts: QueueCallFacts = {}): { call_talk_ms: number | null; call_hold_ms: number | null } | undefined {
  if (record.from === 'on-call' && record.to === 'wrap-up') {
    const { talk, hold } = talkAndHold(before, record, facts);
    return { call_talk_ms: talk, call_hold_ms: hold };
  }
  if (record.from === 'wrap-up' && record.to !== 'wrap-up') return { call_talk_ms: null, call_hold_ms: null };
  return undefined;
}

const LEFT: Readonly<Record<QueueCallOutcome, QueueEventType | null>> = {
  answered: null,
  abandoned: 'abandon',
  overflow: 'overflow',
  timeout: 'timeout',
  callback: 'callback-requested',
};

/** The event of a caller leaving the queue this way (null: answered, written as the agent's answer). */
export const leftQueueEventType = (outcome: QueueCallOutcome): QueueEventType | null => LEFT[outcome];

/** The queue_events row of an event. */
export function queueEventRow(e: QueueEvent): NewQueueEvent {
  return {
    at: e.at,
    queue_id: e.queueId,
    call_id: e.callId.slice(0, 64),
    type: e.type,
    agent_id: e.agentId ?? null,
    caller_number: e.callerNumber == null ? null : e.callerNumber.slice(0, 32),
    wait_ms: e.waitMs ?? null,
    talk_ms: e.talkMs ?? null,
    hold_ms: e.holdMs ?? null,
    wrap_up_ms: e.wrapUpMs ?? null,
    details: e.details ? JSON.stringify(e.details) : null,
  };
}
