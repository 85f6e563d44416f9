/**
 * Blind transfer by the dialed phone (SIP REFER, handled by us through ARI: ChannelTransfer).
 * Pure: what to do with a transfer request, and the facts of the call's next part.
 *
 *   A --bridge-- B   B sends REFER to C   ->  B leaves (its part's CDR is written), A waits with music
 *   on hold while C rings (the dial flow: forwards, busy, voicemail as for any call to C), C answers
 *   -> A --bridge-- C, B's phone is told "200 OK" (NOTIFY) and hangs up.
 *
 * Each part of a transferred call has its own CDR (its own call id); all parts share linkedId,
 * the first part's call id.
 */
import type { CallFacts } from './cdr.js';
import { initialDialState, type DialState, type NoConnect } from './dial-flow.js';
import type { TransferProgress } from '../telephony/ari-types.js';

export interface TransferRequest {
  /** The channel the REFER came in on. */
  readonly channelId: string;
  /** Blind: the user part of Refer-To. */
  readonly destination: string | null;
  /** Attended (Refer-To with Replaces): the SIP Call-ID of the call to replace. */
  readonly replaces: string | null;
}

export type TransferDecision =
  | { readonly kind: 'blind'; readonly transfererLeg: string; readonly destination: string }
  | { readonly kind: 'decline'; readonly why: 'not-connected' | 'caller-transfer' | 'attended' | 'no-destination' };

/** Destinations a phone may name in Refer-To (what a desk phone dials). */
const DESTINATION = /^[0-9*#+]{1,32}$/;

/**
 * Only the dialed side (leg B) of a connected call may transfer, and only blind.
 * A transfer by the caller (leg A) would make B the caller of the next part: not supported yet.
 */
export function decideTransfer(dial: DialState, callerChannelId: string, req: TransferRequest): TransferDecision {
  if (req.replaces) return { kind: 'decline', why: 'attended' };
  if (dial.phase !== 'bridged' || !dial.legId) return { kind: 'decline', why: 'not-connected' };
  if (req.channelId === callerChannelId) return { kind: 'decline', why: 'caller-transfer' };
  if (req.channelId !== dial.legId) return { kind: 'decline', why: 'not-connected' };
  const destination = req.destination?.trim() ?? '';
  if (!DESTINATION.test(destination)) return { kind: 'decline', why: 'no-destination' };
  return { kind: 'blind', transfererLeg: dial.legId, destination };
}

/** The call's next part: same caller, the transfer target dialed, a fresh call id linked to the first. */
export function nextPartFacts(current: CallFacts, part: number, destination: string, now: Date): CallFacts {
  const linkedId = current.linkedId ?? current.callId;
  return {
    callId: `${linkedId}-t${part}`,
    linkedId,
    direction: current.direction,
    callerNumber: current.callerNumber,
    callerName: current.callerName,
    dialedNumber: destination,
    startedAt: now,
    answeredAt: null,
    digits: '',
  };
}

/**
 * The dial state to ring the transfer target from: the caller is already answered (no ringing
 * back to it), and the transferring extension counts as tried (a forward back to it is a loop).
 */
export function transferDialState(previous: DialState): DialState {
  return { ...initialDialState, tried: previous.current ? [previous.current] : [] };
}

/** What the transferring phone is told when the target does not connect. */
export function failureProgress(why: NoConnect | 'busy' | 'no_answer' | 'unallocated' | 'normal'): TransferProgress {
  return why === 'busy' ? 'channel_declined' : 'channel_unavailable';
}
