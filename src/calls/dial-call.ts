/**
 * The dial runner of a call session (dial-flow.ts): rings the dialed extension or outside number
 * for the caller, follows its forwards, bridges the two legs when it answers and hands the caller
 * to its voicemail when it does not. A connected call may be blind-transferred by the dialed phone
 * (transfer.ts): the session ends the call's part and starts the next, which this runner dials.
 * In an attended transfer the session asks this runner for the call's side (side, letGo, joined).
 * A queue callback is a dial too: its outcome goes back to the ACD.
 */
import { randomUUID } from 'node:crypto';
import type { TransferProgress } from '../telephony/ari-types.js';
import { AppError } from '../errors.js';
import { logRejection, logRejectionUnlessGone } from '../shared/log-rejection.js';
import { silentPort, type AcdEngine } from '../acd/engine.js';
import { dialTransition, initialDialState, type DialAction, type DialEvent, type DialState, type DialTarget } from './dial-flow.js';
import type { CallerContext } from './directory.js';
import { CAUSE, type CallEnd, type CallFacts } from './cdr.js';
import { callerCallIdOf } from '../acd/callback-id.js';
import type { LiveCallPatch } from './repository.js';
import { decideTransfer, failureProgress, transferDialState, type TransferRequest, type TransferSide } from './transfer.js';
import type { CallHost } from './host.js';
import type { SessionEvent } from './events.js';
import type { CallRunner } from './runner.js';

export interface DialHost extends CallHost {
  readonly acd: AcdEngine;
  /** Who is calling: outside numbers are checked against their permission class. */
  readonly caller: CallerContext;
  /** Set when this call is a queue callback (the agent's side): its outcome goes back to the ACD. */
  readonly callbackId: string | null;
  /** The call's bridge (the caller and the peer); the session destroys it when the call ends. */
  bridgeId: string | null;
  lookupTarget(number: string, caller: CallerContext): Promise<DialTarget | null>;
  /** Our leg ids must reach this session: b-answered / b-ended. */
  registerLeg(legId: string): void;
  releaseLeg(legId: string): void;
  /** Subscribe to a channel's events (its hangup cause). */
  follow(channelId: string): Promise<void>;
  /** Live-call bookkeeping (best effort). */
  updateLive(patch: LiveCallPatch): void;
  /** Not answered and the target has voicemail: the session hands the caller to the mailbox. */
  toVoicemail(mailbox: string, why: string): Promise<void>;
  /** A blind transfer by `transferer`: this part of the call ends (its CDR) and the next, to `destination`, starts. */
  nextPart(destination: string, transferer: string, now: Date): Promise<void>;
}

export type DialStart =
  /**
   * Dial `number`, checked against the permission class of `context`. `transferer`: the leg of the
   * extension whose phone blind-transferred the call here (a queue's agent): told the outcome, then
   * hung up; the caller hears music on hold meanwhile, and the extension counts as tried.
   */
  | { readonly kind: 'dial'; readonly number: string; readonly context: CallerContext; readonly transferer?: { readonly leg: string; readonly extension: string | null } }
  /** A restarted daemon picked the call up connected to `peer`: keep the two legs tied together. */
  | { readonly kind: 'connected'; readonly peer: string };

/** The ACD rang an agent's phone for a callback (the dispatcher's ringCallback). */
export interface CallbackRing {
  readonly callbackId: string;
  readonly agent: { readonly id: string; readonly number: string; readonly extension: string };
  readonly customer: string;
  /** The queue the customer was waiting in. */
  readonly queue: string | null;
  /** When the agent's phone was rung: the callback's CDR starts here. */
  readonly rungAt: Date;
}

/**
 * The facts of a callback's call, whose caller channel (`channelId`) is the agent's answered phone:
 * an outbound call to the customer, linked to the caller's queued call, naming the agent and the
 * queue from the start (docs/acd.md#callbacks). No caller number: the customer is shown the
 * site's caller ID (the outbound route's), not the agent's extension.
 */
export function callbackFacts(channelId: string, ring: CallbackRing): CallFacts {
  return {
    callId: channelId,
    linkedId: callerCallIdOf(ring.callbackId),
    direction: 'outbound',
    callerNumber: null,
    callerName: null,
    dialedNumber: ring.customer,
    startedAt: ring.rungAt,
    answeredAt: null,
    digits: '',
    queue: ring.queue,
    agent: ring.agent.number,
  };
}

