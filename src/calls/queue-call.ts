/**
 * A caller in an ACD queue, the call side: joins the queue through the engine (acd/engine.ts),
 * hears music on hold and, every so often, their position and the estimated wait; the engine
 * picks agents and asks this runner to ring their desk phones (one, or several for ring-all).
 * The first phone to answer is bridged with the caller; a phone that is busy or rings out is
 * reported (the engine counts the miss and tries the next agent). Either side hanging up ends
 * the call; the agent goes to wrap-up. While connected, either side putting the call on hold
 * (ChannelHold) plays music to the other, and the time on hold is counted (holdTime) for the
 * call's queue 'end' event.
 */
import { randomUUID } from 'node:crypto';
import { silentPort, type AcdEngine, type OfferedAgent, type QueueCallPort } from '../acd/engine.js';
import type { TransferTarget } from '../ivr/model.js';
import type { SkillRequirement } from '../acd/router.js';
import { AppError } from '../errors.js';
import { logRejection, logRejectionUnlessGone } from '../shared/log-rejection.js';
import type { CallHost } from './host.js';
import type { QueueEvent, SessionEvent } from './events.js';
import type { CallRunner } from './runner.js';
import { isBusyCause } from './dial-flow.js';
import type { LiveCallPatch } from './repository.js';
import { HoldTime } from './hold-time.js';
import { decideLegTransfer, type TransferRequest } from './transfer.js';
import { declineTransfer, type DialHost } from './dial-call.js';
import type { CallerContext } from './directory.js';
import { handsetOffer } from './handset-offer.js';

/** What a caller hears when a callback becomes possible (spoken by espeak-ng, cached). */
export const CALLBACK_OFFER_TEXT = 'To keep your place in the queue and be called back, press star.';
const CALLBACK_KEY = '*';
/** A caller is answered by this time at the latest, however long the routing decision takes (a slow database). */
const ANSWER_WITHIN_MS = 500;

/** `promise`'s value, or `fallback` if it takes longer than `ms`. */
function within<T>(promise: Promise<T>, ms: number, fallback: T): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<T>((resolve) => {
    timer = setTimeout(() => resolve(fallback), ms);
  });
  return Promise.race([promise, late]).finally(() => clearTimeout(timer));
}

export interface QueueHost extends CallHost, Pick<DialHost, 'lookupTarget' | 'caller' | 'nextPart'> {
  readonly acd: AcdEngine;
  /** Asterisk is ringing this agent's phone for the caller (the screen pop: agent.offered). */
  agentRinging?(agent: OfferedAgent): void;
  /** What the caller's IVR flow collected (a queue's caller-ID name template may show one). */
  ivrVariables?(): Readonly<Record<string, string>>;
  /** Our leg ids must reach this session: b-answered / b-ended. */
  registerLeg(legId: string): void;
  releaseLeg(legId: string): void;
  /** Leave the queue for a target (overflow): the session takes it from here. */
  leaveTo(target: TransferTarget | null): Promise<void>;
  /** The caller and the agent are connected: live-call bookkeeping. */
  connected(legId: string, bridgeId: string): void;
  /** Media URI of text spoken by espeak-ng (English). */
  speak(text: string): Promise<string>;
  /** The caller left asking for a callback: their CDR says so. */
  markCallback(): void;
  /** The caller joined queue `queue`: their CDR names it. */
  joinedQueue(queue: string): void;
  /** The agent hung up the connected call: the caller goes into the queue's post-call survey, or is hung up. */
  agentHungUp(): Promise<void>;
  /** Live-call bookkeeping (best effort): the row's state while waiting or ringing an agent. */
  updateLive(patch: LiveCallPatch): void;
  /** The agent blind-transferred the caller (from their leg and extension): dial `number` with `context`'s permissions. */
  transferTo(number: string, context: CallerContext, transferer: { readonly leg: string; readonly extension: string | null }): Promise<void>;
}

