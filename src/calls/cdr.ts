/**
 * Pure CDR arithmetic: from what we know of a call (times, cause) to one CDR row.
 * How a call ended (callEnding) decides its disposition and the cause it records; the table with
 * the SIP responses is in docs/calls-and-routing.md#dispositions.
 */
import type { Direction, Disposition, NewCdr } from './tables.js';
import type { IvrRecord } from '../ivr/port.js';

export interface CallFacts {
  readonly callId: string;
  readonly direction: Direction;
  readonly callerNumber: string | null;
  readonly callerName: string | null;
  readonly dialedNumber: string | null;
  readonly startedAt: Date;
  readonly answeredAt: Date | null;
  readonly digits: string;
  /** The first part's callId when this call is the part after a transfer; absent: the call itself. */
  readonly linkedId?: string;
  /** The IVR flows the caller went through and their path (nodes, digits, lookups). */
  readonly ivr?: IvrRecord;
  /** The queue the caller joined (the last one, after an overflow from queue to queue). */
  readonly queue?: string | null;
  /**
   * The party that answered: the extension (or outside number) finally dialed after forwards, or
   * the agent's extension; with `agent` (the agent's number) for a queue call. `connectedAt`: when
   * it answered. Absent when no person answered (the caller heard only the system: voicemail, a flow).
   */
  readonly party?: CallParty | null;
  /** A supervisor joined the call (listen, whisper or barge: docs/supervision.md). */
  readonly monitored?: boolean;
  /** The agent on the call before anyone answered: a queue callback's agent, who placed it (docs/acd.md#callbacks). */
  readonly agent?: string | null;
}

export interface CallParty {
  readonly answeredBy: string | null;
  readonly agent: string | null;
  readonly connectedAt: Date;
}

/** Who ended the call: `callee` (a dialed extension or number) or `agent` hung up first. */
export type EndedBy = 'caller' | 'callee' | 'agent' | 'system' | 'transfer' | 'callback' | 'unknown';

export interface CallEnd {
  readonly endedAt: Date;
  readonly cause: number | null;
  readonly causeText: string | null;
  /** transfer: this part of the call ended when one side transferred the other away. */
  /** callback: the caller left the queue asking to be called back (the callback is its own CDR, linked). */
  readonly endedBy: EndedBy;
  /** True when the end was inferred after a restart or reconnect instead of observed. */
  readonly reconciled: boolean;
  /**
   * How the last leg the call dialed ended, when it never connected (busy, declined, unreachable,
   * congested, rang out): the caller's own cause is only the refusal the daemon chose to send.
   */
  readonly dialed?: { readonly cause: number | null; readonly causeText: string | null } | null;
  /**
   * The caller was still waiting for a person when the call ended (ringing an extension, queued):
   * no talk time, whatever the system answered before. Otherwise, with no party, talk runs from
   * the system's answer (the caller was served by voicemail, a flow, the test service).
   */
  readonly waiting?: boolean;
}

/** Q.850 causes (Asterisk's names and texts) that decide a disposition. */
export const CAUSE = {
  normalClearing: { cause: 16, causeText: 'Normal Clearing' },
  userBusy: { cause: 17, causeText: 'User busy' },
  subscriberAbsent: { cause: 20, causeText: 'Subscriber absent' },
  /** The daemon refused a new call, overloaded (docs/operations.md#overload); SIP 503. */
  congestion: { cause: 34, causeText: 'Circuit/channel congestion' },
} as const;

const NO_ANSWER_CAUSES = new Set([16, 18, 19]);
const BUSY = 17;
/** On a dialed leg: the callee's user declined (603). On the caller's channel: the daemon refused a number not permitted. */
const CALL_REJECTED = 21;

/** The disposition the caller channel's cause means, as Asterisk's CDRs have it. */
export function dispositionOf(answered: boolean, cause: number | null): Disposition {
  if (answered) return 'ANSWERED';
  if (cause === BUSY) return 'BUSY';
  if (cause === null || NO_ANSWER_CAUSES.has(cause)) return 'NO ANSWER';
  return 'FAILED';
}

/** The disposition a dialed leg's cause means: a decline (21) is BUSY, a person's refusal (docs). */
function legDisposition(cause: number): Disposition {
  return cause === CALL_REJECTED ? 'BUSY' : dispositionOf(false, cause);
}

export interface CallEnding {
  readonly disposition: Disposition;
  readonly cause: number | null;
  readonly causeText: string | null;
}