/** A callback's live-row mode (acd/repository.ts agentsOnEndedCalls matches it too), and back. */
export const callbackMode = (callbackId: string): string => `callback:${callbackId}`;
export const callbackOfMode = (mode: string): string | null => (mode.startsWith('callback:') ? mode.slice('callback:'.length) : null);

/** After its phone is told how the transfer went, the transferring leg is hung up unless it left already. */
const TRANSFERER_GRACE_MS = 3_000;

/** A transfer this call does not take: the phone that asked is told so. */
export async function declineTransfer(host: CallHost, req: TransferRequest, why: string): Promise<void> {
  host.log.info({ from: req.channelId, to: req.destination, why }, 'transfer refused');
  await host.control.transferProgress(req.channelId, 'channel_declined').catch(() => undefined);
}

export class DialRunner implements CallRunner {
  readonly mode = 'dial';
  private state: DialState;
  /** The extension last dialed: its forwards are followed with its own permission class. */
  private forwarder: CallerContext | null = null;
  /** The leg whose phone asked for a blind transfer still in progress (told the outcome when known). */
  private transferer: string | null = null;
  /**
   * Ringback asked for the caller and not stopped yet. To a caller answered already (by an IVR
   * flow, a queue) it is a tone Asterisk plays into the call: stopped before the bridge or
   * voicemail, or the caller hears it under the call for its whole length (issue #19).
   */
  private ringingBack = false;
  /** The last leg rung is one of our phones (an extension), not an outside number. */
  private dialedPhone = true;
  /** How the last dialed leg that never connected ended (busy, declined, unreachable...): the CDR's cause. */
  private unconnected: CallEnd['dialed'] = null;

  constructor(
    private readonly host: DialHost,
    private readonly first: DialStart,
  ) {
    const transferer = first.kind === 'dial' ? first.transferer : undefined;
    this.state = first.kind === 'connected' ? bridgedTo(first.peer, null) : transferer ? transferDialState({ ...initialDialState, current: transferer.extension }) : initialDialState;
    this.transferer = transferer?.leg ?? null;
  }

  /** The dialed leg, ringing or connected. */
  get peerLegId(): string | null {
    return this.state.legId;
  }

  get outcome(): DialState['outcome'] {
    return this.state.outcome;
  }

  /** The last dialed leg's end when it ended without connecting, else null (cdr.ts callEnding). */
  get unconnectedLeg(): CallEnd['dialed'] {
    return this.state.answered ? null : this.unconnected;
  }

  async start(): Promise<void> {
    const { host, first } = this;
    if (first.kind === 'connected') {
      if (host.callbackId) await host.acd.adoptConnected(host.callbackId, silentPort, true);
      host.registerLeg(first.peer);
      return host.follow(first.peer);
    }
    const target = await host.lookupTarget(first.number, first.context);
    return this.step(target ? { type: 'dial', target } : { type: 'target-missing', number: first.number });
  }

  async onEvent(event: SessionEvent): Promise<void> {
    switch (event.type) {
      case 'b-answered':
      case 'b-ended':
      case 'ring-timeout':
        return this.step(event);
      case 'hold':
        return this.hold(event.channelId, event.on);
    }
  }

  /** Nothing to let go of: the machine handed the caller to voicemail with no leg left. */
  stop(): void {}

  channelGone(): void {
    const { host } = this;
    this.finishTransfer('channel_unavailable');
    const { state, actions } = dialTransition(this.state, { type: 'a-ended' }, () => '');
    this.state = state;
    for (const a of actions) {
      if (a.kind === 'hangup-leg') {
        host.releaseLeg(a.legId);
        logRejectionUnlessGone(host.control.hangup(a.legId), host.log, 'dialed leg not hung up', { leg: a.legId });
      }
    }
  }

  // ---------------------------------------------------------------- dialing (dial-flow.ts)

  private async step(event: DialEvent): Promise<void> {
    const target = event.type === 'dial' || event.type === 'no-connect' ? event.target : null;
    if (target?.owner) this.forwarder = target.owner;
    if (event.type === 'b-ended' && this.state.phase === 'ringing' && event.legId === this.state.legId) {
      this.unconnected = { cause: event.cause, causeText: event.causeText ?? null };
    }
    const from = this.state.phase;
    const { state, actions } = dialTransition(this.state, event, () => `${this.host.facts().callId}-leg-${randomUUID().slice(0, 8)}`);
    this.state = state;
    if (state.phase !== from) this.host.log.debug(`dial ${from} -> ${event.type} -> ${state.phase}`);
    for (const action of actions) await this.run(action);
  }