export interface QueueRouting {
  readonly priority: number;
  readonly requiredSkills: readonly SkillRequirement[] | null;
  /** An agent reserved for this call (a preview campaign's contact): offered first (acd/engine.ts join). */
  readonly reservedFor?: string | null;
}

/**
 * What an IVR flow's variables say about a caller it sends to a queue: `queue_priority` (an
 * integer, higher first; 0-100) and `queue_skills` ("billing:3,german:2": skill and minimum level
 * 1-5, replacing the queue's own). Anything malformed is ignored (the queue's defaults apply).
 */
export function routingFromVars(vars: Readonly<Record<string, string>>): QueueRouting {
  const p = Number(vars['queue_priority']);
  const priority = Number.isInteger(p) && p >= 0 && p <= 100 ? p : 0;
  const raw = vars['queue_skills']?.trim();
  if (!raw) return { priority, requiredSkills: null };
  const skills: SkillRequirement[] = [];
  for (const part of raw.split(',')) {
    const m = /^\s*([a-z][a-z0-9_-]{0,39})\s*:\s*([1-5])\s*$/.exec(part);
    if (!m) return { priority, requiredSkills: null };
    skills.push({ skill: m[1]!, minLevel: Number(m[2]) });
  }
  return { priority, requiredSkills: skills.slice(0, 10) };
}

export class QueueRunner implements CallRunner {
  readonly mode = 'queue';
  /** Ringing legs -> the agent rung. */
  private readonly ringing = new Map<string, OfferedAgent>();
  private connectedLeg: string | null = null;
  private agentOf: string | null = null;
  private bridgeId: string | null = null;
  private announcement: string | null = null;
  private joined = false;
  /** The caller's answer once started (see start(); only the bridge waits for it). */
  private answering: Promise<void> | null = null;
  /** Music on hold being started once answered (not awaited either). */
  private mohStarting: Promise<boolean> = Promise.resolve(false);
  /** Hold while connected to the agent. */
  private readonly hold = new HoldTime();

  /**
   * `routing`: what an IVR flow set for this caller (priority, required skills); else the queue's.
   * `rejoin`: a restarted daemon puts a waiting caller back at their place. `music`: false for a
   * caller who waits in silence (a campaign's contact, for the 2 s an agent has: campaign-call.ts).
   */
  constructor(
    private readonly host: QueueHost,
    private readonly queueName: string,
    private readonly routing: QueueRouting = { priority: 0, requiredSkills: null },
    private readonly rejoin = false,
    private readonly music = true,
  ) {}

  async onEvent(event: SessionEvent): Promise<void> {
    switch (event.type) {
      case 'queue-offer':
      case 'queue-withdraw':
      case 'queue-leave':
      case 'queue-announce':
      case 'queue-callback-offer':
      case 'queue-answer-failed':
        return this.step(event);
      case 'b-answered':
        return this.legAnswered(event.legId);
      case 'b-ended':
        return this.legEnded(event.legId, event.cause);
      case 'playback-finished':
        return this.playbackFinished(event.playbackId);
      case 'dtmf':
        return this.dtmf(event.digit);
      case 'hold':
        return this.holdChanged(event.channelId, event.on);
    }
  }

  /** The caller or the agent put the connected call on hold (or took it off): music for the other side, and the time counts. */
  private async holdChanged(channelId: string, on: boolean): Promise<void> {
    const { control, channelId: caller, log } = this.host;
    const agentLeg = this.connectedLeg;
    if (!agentLeg || (channelId !== caller && channelId !== agentLeg)) return;
    this.hold.set(channelId, on, this.host.now().getTime());
    const other = channelId === caller ? agentLeg : caller;
    try {
      await (on ? control.startMoh(other) : control.stopMoh(other));
      log.info({ holder: channelId, other }, on ? 'queue call on hold: music for the other party' : 'queue call off hold: music stopped');
    } catch (err) {
      log.warn({ err: (err as Error).message }, 'music on hold failed');
    }
  }

  /** The connected call's time on hold so far (ms). */
  private holdMs(): number {
    return this.hold.ms(this.host.now().getTime());
  }

