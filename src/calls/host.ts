/**
 * What every runner uses of its call session (the host): the caller's channel, the session's one
 * timer and event queue, and the call's facts. The session owns all of these; a runner owns only
 * its own machine's state. Each runner's host interface extends this one with what it alone needs.
 */
import type { Logger } from '../logger.js';
import type { CallControl, HangupReason } from '../telephony/ari-types.js';
import type { CallFacts, EndedBy } from './cdr.js';
import type { SessionEvent } from './events.js';

export interface CallHost {
  /** The caller's channel (leg A); it changes only in an attended transfer. */
  readonly channelId: string;
  readonly log: Logger;
  readonly control: CallControl;
  /** The call's facts now (its callId changes when the call is transferred). */
  facts(): CallFacts;
  now(): Date;
  answerCaller(): Promise<void>;
  /** `by`: the other side (the callee, the agent) hung up first and this ends the caller's side too (the CDR's endedBy). */
  hangupCaller(reason: HangupReason, by?: Extract<EndedBy, 'callee' | 'agent'>): Promise<void>;
  /** A person answered: the dialed extension or number (after forwards), or an agent (`agent`: their number). The CDR's talk time starts now. */
  partyAnswered(answeredBy: string | null, agent?: string | null): void;
  /**
   * Create the call's bridge (the caller and the other party). It raises key events (Asterisk
   * decodes its media) only where the handset's recording key can do something: policy not
   * `never`, and one of the two is one of our phones (`peerIsPhone`: the other party is);
   * elsewhere Asterisk relays the media natively (docs/recording.md#from-the-handset).
   */
  createCallBridge(bridgeId: string, peerIsPhone: boolean): Promise<void>;
  /** The session's one timer: `event` is queued to the session when it fires (a new timer replaces the old). */
  setTimer(ms: number, event: SessionEvent): void;
  clearTimer(): void;
  /** Queue an event to the session (background work reporting back: a lookup, the ACD engine). */
  deliver(event: SessionEvent): void;
}