  private async run(action: DialAction): Promise<void> {
    const { host } = this;
    const { control, channelId } = host;
    try {
      switch (action.kind) {
        case 'ring-caller':
          await control.ring(channelId);
          this.ringingBack = true;
          return;
        case 'originate': {
          host.registerLeg(action.legId);
          // Outside calls present the extension's external caller id number when it has one.
          const facts = host.facts();
          const external = action.endpoint.includes('@');
          this.dialedPhone = !external;
          const number = (external ? host.caller.callerIdNumber : null) ?? facts.callerNumber ?? '';
          const callerId = `"${facts.callerName ?? number}" <${number}>`;
          host.log.info({ leg: action.legId, to: action.number, endpoint: action.endpoint }, 'ringing');
          // Safety net on top of Asterisk's own originate timeout.
          host.setTimer((action.timeoutSeconds + 3) * 1000, { type: 'ring-timeout', legId: action.legId });
          host.updateLive({ state: 'ringing', mode: 'dial', peer_channel_id: action.legId });
          return await control.originate({
            channelId: action.legId,
            endpoint: action.endpoint,
            callerId,
            timeoutSeconds: action.timeoutSeconds,
            appArgs: `leg,${facts.callId}`,
          });
        }
        case 'lookup': {
          // A forward is the forwarding extension's choice: an outside number is checked against its class.
          const target = await host.lookupTarget(action.number, this.forwarder ?? host.caller);
          host.log.info({ to: action.number, found: target !== null }, 'following forward');
          return this.step(target ? { type: 'dial', target } : { type: 'target-missing', number: action.number });
        }
        case 'lookup-after-failure': {
          host.log.info({ extension: action.number, why: action.why }, 'extension did not answer');
          return this.step({ type: 'no-connect', why: action.why, target: await host.lookupTarget(action.number, host.caller) });
        }
        case 'answer-caller':
          host.clearTimer();
          return await host.answerCaller();
        case 'bridge': {
          if (this.transferer) await control.stopMoh(channelId).catch(() => undefined);
          await this.stopRingingBack();
          const bridgeId = `${host.facts().callId}-bridge`;
          host.bridgeId = bridgeId;
          await host.createCallBridge(bridgeId, this.dialedPhone);
          await control.addToBridge(bridgeId, [channelId, action.legId]);
          host.updateLive({ state: 'dial', bridge_id: bridgeId });
          // The number finally dialed (after forwards) answered.
          host.partyAnswered(this.state.current);
          this.finishTransfer('channel_answered');
          if (host.callbackId) logRejection(host.acd.callbackResult(host.callbackId, true), host.log, 'callback result not passed to the ACD', { callback: host.callbackId });
          return await host.follow(action.legId);
        }
        case 'hangup-leg':
          host.clearTimer();
          host.releaseLeg(action.legId);
          return await control.hangup(action.legId).catch(() => undefined);
        case 'hangup-caller':
          this.finishTransfer(failureProgress(action.reason));
          if (host.callbackId) await host.acd.callbackResult(host.callbackId, false);
          // Hanging up after the two were connected: the callee hung up first.
          return await host.hangupCaller(action.reason, this.state.answered ? 'callee' : undefined);
        case 'voicemail':
          if (this.transferer) await control.stopMoh(channelId).catch(() => undefined);
          await this.stopRingingBack();
          this.finishTransfer('channel_answered'); // the transfer reached the target's mailbox
          return await host.toVoicemail(action.mailbox, action.why);
      }
    } catch (err) {
      if (action.kind === 'originate') {
        // Asterisk could not create the channel (no reachable contact): like an unreachable phone.
        host.log.warn({ leg: action.legId, err: (err as Error).message }, 'could not ring extension');
        host.releaseLeg(action.legId);
        return this.step({ type: 'b-ended', legId: action.legId, ...CAUSE.subscriberAbsent });
      }
      if (err instanceof AppError && err.code === 'call-not-found') return;
      host.log.error({ action: action.kind, err: (err as Error).message }, 'dial action failed');
      if (action.kind !== 'hangup-caller') await host.hangupCaller('normal');
    }
  }

  private async stopRingingBack(): Promise<void> {
    if (!this.ringingBack) return;
    this.ringingBack = false;
    const { host } = this;
    await host.control.ringStop(host.channelId).catch((err: Error) => host.log.warn({ err: err.message }, 'ringback to the caller not stopped'));
  }