  /** Nothing to let go of: the caller left the queue before being handed on (queue-leave). */
  stop(): void {}

  /** Stop music on hold, once its start (if any) is through: a late start must not follow the stop. */
  private async stopMoh(): Promise<void> {
    await this.mohStarting;
    await this.host.control.stopMoh(this.host.channelId).catch(() => undefined);
  }

  get active(): boolean {
    return this.joined;
  }

  /**
   * The routing decision and the agent's claim come first; a caller offered to an agent at once
   * is answered only once the agent's phone is rung (step 'queue-offer'), anyone else right after
   * the decision. So neither the claim nor the ringing competes with Asterisk answering the caller
   * on the CPU (measured on 2 cores: the claim took 3-5 times longer during the answer than alone);
   * the caller hears ringback for those few milliseconds more. Only the bridge waits for the
   * answer (legAnswered).
   */
  async start(): Promise<void> {
    const { acd, log } = this.host;
    const { queueName, rejoin } = this;
    const { reservedFor, ...routing } = this.routing;
    const facts = this.host.facts();
    const port: QueueCallPort = {
      offer: (agents, ringTimeoutSeconds) => this.host.deliver({ type: 'queue-offer', agents, ringTimeoutSeconds }),
      withdraw: (agentId) => this.host.deliver({ type: 'queue-withdraw', agentId }),
      leave: (target) => this.host.deliver({ type: 'queue-leave', target }),
      announce: (position, waitSeconds) => this.host.deliver({ type: 'queue-announce', position, waitSeconds }),
    };
    const result = await acd.join(
      { callId: facts.callId, queueName, channelId: this.host.channelId, callerNumber: facts.callerNumber, callerName: facts.callerName, ...routing },
      port,
      rejoin,
      reservedFor ?? null,
    );
    if (result.kind === 'unknown-queue') {
      await this.host.answerCaller();
      log.warn({ queue: queueName }, 'no such queue; hanging up');
      return this.host.hangupCaller('normal');
    }
    if (result.kind === 'not-joined') {
      await this.host.answerCaller();
      log.info({ queue: queueName, why: result.why, overflow: result.queue.overflow }, 'caller not let into the queue');
      return this.host.leaveTo(result.queue.overflow);
    }
    this.joined = true;
    this.host.joinedQueue(queueName);
    if (result.queue.callbackAfterSeconds !== null) this.host.setTimer(result.queue.callbackAfterSeconds * 1000, { type: 'queue-callback-offer' });
    // Offered: the offer (queued to this session by the decision) rings the agent, then answers.
    if (!(await within(result.offered, ANSWER_WITHIN_MS, false))) this.answer();
  }

  /**
   * Answer the caller, then music on hold while they wait; not awaited (only the bridge waits for
   * it). A caller gone before the answer leaves the queue when their channel goes (channelGone);
   * one that cannot be answered is hung up ('queue-answer-failed').
   */
  private answer(): void {
    if (this.answering) return;
    const { control, channelId, log } = this.host;
    const answering = this.host.answerCaller(); // at once when answered already (a flow, a restart)
    this.answering = answering;
    // The live row says waiting or ringing (after the answer's own update): see showState.
    answering.then(() => this.showState(), () => undefined);
    this.mohStarting = answering.then(
      () => (this.music ? control.startMoh(channelId).then(() => true, (err: Error) => (log.warn({ err: err.message }, 'music on hold failed'), false)) : false),
      (err: Error) => {
        this.host.deliver({ type: 'queue-answer-failed', reason: err.message });
        return false;
      },
    );
  }

  /**
   * What the caller's live row says while in the queue (GET /calls/live): `ringing` while an
   * agent's phone rings for them, else `waiting`; once connected the session says `dial`.
   */
  private showState(): void {
    if (!this.joined || this.connectedLeg) return;
    this.host.updateLive({ state: this.ringing.size > 0 ? 'ringing' : 'waiting' });
  }