/**
 * How a call ended, for its CDR:
 * - answered: ANSWERED, with the caller channel's cause;
 * - the caller hung up before any answer (a CANCEL while it rang): NO ANSWER, cause 16. Asterisk
 *   gives the caller's channel 127 (Interworking: its mapping of the 487 it answers the CANCEL
 *   with), which says nothing of what happened; Q.850 16 is the calling user clearing the call;
 * - the daemon refused the caller after dialing a leg that never connected: the leg's cause says
 *   what happened (17 busy, 21 declined, 20 unreachable, 34 congested...), unless it only says the
 *   daemon cancelled it (16, or none: the ring timeout); then the refusal it sent the caller does;
 * - otherwise the caller channel's cause (1 no route, 21 not permitted, 19 ring timeout, 17 do not disturb...).
 */
export function callEnding(answered: boolean, end: CallEnd): CallEnding {
  if (answered) return { disposition: 'ANSWERED', cause: end.cause, causeText: end.causeText };
  if (end.endedBy === 'caller') return { disposition: 'NO ANSWER', ...CAUSE.normalClearing };
  const leg = end.dialed;
  if (end.endedBy === 'system' && leg && leg.cause !== null && leg.cause !== 0 && leg.cause !== CAUSE.normalClearing.cause) {
    return { disposition: legDisposition(leg.cause), cause: leg.cause, causeText: leg.causeText };
  }
  return { disposition: dispositionOf(false, end.cause), cause: end.cause, causeText: end.causeText };
}

export function buildCdr(call: CallFacts, end: CallEnd): NewCdr {
  const endedMs = Math.max(end.endedAt.getTime(), call.startedAt.getTime());
  const answeredMs = call.answeredAt ? Math.min(Math.max(call.answeredAt.getTime(), call.startedAt.getTime()), endedMs) : null;
  const ending = callEnding(answeredMs !== null, end);
  const times = callTimes(call, end, call.startedAt.getTime(), answeredMs, endedMs);
  const party = answeredMs === null ? null : (call.party ?? null);
  return {
    call_id: call.callId,
    direction: call.direction,
    caller_number: call.callerNumber,
    caller_name: call.callerName,
    dialed_number: call.dialedNumber,
    started_at: call.startedAt,
    answered_at: answeredMs === null ? null : new Date(answeredMs),
    ended_at: new Date(endedMs),
    duration_seconds: Math.floor((endedMs - call.startedAt.getTime()) / 1000),
    billable_seconds: times.talk,
    hangup_cause: ending.cause,
    hangup_cause_text: ending.causeText,
    disposition: ending.disposition,
    ended_by: end.endedBy,
    digits: call.digits,
    reconciled: end.reconciled,
    linked_id: call.linkedId ?? call.callId,
    ivr_path: call.ivr ? JSON.stringify(call.ivr) : null,
    answered_by: party?.answeredBy ?? null,
    agent: party?.agent ?? call.agent ?? null,
    queue: call.queue ?? null,
    wait_seconds: times.wait,
    talk_seconds: times.talk,
    monitored: call.monitored ?? false,
  };
}

/**
 * Where the time went (docs/calls-and-routing.md#cdrs): talk runs from the answer of the party
 * that answered (the callee or agent; the system when the caller was served by it alone) to the
 * end, and is what is billable; wait is everything before it (ringing, the IVR, the queue), or
 * the whole call when nobody answered. Whole seconds, each rounded down.
 */
function callTimes(call: CallFacts, end: CallEnd, startMs: number, answeredMs: number | null, endedMs: number): { wait: number; talk: number } {
  const connectedMs = call.party ? Math.min(Math.max(call.party.connectedAt.getTime(), startMs), endedMs) : null;
  const talkFrom = answeredMs === null ? null : (connectedMs ?? (end.waiting ? null : answeredMs));
  return {
    wait: Math.floor(((talkFrom ?? endedMs) - startMs) / 1000),
    talk: talkFrom === null ? 0 : Math.floor((endedMs - talkFrom) / 1000),
  };
}

/** Caller-controlled text is stored, never interpreted; cap it so a 10 kB caller id cannot bloat rows. */
export function cleanCallerText(value: string | undefined | null, max = 80): string | null {
  if (value === undefined || value === null || value === '') return null;
  // eslint-disable-next-line no-control-regex
  const cleaned = value.replace(/[\u0000-\u001f\u007f]/g, '').slice(0, max);
  return cleaned === '' ? null : cleaned;
}