  private async hold(channelId: string, on: boolean): Promise<void> {
    // The other party hears music on hold while one side holds.
    const { host } = this;
    const anchor = host.channelId;
    if (channelId !== anchor && channelId !== this.state.legId) return; // e.g. a leg that transferred away
    const other = channelId === anchor ? this.state.legId : anchor;
    if (!other || this.state.phase !== 'bridged') return;
    try {
      await (on ? host.control.startMoh(other) : host.control.stopMoh(other));
      host.log.info({ holder: channelId, other }, on ? 'on hold: music for the other party' : 'off hold: music stopped');
    } catch (err) {
      host.log.warn({ err: (err as Error).message }, 'music on hold failed');
    }
  }

  // ---------------------------------------------------------------- blind transfer (transfer.ts)

  async transfer(req: TransferRequest): Promise<void> {
    const { host } = this;
    const { control } = host;
    if (req.channelId === this.transferer) return; // the same REFER reported again
    const decision = decideTransfer(this.state, host.channelId, req);
    if (decision.kind === 'decline') return declineTransfer(host, req, decision.why);
    // The transferring extension's choice: an outside number is checked against its permission class.
    const transferer = this.state.current ? (await host.lookupTarget(this.state.current, host.caller))?.owner : undefined;
    const target = await host.lookupTarget(decision.destination, transferer ?? { callerClass: null, callerIdNumber: null });
    if (!target) return declineTransfer(host, req, 'unknown-destination');

    // The transferring leg leaves; its part of the call ends here. It stays mapped to this session
    // until it is gone, but its end no longer matters: the dial flow only follows the current leg.
    host.clearTimer();
    this.transferer = decision.transfererLeg;
    // "100 Trying" to the phone now (Asterisk sends it only with the first progress report).
    logRejectionUnlessGone(control.transferProgress(decision.transfererLeg, 'channel_progress'), host.log, 'transfer progress not delivered', { transferer: decision.transfererLeg });
    const now = host.now();
    if (host.bridgeId) await control.destroyBridge(host.bridgeId).catch(() => undefined);
    host.bridgeId = null;
    await control.startMoh(host.channelId).catch((err: Error) => host.log.warn({ err: err.message }, 'music on hold failed'));
    await host.nextPart(decision.destination, decision.transfererLeg, now);
    this.state = transferDialState(this.state);
    this.unconnected = null;
    return this.step({ type: 'dial', target });
  }

  /** Tell the transferring phone the outcome (a NOTIFY), then make sure its leg goes. */
  private finishTransfer(progress: TransferProgress): void {
    const leg = this.transferer;
    if (!leg) return;
    this.transferer = null;
    const { control, log } = this.host;
    log.info({ transferer: leg, progress }, 'transfer finished');
    const hangUpLater = (): void => {
      setTimeout(() => logRejectionUnlessGone(control.hangup(leg), log, 'transferring leg not hung up', { leg }), TRANSFERER_GRACE_MS).unref();
    };
    control.transferProgress(leg, progress).then(hangUpLater, (err: Error) => {
      log.debug({ err: err.message }, 'transfer progress not delivered (transferer gone)');
      hangUpLater();
    });
  }

  // ---------------------------------------------------------------- attended transfer (transfer.ts, dispatcher)

  /** This call as seen from `channelId`, the transferring phone's channel on it; null unless connected. */
  side(channelId: string): TransferSide | null {
    const leg = this.state.legId;
    if (this.state.phase !== 'bridged' || !leg || this.transferer) return null;
    const anchor = this.host.channelId;
    const facts = this.host.facts();
    const linkedId = facts.linkedId ?? facts.callId;
    if (channelId === leg) {
      return { leaving: leg, remaining: anchor, remainingIsCaller: true, number: facts.callerNumber, name: facts.callerName, linkedId };
    }
    if (channelId === anchor) {
      return { leaving: anchor, remaining: leg, remainingIsCaller: false, number: this.state.current ?? facts.dialedNumber, name: null, linkedId };
    }
    return null;
  }

  /** The call was handed over to the other call of an attended transfer: its peer leg is no longer ours. */
  letGo(): void {
    if (this.state.legId) this.host.releaseLeg(this.state.legId);
    this.state = { ...this.state, phase: 'ended', legId: null };
  }

  /** The call took in the other call's remaining party (`legId`, who is `number`) as its connected peer. */
  joined(number: string | null, legId: string): void {
    this.state = bridgedTo(legId, number);
  }
}

function bridgedTo(legId: string, number: string | null): DialState {
  return { ...initialDialState, phase: 'bridged', answered: true, current: number, legId, outcome: 'connected' };
}