  /** A digit while waiting: the callback key, once a callback is offered. */
  private async dtmf(digit: string): Promise<void> {
    if (digit !== CALLBACK_KEY || !this.joined || this.connectedLeg) return;
    const { acd, control, channelId, log } = this.host;
    const callbackId = await acd.requestCallback(this.host.facts().callId);
    if (!callbackId) return;
    this.joined = false; // the callback holds the place now; this call ends
    for (const legId of this.ringing.keys()) this.host.releaseLeg(legId);
    this.ringing.clear();
    if (this.announcement) await control.stopPlayback(this.announcement).catch(() => undefined);
    await this.stopMoh();
    this.announcement = `${this.host.facts().callId}-callback-confirm`;
    this.callbackConfirm = this.announcement;
    log.info({ callback: callbackId }, 'caller asked to be called back');
    this.host.markCallback();
    await control.play(channelId, ['sound:auth-thankyou', 'sound:vm-goodbye'], this.announcement).catch(() => this.host.hangupCaller('normal'));
  }

  private async step(event: QueueEvent): Promise<void> {
    switch (event.type) {
      case 'queue-offer':
        for (const agent of event.agents) await this.ring(agent, event.ringTimeoutSeconds);
        return this.answer(); // the first offer answers the caller once their agent's phone is rung
      case 'queue-withdraw':
        for (const [legId, agent] of this.ringing) {
          if (agent.id !== event.agentId) continue;
          this.ringing.delete(legId);
          this.host.releaseLeg(legId);
          await this.host.control.hangup(legId).catch(() => undefined);
        }
        return this.showState();
      case 'queue-leave':
        this.joined = false;
        await this.stopMoh();
        return this.host.leaveTo(event.target);
      case 'queue-announce':
        return this.announce(event.position, event.waitSeconds);
      case 'queue-callback-offer':
        return this.offerCallback();
      case 'queue-answer-failed':
        if (!this.joined) return; // gone already (channelGone left the queue)
        this.host.log.warn({ err: event.reason }, 'caller could not be answered; hanging up');
        return this.host.hangupCaller('normal');
    }
  }

  /** A restarted daemon picked up this call connected to an agent (leg `legId`). */
  async adoptConnected(legId: string, bridgeId: string | null): Promise<void> {
    this.connectedLeg = legId;
    this.bridgeId = bridgeId;
    this.host.registerLeg(legId);
    await this.host.acd.adoptConnected(this.host.facts().callId, silentPort);
  }

  /** The agent's phone answered. */
  private async legAnswered(legId: string): Promise<void> {
    const agent = this.ringing.get(legId);
    if (!agent) return;
    this.ringing.delete(legId);
    const agentId = agent.id;
    const { acd, control, channelId, log } = this.host;
    if (!(await (this.answering ?? Promise.resolve()).then(() => true, () => false))) {
      // The caller was never answered (and is being hung up): nothing to connect the agent to.
      this.host.releaseLeg(legId);
      await control.hangup(legId).catch(() => undefined);
      return;
    }
    if (this.connectedLeg || !(await acd.offerAnswered(this.host.facts().callId, agentId))) {
      // Someone else answered first (ring-all) or the offer was taken back meanwhile.
      this.host.releaseLeg(legId);
      await control.hangup(legId).catch(() => undefined);
      return;
    }
    this.joined = false;
    this.connectedLeg = legId;
    this.agentOf = agentId;
    this.agentExtension = agent.extension;
    if (this.announcement) await control.stopPlayback(this.announcement).catch(() => undefined);
    await this.stopMoh();
    this.bridgeId = `${this.host.facts().callId}-bridge`;
    await this.host.createCallBridge(this.bridgeId, true); // the agent's phone
    await control.addToBridge(this.bridgeId, [channelId, legId]);
    this.host.connected(legId, this.bridgeId);
    this.host.partyAnswered(agent.extension, agent.number);
    log.info({ agent: agentId, leg: legId }, 'caller connected to agent');
  }

