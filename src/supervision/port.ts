/**
 * What a supervisor's call (src/calls/supervise-call.ts) needs from the rest of the daemon: who may
 * supervise, where the agent or extension is, a snoop on its channel, the register of sessions the
 * API sees, and the audit log. Implemented by SupervisionService (service.ts); types only here, so
 * src/calls imports this and nothing else of src/supervision but the pure model.
 */
import type { Actor } from '../audit/repository.js';
import type { SnoopDirections, SupervisionEnd, SupervisionMode, SupervisionTarget, TargetLookup } from './model.js';

/** A session the API asked for, waiting for the supervisor's phone to answer. */
export interface PendingSupervision {
  readonly id: string;
  readonly supervisorExtension: string;
  readonly target: SupervisionTarget;
  readonly mode: SupervisionMode;
  readonly actor: Actor;
}

/** A session in progress, as the register and the audit log know it. */
export interface SupervisionInfo {
  readonly id: string;
  readonly supervisorExtension: string;
  readonly target: SupervisionTarget;
  /** The supervised call and the party snooped on. */
  readonly callId: string;
  /** The channel snooped on: the agent's or extension's, on that call. */
  readonly channelId: string;
  readonly extension: string | null;
  readonly agent: string | null;
  readonly mode: SupervisionMode;
  readonly startedAt: Date;
  readonly actor: Actor;
}

/** How the API reaches a session in progress: each is carried out in the supervisor's call, in order. */
export interface SupervisionHandle {
  switchTo(mode: SupervisionMode, by: Actor): void;
  end(by: Actor): void;
  /** The channel snooped on is gone (the agent or the customer hung up): the session ends. */
  targetGone(): void;
}

export type SupervisionRefusal = 'not-permitted' | 'unknown' | 'not-on-call' | 'unavailable';

export interface SupervisionPort {
  /** The extension may supervise from its phone (its canSupervise flag). */
  mayDial(extension: string): Promise<boolean>;
  find(target: SupervisionTarget): Promise<TargetLookup>;
  /** A snoop on `targetChannelId` named `snoopId`; it enters the app as a leg of `owner`'s call. */
  snoop(o: { readonly targetChannelId: string; readonly snoopId: string; readonly directions: SnoopDirections; readonly owner: string }): Promise<void>;
  /** The API's request for the session `id` (the supervisor answered); null when unknown or taken. */
  claim(id: string): PendingSupervision | null;
  opened(info: SupervisionInfo, handle: SupervisionHandle): void;
  changed(id: string, from: SupervisionMode, to: SupervisionMode, by: Actor): void;
  closed(id: string, reason: SupervisionEnd): void;
  /** A session that never started: who tried, whom, and why not. */
  refused(by: Actor, supervisorExtension: string, target: SupervisionTarget, why: SupervisionRefusal): void;
  /**
   * A channel of ours was destroyed (the dispatcher tells every one): sessions snooping on it end.
   * The snoop channel itself was not seen to end with its target on Asterisk 22.10 (e2e), so
   * this, not the snoop's end, is what ends a session when the agent or the customer hangs up.
   */
  channelGone(channelId: string): void;
}

/** The actor an audit row names for a desk phone. */
export function phoneActor(extension: string): Actor {
  return { userId: null, tokenId: null, label: `extension:${extension}`, requestId: null };
}

/**
 * The supervisor's phone rung for an API request is a channel with this id prefix (the request's id).
 * It is in the app from the originate on, before it answers: a restarted daemon must not take it for
 * a caller; its answer (StasisStart `supervise`) starts the session the recovered request waits for.
 */
export const SUPERVISION_REQUEST_PREFIX = 'sv-';

/** Supervision bridges (the supervisor and a snoop) have ids with this prefix: never a call's bridge. */
export const SUPERVISION_BRIDGE_PREFIX = 'supervision-';
