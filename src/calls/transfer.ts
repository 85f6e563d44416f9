/**
 * Transfers by a desk phone (SIP REFER, handled by us through ARI: ChannelTransfer). Pure: what to
 * do with a transfer request, and the facts of the call's next part.
 *
 * Blind (Refer-To names a number):
 *   A --bridge-- B   B sends REFER to C   ->  B leaves (its part's CDR is written), A waits with music
 *   on hold while C rings (the dial flow: forwards, busy, voicemail as for any call to C), C answers
 *   -> A --bridge-- C, B's phone is told "200 OK" (NOTIFY) and hangs up.
 *
 * Attended (Refer-To carries Replaces naming B's other call, the consultation):
 *   A --call 1-- B(line 1)    B(line 2) --call 2-- C    B sends REFER on one line replacing the other
 *   -> both of B's lines leave; A and C are joined in one of the two calls (the survivor), the other
 *   call ends with its CDR. The survivor is the call whose remaining party is its caller (so the
 *   caller stays the caller); when B placed both calls, the REFER's call survives and its remaining
 *   party becomes the caller of the joined part.
 *
 * Each part of a transferred call has its own CDR (its own call id); all parts, and a consultation
 * call joined into it, share linkedId: the first part's call id.
 */
import type { CallFacts } from './cdr.js';
import { initialDialState, type DialState, type NoConnect } from './dial-flow.js';
import type { TransferProgress } from '../telephony/ari-types.js';
import type { RecordingCarry } from './call-recording.js';

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
  return decideLegTransfer(dial.phase === 'bridged' ? dial.legId : null, callerChannelId, req);
}

/**
 * The same for a call whose connected leg B is `connectedLeg` (null: not connected), e.g. a queue
 * call's agent: only B may transfer, and only blind.
 */
export function decideLegTransfer(connectedLeg: string | null, callerChannelId: string, req: TransferRequest): TransferDecision {
  if (req.replaces) return { kind: 'decline', why: 'attended' };
  if (!connectedLeg) return { kind: 'decline', why: 'not-connected' };
  if (req.channelId === callerChannelId) return { kind: 'decline', why: 'caller-transfer' };
  if (req.channelId !== connectedLeg) return { kind: 'decline', why: 'not-connected' };
  const destination = req.destination?.trim() ?? '';
  if (!DESTINATION.test(destination)) return { kind: 'decline', why: 'no-destination' };
  return { kind: 'blind', transfererLeg: connectedLeg, destination };
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

/** One call as seen from the transferring phone's channel on it (for an attended transfer). */
export interface TransferSide {
  /** The transferring phone's channel on this call: it leaves. */
  readonly leaving: string;
  /** The other party of this call, who stays. */
  readonly remaining: string;
  /** Whether `remaining` is the call's caller channel (leg A) rather than a leg we dialed. */
  readonly remainingIsCaller: boolean;
  /** Who `remaining` is: their number and name as this call knows them. */
  readonly number: string | null;
  readonly name: string | null;
  /** The linked id of this call's parts. */
  readonly linkedId: string;
  /** Set by the call that hands its party over: its recording, stopped there, for the joined part to carry on. */
  readonly recording?: RecordingCarry | null;
}

export type AttendedPlan =
  | { readonly kind: 'join'; readonly survivor: 'referrer' | 'replaced' }
  | { readonly kind: 'decline'; readonly why: 'referrer-not-connected' | 'replaced-not-connected' | 'same-call' };

/**
 * Which of the two calls carries on with A and C joined. `referrer` is the call the REFER came in
 * on, `replaced` the one its Replaces names; null when that call is not connected (still ringing,
 * unknown, in voicemail...).
 */
export function planAttendedTransfer(referrer: TransferSide | null, replaced: TransferSide | null): AttendedPlan {
  if (!referrer) return { kind: 'decline', why: 'referrer-not-connected' };
  if (!replaced) return { kind: 'decline', why: 'replaced-not-connected' };
  if (referrer.remaining === replaced.leaving || referrer.leaving === replaced.leaving) return { kind: 'decline', why: 'same-call' };
  if (referrer.remainingIsCaller) return { kind: 'join', survivor: 'referrer' };
  if (replaced.remainingIsCaller) return { kind: 'join', survivor: 'replaced' };
  return { kind: 'join', survivor: 'referrer' };
}

/** The surviving call's next part: its remaining party (now the caller) talking to the joined one. */
export function joinedPartFacts(current: CallFacts, part: number, kept: TransferSide, joined: TransferSide, now: Date): CallFacts {
  const linkedId = current.linkedId ?? current.callId;
  return {
    callId: `${linkedId}-t${part}`,
    linkedId,
    direction: current.direction,
    callerNumber: kept.remainingIsCaller ? current.callerNumber : kept.number,
    callerName: kept.remainingIsCaller ? current.callerName : kept.name,
    dialedNumber: joined.number,
    startedAt: now,
    answeredAt: now,
    digits: '',
    // The joined party was answered already (its own call): this part's talk starts now.
    party: { answeredBy: joined.number, agent: null, connectedAt: now },
  };
}

/** What the transferring phone is told when the target does not connect. */
export function failureProgress(why: NoConnect | 'busy' | 'no_answer' | 'unallocated' | 'normal'): TransferProgress {
  return why === 'busy' ? 'channel_declined' : 'channel_unavailable';
}