  /** A leg is gone: an offer that failed, or the agent hanging up the connected call. */
  private async legEnded(legId: string, cause: number | null): Promise<void> {
    const { acd } = this.host;
    if (legId === this.connectedLeg) {
      this.connectedLeg = null;
      this.host.releaseLeg(legId);
      await acd.callEnded(this.host.facts().callId, this.holdMs());
      return this.host.agentHungUp();
    }
    const agent = this.ringing.get(legId);
    if (!agent) return;
    this.ringing.delete(legId);
    this.host.releaseLeg(legId);
    this.showState();
    await acd.offerFailed(this.host.facts().callId, agent.id, isBusyCause(cause) ? 'busy' : 'no-answer');
  }

  private async playbackFinished(playbackId: string): Promise<void> {
    if (playbackId !== this.announcement) return;
    this.announcement = null;
    if (playbackId === this.callbackConfirm) return this.host.hangupCaller('normal');
    if (this.joined && !this.connectedLeg && this.music) {
      this.mohStarting = this.host.control.startMoh(this.host.channelId).then(() => true, () => false);
      await this.mohStarting;
    }
  }

  /**
   * Stop waiting for an agent without ending the call (a campaign contact's connect deadline,
   * campaign-call.ts): phones ringing for the caller stop, the caller leaves the queue (abandoned)
   * and the music and any announcement stop. False when an agent is connected already.
   */
  async giveUp(): Promise<boolean> {
    if (this.connectedLeg) return false;
    const { acd, control, log } = this.host;
    for (const legId of this.ringing.keys()) {
      this.host.releaseLeg(legId);
      logRejectionUnlessGone(control.hangup(legId), log, 'ringing agent leg not hung up', { leg: legId });
    }
    this.ringing.clear();
    if (this.joined) logRejection(acd.callerLeft(this.host.facts().callId, 'abandoned'), log, 'caller leaving not passed to the ACD');
    this.joined = false;
    if (this.announcement) await control.stopPlayback(this.announcement).catch(() => undefined);
    this.announcement = null;
    await this.stopMoh();
    return true;
  }

  /** The caller is gone: leave the queue, or end the connected call (agent to wrap-up). */
  channelGone(): void {
    const { acd, control, log } = this.host;
    const callId = this.host.facts().callId;
    for (const legId of this.ringing.keys()) {
      this.host.releaseLeg(legId);
      logRejectionUnlessGone(control.hangup(legId), log, 'ringing agent leg not hung up', { leg: legId });
    }
    this.ringing.clear();
    if (this.connectedLeg) {
      const leg = this.connectedLeg;
      this.connectedLeg = null;
      this.host.releaseLeg(leg);
      logRejectionUnlessGone(control.hangup(leg), log, 'agent leg not hung up', { leg });
      logRejection(acd.callEnded(callId, this.holdMs()), log, 'queue call end not passed to the ACD');
    } else if (this.joined) {
      logRejection(acd.callerLeft(callId, 'abandoned'), log, 'caller leaving not passed to the ACD');
    }
    if (this.bridgeId) logRejectionUnlessGone(control.destroyBridge(this.bridgeId), log, 'queue call bridge not destroyed', { bridgeId: this.bridgeId });
    this.joined = false;
  }

  get agent(): string | null {
    return this.agentOf;
  }

  private async ring(agent: OfferedAgent, ringTimeoutSeconds: number): Promise<void> {
    const { control, log } = this.host;
    const facts = this.host.facts();
    const legId = `${facts.callId}-agent-${randomUUID().slice(0, 8)}`;
    this.ringing.set(legId, agent);
    this.host.registerLeg(legId);
    const number = facts.callerNumber ?? '';
    const { name, variables } = handsetOffer(agent.handset, { name: facts.callerName, number: facts.callerNumber, variables: this.host.ivrVariables?.() ?? {} });
    try {
      await control.originate({
        channelId: legId,
        endpoint: `PJSIP/${agent.extension}`,
        callerId: `"${name}" <${number}>`,
        timeoutSeconds: ringTimeoutSeconds,
        appArgs: `leg,${facts.callId}`,
        variables,
      });
      log.info({ agent: agent.number, extension: agent.extension, leg: legId }, 'ringing agent');
      this.host.agentRinging?.(agent);
      this.showState();
    } catch (err) {
      if (!(err instanceof AppError) || err.code !== 'call-not-found') log.warn({ agent: agent.number, err: (err as Error).message }, 'could not ring agent');
      await this.legEnded(legId, 20); // unreachable phone: a missed offer
    }
  }

