/**
 * Pure CDR arithmetic: from what we know of a call (times, cause) to one CDR row.
 * Disposition follows Asterisk's own CDR rules: answered -> ANSWERED; otherwise
 * busy (17) -> BUSY, no answer / caller abandoned (16, 18, 19) or unknown -> NO ANSWER, anything else FAILED.
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
}

export interface CallEnd {
  readonly endedAt: Date;
  readonly cause: number | null;
  readonly causeText: string | null;
  /** transfer: this part of the call ended when one side transferred the other away. */
  /** callback: the caller left the queue asking to be called back (the callback is its own CDR, linked). */
  readonly endedBy: 'caller' | 'system' | 'transfer' | 'callback' | 'unknown';
  /** True when the end was inferred after a restart or reconnect instead of observed. */
  readonly reconciled: boolean;
}

const NO_ANSWER_CAUSES = new Set([16, 18, 19]);
const BUSY = 17;

export function dispositionOf(answered: boolean, cause: number | null): Disposition {
  if (answered) return 'ANSWERED';
  if (cause === BUSY) return 'BUSY';
  if (cause === null || NO_ANSWER_CAUSES.has(cause)) return 'NO ANSWER';
  return 'FAILED';
}

export function buildCdr(call: CallFacts, end: CallEnd): NewCdr {
  const endedMs = Math.max(end.endedAt.getTime(), call.startedAt.getTime());
  const answeredMs = call.answeredAt ? Math.min(Math.max(call.answeredAt.getTime(), call.startedAt.getTime()), endedMs) : null;
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
    billable_seconds: answeredMs === null ? 0 : Math.floor((endedMs - answeredMs) / 1000),
    hangup_cause: end.cause,
    hangup_cause_text: end.causeText,
    disposition: dispositionOf(answeredMs !== null, end.cause),
    ended_by: end.endedBy,
    digits: call.digits,
    reconciled: end.reconciled,
    linked_id: call.linkedId ?? call.callId,
    ivr_path: call.ivr ? JSON.stringify(call.ivr) : null,
  };
}

/** Caller-controlled text is stored, never interpreted; cap it so a 10 kB caller id cannot bloat rows. */
export function cleanCallerText(value: string | undefined | null, max = 80): string | null {
  if (value === undefined || value === null || value === '') return null;
  // eslint-disable-next-line no-control-regex
  const cleaned = value.replace(/[\u0000-\u001f\u007f]/g, '').slice(0, max);
  return cleaned === '' ? null : cleaned;
}
