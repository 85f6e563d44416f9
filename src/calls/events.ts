/**
 * The events of a call session: what Asterisk reports about its channels, what its timers and
 * background work (HTTP lookups, the ACD engine) report back, and what the dispatcher asks of it.
 * The session handles them one at a time, in order; the active runner gets those that are its own.
 * Types only, and none of a runner's: runners import these, never the other way round.
 */
import type { FlowEvent } from './flow.js';
import type { DialEvent } from './dial-flow.js';
import type { TransferRequest } from './transfer.js';
import type { OfferedAgent } from '../acd/engine.js';
import type { TransferTarget } from '../ivr/model.js';
import type { LookupResult } from '../ivr/port.js';
import type { SupervisionMode } from '../supervision/model.js';
import type { Actor } from '../audit/repository.js';
import type { CampaignStart } from './campaign-originate.js';

/** What an IVR flow run takes (ivr-call.ts). */
export type IvrEvent =
  | { readonly type: 'ivr-timeout'; readonly gen: number }
  | { readonly type: 'ivr-lookup'; readonly requestId: string; readonly result: LookupResult }
  /**
   * `fromLeg`: pressed on the other side of a connected call (the agent, the callee), not by the
   * caller. `fromPhone`: on one of our extensions' phones (not a carrier's trunk): only those may
   * use the handset's recording key.
   */
  | { readonly type: 'dtmf'; readonly digit: string; readonly fromLeg?: boolean; readonly fromPhone?: boolean }
  | { readonly type: 'playback-finished'; readonly playbackId: string };

/** What the ACD engine tells a caller waiting in a queue (queue-call.ts). */
export type QueueEvent =
  | { readonly type: 'queue-offer'; readonly agents: readonly OfferedAgent[]; readonly ringTimeoutSeconds: number }
  | { readonly type: 'queue-withdraw'; readonly agentId: string }
  | { readonly type: 'queue-leave'; readonly target: TransferTarget | null }
  | { readonly type: 'queue-announce'; readonly position: number; readonly waitSeconds: number | null }
  /** The caller has waited long enough to be offered a callback. */
  | { readonly type: 'queue-callback-offer' }
  /** Asterisk did not answer the caller (who may have hung up meanwhile). */
  | { readonly type: 'queue-answer-failed'; readonly reason: string };

export type SessionEvent =
  | { readonly type: 'stasis-start' }
  /** `peerRinging`: the peer leg was still being dialed (not answered) when the daemon went away. */
  | { readonly type: 'adopt'; readonly mode: string; readonly peer: string | null; readonly peerRinging?: boolean; readonly bridgeId: string | null; readonly recording: string | null }
  | FlowEvent
  | Exclude<DialEvent, { type: 'a-ended' | 'dial' | 'no-connect' | 'target-missing' }>
  | { readonly type: 'hold'; readonly channelId: string; readonly on: boolean }
  | ({ readonly type: 'transfer' } & TransferRequest)
  | { readonly type: 'recording-ended'; readonly name: string; readonly ok: boolean }
  | { readonly type: 'menu-timeout'; readonly gen: number }
  | Extract<IvrEvent, { type: 'ivr-timeout' | 'ivr-lookup' }>
  | QueueEvent
  | { readonly type: 'agent-timeout'; readonly gen: number }
  /** The agent answered a callback (this session's channel is the agent's): call the customer. */
  | { readonly type: 'callback-start'; readonly callbackId: string; readonly agentId: string; readonly customer: string }
  /** A campaign's contact answered (after AMD when asked) and reached the app (campaign-call.ts); `at`: when it did. */
  | { readonly type: 'campaign-start'; readonly start: CampaignStart; readonly at: Date }
  /** The campaign contact's wait for an agent is over (connect deadline): the abandon message. */
  | { readonly type: 'campaign-deadline' }
  /** The supervisor's phone, rung for an API request (`supervisionId`), answered (supervise-call.ts). */
  | { readonly type: 'supervise-start'; readonly supervisionId: string }
  /** The agent's phone, rung for a preview offer (`attemptId`), answered (preview-call.ts). */
  | { readonly type: 'preview-start'; readonly attemptId: string }
  /** The API switches a supervision session's mode, or ends it. */
  | { readonly type: 'supervise-mode'; readonly mode: SupervisionMode; readonly by: Actor }
  | { readonly type: 'supervise-end'; readonly by: Actor }
  /** The channel a supervision session snoops on is gone. */
  | { readonly type: 'supervise-target-gone' }
  | { readonly type: 'hangup-request'; readonly cause: number | null }
  | { readonly type: 'stasis-end' }
  | { readonly type: 'destroyed'; readonly cause: number | null; readonly causeText: string | null }
  | { readonly type: 'lost'; readonly lastSeen: Date };