  private callbackConfirm: string | null = null;
  /** The connected agent's desk phone (a transfer is dialed with its permissions). */
  private agentExtension: string | null = null;

  /**
   * The connected agent's phone asked for a blind transfer (REFER): the agent's part ends (the ACD
   * counts it as a transfer, the agent goes to wrap-up), the caller hears music on hold and the
   * target is dialed as the call's next part (its own CDR), with the agent's extension's
   * permissions. The agent's phone is told how it went, then hung up (dial-call.ts). Declined: a
   * transfer by the caller, an attended one, a number that is nothing.
   */
  async transfer(req: TransferRequest): Promise<void> {
    const { host } = this;
    const { control, log } = host;
    const decision = decideLegTransfer(this.connectedLeg, host.channelId, req);
    if (decision.kind === 'decline') return declineTransfer(host, req, decision.why);
    const noClass: CallerContext = { callerClass: null, callerIdNumber: null };
    const context = (this.agentExtension ? (await host.lookupTarget(this.agentExtension, host.caller))?.owner : undefined) ?? noClass;
    if (!(await host.lookupTarget(decision.destination, context))) return declineTransfer(host, req, 'unknown-destination');
    const leg = decision.transfererLeg;
    if (this.connectedLeg !== leg) return; // the agent hung up meanwhile
    this.connectedLeg = null;
    logRejectionUnlessGone(control.transferProgress(leg, 'channel_progress'), log, 'transfer progress not delivered', { transferer: leg });
    const callId = host.facts().callId;
    await host.acd.callEnded(callId, this.holdMs(), decision.destination).catch((err: Error) => log.warn({ err: err.message }, 'queue call transfer not passed to the ACD'));
    if (this.bridgeId) await control.destroyBridge(this.bridgeId).catch(() => undefined);
    this.bridgeId = null;
    await control.startMoh(host.channelId).catch((err: Error) => log.warn({ err: err.message }, 'music on hold failed'));
    log.info({ agent: this.agentOf, to: decision.destination }, 'agent transferred the queue call');
    await host.nextPart(decision.destination, leg, host.now());
    return host.transferTo(decision.destination, context, { leg, extension: this.agentExtension });
  }

  private async offerCallback(): Promise<void> {
    const { acd, control, channelId, log } = this.host;
    if (!this.joined || this.connectedLeg || this.announcement || !acd.callbackOffered(this.host.facts().callId)) return;
    const media = await this.host.speak(CALLBACK_OFFER_TEXT).catch((err: Error) => {
      log.warn({ err: err.message }, 'callback offer not spoken');
      return null;
    });
    if (!media) return;
    this.announcement = `${this.host.facts().callId}-callback-offer`;
    await this.stopMoh();
    log.info('callback offered');
    await control.play(channelId, media, this.announcement).catch(() => {
      this.announcement = null;
    });
  }

  private async announce(position: number, waitSeconds: number | null): Promise<void> {
    if (!this.joined || this.connectedLeg || this.ringing.size > 0 || this.announcement) return;
    const { control, channelId } = this.host;
    const media = position <= 1 ? ['sound:queue-youarenext'] : ['sound:queue-thereare', `number:${position - 1}`, 'sound:queue-callswaiting'];
    if (waitSeconds !== null && waitSeconds >= 60) media.push('sound:queue-holdtime', `number:${Math.round(waitSeconds / 60)}`, 'sound:queue-minutes');
    this.announcement = `${this.host.facts().callId}-announce-${randomUUID().slice(0, 8)}`;
    this.host.log.info({ position, waitSeconds }, 'position announced');
    await this.stopMoh();
    await control.play(channelId, media, this.announcement).catch(() => {
      this.announcement = null;
    });
  }
}
