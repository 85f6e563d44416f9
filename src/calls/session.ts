/**
 * One call session per caller channel (leg A) in Stasis. Events are queued and handled one at a
 * time, in order. The call is routed once (router.ts), then driven by exactly one runner at a time
 * (runner.ts; switchboard.ts picks and swaps them): test service, dial, IVR flow, queue, agent
 * feature code, voicemail, mailbox menu. A connected call may be blind-transferred by the dialed
 * phone (dial-call.ts): it goes on as a new part with its own CDR, linked to the first. In an
 * attended transfer two sessions take part (the dispatcher coordinates): one hands its remaining
 * party over and ends, the other takes it in as its new leg. The session owns the call's facts,
 * channel, bridge and timer (runners reach them through their host) and hands exactly one CDR per
 * part to the writer.
 */
import type { Logger } from '../logger.js';
import type { CallControl, HangupReason } from '../telephony/ari-types.js';
import { AppError } from '../errors.js';
import { logRejection, logRejectionUnlessGone } from '../shared/log-rejection.js';
import { buildCdr, type CallEnd, type CallFacts, type EndedBy } from './cdr.js';
import type { FlowSettings } from './flow.js';
import type { DialTarget } from './dial-flow.js';
import type { CallerContext, RoutedCall } from './directory.js';
import type { NewCdr } from './tables.js';
import type { LiveCallPatch } from './repository.js';
import { joinedPartFacts, nextPartFacts, type TransferSide } from './transfer.js';
import type { SessionEvent } from './events.js';
import { callbackMode, declineTransfer } from './dial-call.js';
import type { VoicemailPort } from './voicemail-call.js';
import { IVR_CALLER_CONTEXT, Switchboard, type SessionHost } from './switchboard.js';
import type { AcdEngine, OfferedAgent } from '../acd/engine.js';
import type { IvrPort } from '../ivr/port.js';
import { pathDigits } from '../ivr/interpreter.js';
import type { SupervisionPort } from '../supervision/port.js';
import { CallRecording, type RecordingAction, type RecordingCarry, type RecordingDeps, type RecordingOutcome } from './call-recording.js';
import type { PauseBy } from './recording-machine.js';
import type { SurveyPort } from '../surveys/port.js';
import { surveyPartFacts, type SurveyContext } from './post-call-survey.js';
import type { SurveyAnswer } from './ivr-call.js';
import { isPhoneChannel } from './router.js';
import type { CampaignCallPort } from './campaign-call.js';

export interface LiveCallStore {
  /** `mode`: what the call is doing (default 'routing'); a restarted daemon picks it up by it. */
  insert(facts: CallFacts, channelId: string, state: string, mode?: string): Promise<void>;
  update(callId: string, patch: LiveCallPatch): Promise<void>;
}

export interface SessionDeps {
  readonly control: CallControl;
  readonly store: LiveCallStore;
  readonly writeCdr: (cdr: NewCdr) => void;
  /** An agent's phone is rung with this caller (the event stream's agent.offered: src/calls/call-events.ts). */
  readonly agentOffered?: (facts: CallFacts, agent: OfferedAgent, ivrVariables: Readonly<Record<string, string>>) => void;
  readonly settings: FlowSettings;
  readonly log: Logger;
  readonly now: () => Date;
  readonly route: (channelName: string | null, facts: CallFacts) => Promise<RoutedCall>;
  readonly lookupTarget: (number: string, caller: CallerContext) => Promise<DialTarget | null>;
  readonly legs: {
    register(legId: string, session: CallSession): void;
    release(legId: string): void;
    /** The call's caller channel changes (attended transfer): events of `to` now reach this session as its caller's. */
    reanchor(from: string, to: string, session: CallSession): void;
  };
  readonly onEnded: (session: CallSession) => void;
  readonly voicemail: VoicemailPort;
  readonly ivr: IvrPort;
  readonly acd: AcdEngine;
  /** Live supervision: who may, where the agent is, snoops, the sessions' register and audit. */
  readonly supervision: SupervisionPort;
  /** Call recording (call-recording.ts); absent: calls are never recorded (unit tests). */
  readonly recording?: RecordingDeps;
  /** Post-call surveys (post-call-survey.ts); absent: an agent hanging up ends the call (unit tests). */
  readonly surveys?: SurveyPort;
  /** Outbound campaigns' answered contacts (campaign-call.ts); absent: none come. */
  readonly campaign?: CampaignCallPort;
}

/** After StasisEnd, wait this long for ChannelDestroyed (which carries the cause) before closing. */
const DESTROY_GRACE_MS = 2_000;

export class CallSession {
  /** The call's one active runner, and where the caller goes next. */
  private readonly switchboard: Switchboard;
  /** The caller left the queue asking for a callback. */
  private leftForCallback = false;
  /** The call's bridge (the caller and the peer), set by the runner that connects them. */
  private bridgeId: string | null = null;
  private caller: CallerContext = { callerClass: null, callerIdNumber: null };
  private queue: Promise<void> = Promise.resolve();
  /** The subscription to the caller channel's events: a hangup waits for it, or the cause could be missed. */
  private following: Promise<void> = Promise.resolve();
  /** The live row's first insert: updates and the CDR (which drops the row) go after it. */
  private inserted: Promise<void> = Promise.resolve();
  /** The live row's updates, one after the other (updateLive). */
  private liveUpdates: Promise<void> = Promise.resolve();
  /** The update waiting its turn in liveUpdates: updates made meanwhile are merged into it. */
  private liveQueued: LiveCallPatch | null = null;
  private timer: NodeJS.Timeout | null = null;
  private destroyTimer: NodeJS.Timeout | null = null;
  private hangupRequested: { cause: number | null } | null = null;
  private systemHangup = false;
  /** The callee or agent hung up first (the daemon then hung up the caller). */
  private peerHangup: Extract<EndedBy, 'callee' | 'agent'> | null = null;
  private closed = false;
  /** Parts of the call after transfers and a post-call survey (0: the first). */
  private part = 0;
  /** In a post-call survey: the surveyed queue call its answers belong to. */
  private survey: SurveyContext | null = null;
  /** The caller's channel is one of our phones (not a carrier's): its keys may work the recording. */
  private callerIsPhone: boolean;
  private readonly host: SessionHost;
  /** The call's recording (policy, on demand, PCI pause): it spans runners, so the session holds it. */
  private readonly recording: CallRecording | null;
  readonly log: Logger;

  constructor(
    private anchor: string,
    private readonly channelName: string | null,
    private facts: CallFacts,
    private readonly deps: SessionDeps,
  ) {
    this.log = deps.log.child({ callId: facts.callId });
    this.callerIsPhone = isPhoneChannel(channelName);
    const session = this; // eslint-disable-line @typescript-eslint/no-this-alias -- the host reads the session's current channel, caller and bridge
    this.host = {
      get channelId() {
        return session.anchor;
      },
      get caller() {
        return session.caller;
      },
      get callbackId() {
        return session.switchboard.callbackId;
      },
      get bridgeId() {
        return session.bridgeId;
      },
      set bridgeId(id: string | null) {
        session.bridgeId = id;
      },
      log: this.log,
      control: deps.control,
      voicemail: deps.voicemail,
      ivr: deps.ivr,
      acd: deps.acd,
      supervision: deps.supervision,
      settings: deps.settings,
      digitTimeoutMs: deps.settings.digitTimeoutMs,
      facts: () => this.facts,
      now: deps.now,
      answerCaller: () => this.answerCaller(),
      agentRinging: (agent) => deps.agentOffered?.(this.facts, agent, this.switchboard.ivrVariables),
      offerShown: (facts, agent, variables) => deps.agentOffered?.(facts, agent, variables),
      campaign: deps.campaign ?? null,
      disposeAtPhone: deps.campaign?.disposeAtPhone ?? null,
      preview: deps.campaign?.preview ?? null,
      ivrVariables: () => this.switchboard.ivrVariables,
      hangupCaller: (reason, by) => this.hangupCaller(reason, by),
      partyAnswered: (answeredBy, agent) => {
        // A callback's agent placed the call (facts.agent): the live row keeps naming them.
        const party = { answeredBy, agent: agent ?? this.facts.agent ?? null, connectedAt: this.deps.now() };
        this.facts = { ...this.facts, party };
        this.recording?.partyAnswered(party.agent);
        this.updateLive({ answered_by: party.answeredBy, agent: party.agent, connected_at: party.connectedAt });
      },
      joinedQueue: (queue) => {
        this.facts = { ...this.facts, queue };
        this.recording?.joinedQueue(queue);
        this.updateLive({ queue });
      },
      createCallBridge: (bridgeId, peerIsPhone) => this.createCallBridge(bridgeId, peerIsPhone),
      setTimer: (ms, event) => this.setTimer(ms, event),
      clearTimer: () => this.clearTimer(),
      deliver: (event) => this.post(event),
      updateLive: (patch) => this.updateLive(patch),
      follow: (channelId) => this.follow(channelId),
      registerLeg: (legId) => deps.legs.register(legId, this),
      releaseLeg: (legId) => deps.legs.release(legId),
      lookupTarget: (number, context) => deps.lookupTarget(number, context),
      noteRecording: (name) => this.updateLive({ recording_name: name }),
      recordDigits: (digits) => {
        this.facts = { ...this.facts, digits };
        this.updateLive({ digits, state: 'collecting' });
      },
      keepTrail: (trail) => {
        this.switchboard.keepTrail(trail);
        // The CDR's digits: every digit the flows took (docs/ivr.md#the-callers-path).
        this.facts = { ...this.facts, digits: pathDigits(trail.path), ivr: { flows: trail.flows, path: trail.path } };
      },
      transfer: (target) => this.switchboard.flowDone(target),
      surveyAnswer: (answer) => this.recordSurveyAnswer(answer),
      agentHungUp: () => this.agentHungUp(),
      get recordingPaused() {
        return session.recording?.paused ?? false;
      },
      recordingNode: async (action) => {
        // Called from within the call's event handling: straight to the recording, not through run().
        const outcome = await this.recording?.command(action, 'ivr');
        if (outcome && !outcome.ok) this.log.info({ action, refusal: outcome.refusal }, 'IVR recording node: nothing to ' + action);
      },
      leaveTo: (target) => (target ? this.switchboard.toTarget(target) : this.hangupCaller('normal')),
      connected: (legId, bridgeId) => {
        this.bridgeId = bridgeId;
        this.updateLive({ state: 'dial', peer_channel_id: legId, bridge_id: bridgeId });
      },
      speak: (text) => deps.ivr.speak(text, 'en', undefined),
      markCallback: () => {
        this.leftForCallback = true;
      },
      toVoicemail: (mailbox, why) => this.switchboard.toVoicemail(mailbox, why),
      nextPart: (destination, transferer, now) => this.nextPart(destination, transferer, now),
      transferTo: (number, context, transferer) => this.switchboard.transferTo(number, context, transferer),
    };
    this.switchboard = new Switchboard(this.host);
    this.recording = deps.recording
      ? new CallRecording(
          {
            get channelId() {
              return session.anchor;
            },
            log: this.log,
            control: deps.control,
            facts: () => this.facts,
            now: deps.now,
            // A notice played over a waiting caller's music: the music comes back after it.
            noticeDone: () => {
              if (this.switchboard.active.mode === 'queue' && !this.facts.party) logRejection(deps.control.startMoh(this.anchor), this.log, 'music on hold not restarted');
            },
          },
          deps.recording,
        )
      : null;
  }

  /** Start, stop, pause or resume the call's recording (the API, an IVR node); in order with the call's events. */
  recordingCommand(action: RecordingAction, by: PauseBy): Promise<RecordingOutcome | null> {
    const recording = this.recording;
    if (!recording) return Promise.resolve(null);
    return this.run('recording', null, () => recording.command(action, by));
  }

  /** Paused for a card payment: digits typed now are stored nowhere (docs/recording.md#pci-pause). */
  get recordingPaused(): boolean {
    return this.recording?.paused ?? false;
  }

  get callId(): string {
    return this.facts.callId;
  }

  /** The caller's channel (leg A): the call's anchor in Stasis. Changes only in an attended transfer. */
  get channelId(): string {
    return this.anchor;
  }

  /** A supervisor joined this call: its CDR says so (nothing else of the call changes). */
  noteMonitored(): void {
    this.facts = { ...this.facts, monitored: true };
  }

  get peerLegId(): string | null {
    return this.switchboard.dial?.peerLegId ?? null;
  }

  snapshot(): CallFacts & { mode: string; channelId: string } {
    return { ...this.facts, mode: this.switchboard.active.mode, channelId: this.channelId };
  }

  /** Queue an event; it runs after every event queued before it. Never throws. */
  enqueue(event: SessionEvent): Promise<void> {
    this.queue = this.queue
      .then(() => this.handle(event))
      .catch((err: unknown) => {
        this.log.error({ err: (err as Error).message, event: event.type }, 'call event handler failed');
      });
    return this.queue;
  }

  /** Queue an event and go on (timers, runners); a failing handler is logged by enqueue. */
  private post(event: SessionEvent): void {
    logRejection(this.enqueue(event), this.log, 'call event not handled', { event: event.type });
  }

  /** Run `task` in the event queue (after every event queued before it); `fallback` if the call is over or it fails. */
  private run<T>(what: string, fallback: T, task: () => Promise<T>): Promise<T> {
    let result = fallback;
    this.queue = this.queue
      .then(async () => {
        if (!this.closed) result = await task();
      })
      .catch((err: unknown) => {
        this.log.error({ err: (err as Error).message, task: what }, 'call task failed');
      });
    return this.queue.then(() => result);
  }

  private async handle(event: SessionEvent): Promise<void> {
    if (this.closed) return;
    switch (event.type) {
      case 'stasis-start': {
        // The live row, the channel's events and the route at once: routing waits for neither the
        // insert nor the subscription (later writes to the row, and the CDR, wait for the insert).
        this.inserted = this.persist(() => this.deps.store.insert(this.facts, this.channelId, 'routing'));
        this.following = this.follow(this.channelId);
        const routed = await this.deps.route(this.channelName, this.facts);
        this.caller = routed.caller;
        this.facts = { ...this.facts, direction: routed.direction };
        this.log.info({ route: routed.route.kind, dialed: this.facts.dialedNumber }, 'call routed');
        this.recording?.routed(this.channelName, routed.route, null);
        return this.switchboard.route(routed.route);
      }
      case 'adopt':
        return this.adopt(event);
      case 'callback-start':
        return this.startCallback(event);
      case 'supervise-start':
        // The supervisor's phone, rung for an API request, answered (supervise-call.ts).
        await Promise.all([this.persist(() => this.deps.store.insert(this.facts, this.channelId, 'answered', 'supervise')), this.follow(this.channelId)]);
        return this.switchboard.startSupervision(event.supervisionId);
      case 'preview-start':
        // The agent's phone, rung for a preview offer, answered (preview-call.ts).
        await Promise.all([this.persist(() => this.deps.store.insert(this.facts, this.channelId, 'answered', 'preview')), this.follow(this.channelId)]);
        return this.switchboard.startPreview(event.attemptId);
      case 'campaign-start':
        // A campaign's contact, answered (and through AMD): the dialer says what to do (campaign-call.ts).
        // The 2 s to an agent run already: the live row's insert is not waited for (later writes are).
        this.inserted = this.persist(() => this.deps.store.insert(this.facts, this.channelId, 'answered', 'campaign'));
        this.following = this.follow(this.channelId);
        return this.switchboard.startCampaign(event.start, event.at);
      case 'hangup-request':
        if (!this.systemHangup) this.hangupRequested = { cause: event.cause };
        return;
      case 'stasis-end':
        this.destroyTimer ??= setTimeout(() => {
          this.post({ type: 'destroyed', cause: this.hangupRequested?.cause ?? null, causeText: null });
        }, DESTROY_GRACE_MS);
        return;
      case 'destroyed':
        return this.close({
          endedAt: this.deps.now(),
          cause: event.cause,
          causeText: event.causeText,
          endedBy: this.leftForCallback ? 'callback' : this.systemHangup ? (this.peerHangup ?? 'system') : this.hangupRequested ? this.callerSide() : 'unknown',
          reconciled: false,
          dialed: this.switchboard.dial?.unconnectedLeg ?? null,
          waiting: this.waitingForParty(),
        });
      case 'lost':
        return this.close({ endedAt: event.lastSeen, cause: null, causeText: null, endedBy: 'unknown', reconciled: true, waiting: this.waitingForParty() });
      case 'transfer': {
        // The dialed side of a connected call may transfer (dial-call.ts), and a queue call's agent.
        const { dial, queue } = this.switchboard;
        if (queue) return queue.transfer(event); // a queue call's agent (queue-call.ts)
        return dial ? dial.transfer(event) : declineTransfer(this.host, event, 'not-connected');
      }
      case 'dtmf':
        // The handset's recording key (*#) on a connected call, from our phones on either side (not
        // a carrier's party); the agent's or callee's digits (fromLeg) go nowhere else.
        this.recording?.digit(event.digit, Boolean(this.facts.party), { side: event.fromLeg ? 'peer' : 'caller', fromPhone: event.fromPhone ?? false });
        if (event.fromLeg) return;
        return this.switchboard.active.onEvent(event);
      case 'playback-finished':
        if (this.recording?.playbackFinished(event.playbackId)) return;
        return this.switchboard.active.onEvent(event);
      default:
        return this.switchboard.active.onEvent(event);
    }
  }

  private async adopt(event: Extract<SessionEvent, { type: 'adopt' }>): Promise<void> {
    this.log.info({ mode: event.mode, peer: event.peer }, 'call picked up again after reconnect');
    await Promise.all([this.persist(() => this.deps.store.insert(this.facts, this.channelId, 'adopted')), this.follow(this.channelId)]);
    this.recording?.adopt();
    return this.switchboard.resume(event);
  }

  private async startCallback(event: Extract<SessionEvent, { type: 'callback-start' }>): Promise<void> {
    // The row names the callback, so a restarted daemon knows this call for one (adopt).
    await Promise.all([this.persist(() => this.deps.store.insert(this.facts, this.channelId, 'callback', callbackMode(event.callbackId))), this.follow(this.channelId)]);
    if (!(await this.deps.acd.offerAnswered(event.callbackId, event.agentId))) return this.hangupCaller('normal');
    // The call's answer is the customer's (answerCaller, when the dial connects): the CDR's wait
    // runs until then, and a customer who does not answer makes it NO ANSWER (docs/acd.md#callbacks).
    this.caller = IVR_CALLER_CONTEXT;
    this.log.info({ callback: event.callbackId, customer: event.customer }, 'callback: agent answered; calling the customer');
    return this.switchboard.startCallback(event.callbackId, event.customer);
  }

  // ---------------------------------------------------------------- post-call survey (post-call-survey.ts)

  /**
   * The agent hung up an answered queue call (queue-call.ts): the caller goes into the queue's
   * survey flow as the call's next part, or (no survey, the caller gone too) is hung up.
   */
  private async agentHungUp(): Promise<void> {
    const survey = await this.postCallSurvey();
    if (!survey || this.hangupRequested) return this.hangupCaller('normal', 'agent');
    const now = this.deps.now();
    if (this.bridgeId) {
      await this.deps.control.destroyBridge(this.bridgeId).catch(() => undefined);
      this.bridgeId = null;
    }
    // The queue call's part ends here, as it would have: the agent hung up.
    this.deps.writeCdr(buildCdr(this.facts, { endedAt: now, cause: 16, causeText: 'Normal Clearing', endedBy: 'agent', reconciled: false }));
    this.survey = { callId: this.callId, queueId: survey.queueId, agentId: survey.agentId };
    this.part += 1;
    this.facts = surveyPartFacts(this.facts, this.part, now);
    this.log.info({ flow: survey.flow, surveyed: this.survey.callId, part: this.callId }, 'agent hung up: caller to the post-call survey');
    await this.persist(() => this.deps.store.insert(this.facts, this.channelId, 'answered', `survey:${survey.flow}`));
    return this.switchboard.startSurvey(survey.flow);
  }

  private async postCallSurvey() {
    const { surveys } = this.deps;
    const queue = this.facts.queue;
    if (!surveys || !queue) return null;
    return surveys.surveyFor(queue, this.facts.party?.agent ?? null).catch((err: unknown) => {
      this.log.warn({ err: (err as Error).message, queue }, 'post-call survey not looked up; the caller is hung up');
      return null;
    });
  }

  /** A survey node's answer: with the surveyed queue call, or (a survey node in any other flow) with this call alone. */
  private async recordSurveyAnswer(answer: SurveyAnswer): Promise<void> {
    const { surveys } = this.deps;
    if (!surveys) return;
    const ctx = this.survey;
    await surveys.record({
      callId: ctx?.callId ?? this.callId, queueId: ctx?.queueId ?? null, agentId: ctx?.agentId ?? null,
      question: answer.question, scale: answer.scale, score: answer.score,
    });
    this.log.info({ question: answer.question, score: answer.score, surveyed: ctx?.callId ?? this.callId }, 'survey answer stored');
  }

  // ---------------------------------------------------------------- transfers (transfer.ts, dial-call.ts, dispatcher)

  /** This part of the call ends in a transfer: its CDR. */
  private endPart(now: Date): void {
    this.recording?.transferred();
    this.deps.writeCdr(buildCdr(this.facts, { endedAt: now, cause: 16, causeText: 'Normal Clearing', endedBy: 'transfer', reconciled: false }));
  }

  /** A blind transfer (dial-call.ts): the call goes on as its next part, dialing `destination`. */
  private async nextPart(destination: string, transferer: string, now: Date): Promise<void> {
    this.endPart(now);
    this.part += 1;
    const previous = this.callId;
    this.facts = nextPartFacts(this.facts, this.part, destination, now);
    this.log.info({ from: previous, to: destination, part: this.callId, transferer }, 'blind transfer');
    await this.persist(() => this.deps.store.insert(this.facts, this.channelId, 'transferring'));
    this.updateLive({ mode: 'dial' });
  }

  /** This call as seen from `channelId`, the transferring phone's channel on it; null unless connected. */
  transferSide(channelId: string): Promise<TransferSide | null> {
    return this.run('transfer-side', null, async () => this.switchboard.dial?.side(channelId) ?? null);
  }

  /**
   * The other call of an attended transfer survives: this call ends here (its CDR, linked to the
   * survivor's), lets go of both its channels without hanging them up (the dispatcher hangs up the
   * transferring phone's), and returns its remaining party for the survivor to take in.
   */
  handOver(leaving: string, linkedId: string): Promise<TransferSide | null> {
    return this.run('hand-over', null, async () => {
      const { dial } = this.switchboard;
      const side = dial?.side(leaving);
      if (!dial || !side) return null;
      this.closed = true;
      this.clearTimer();
      if (this.destroyTimer) clearTimeout(this.destroyTimer);
      dial.letGo();
      if (this.bridgeId) await this.deps.control.destroyBridge(this.bridgeId).catch(() => undefined);
      this.facts = { ...this.facts, linkedId };
      this.endPart(this.deps.now());
      // Its recording stops (the file is this part's); the survivor records the joined part on.
      const recording = (await this.recording?.leaving()) ?? null;
      this.log.info({ leaving, handedOver: side.remaining, linkedId, recorded: recording !== null }, 'attended transfer: call handed over');
      this.deps.onEnded(this);
      return recording ? { ...side, recording } : side;
    });
  }

  /**
   * This call survives an attended transfer: its part with the transferring phone ends (CDR), and
   * its remaining party is bridged with `joined` (the other call's remaining party) in a new part.
   */
  takeOver(leaving: string, joined: TransferSide): Promise<boolean> {
    return this.run('take-over', false, async () => {
      const { dial } = this.switchboard;
      const kept = dial?.side(leaving);
      if (!dial || !kept) return false;
      const { control } = this.deps;
      const now = this.deps.now();
      this.clearTimer();
      this.endPart(now);
      if (this.bridgeId) await control.destroyBridge(this.bridgeId).catch(() => undefined);
      // This call's recording runs on its caller's channel: it goes on unless that channel leaves.
      let ownRecording: RecordingCarry | null = null;
      if (kept.remainingIsCaller) this.deps.legs.release(leaving);
      else {
        ownRecording = (await this.recording?.leaving()) ?? null;
        // The transferring phone placed this call: the party it called becomes the caller.
        this.deps.legs.release(kept.remaining);
        this.deps.legs.reanchor(this.anchor, kept.remaining, this);
        this.anchor = kept.remaining;
        this.callerIsPhone = true; // a party this call dialed: not known here, so its keys count
      }
      this.part += 1;
      const previous = this.callId;
      this.facts = joinedPartFacts(this.facts, this.part, kept, joined, now);
      dial.joined(joined.number, joined.remaining);
      this.deps.legs.register(joined.remaining, this);
      this.bridgeId = `${this.callId}-bridge`;
      await this.createCallBridge(this.bridgeId, true);
      await control.addToBridge(this.bridgeId, [this.anchor, joined.remaining]);
      await Promise.all([this.anchor, joined.remaining].map((c) => control.stopMoh(c).catch(() => undefined)));
      this.log.info({ from: previous, part: this.callId, caller: this.anchor, joined: joined.remaining }, 'attended transfer: parties joined');
      await this.persist(() => this.deps.store.insert(this.facts, this.anchor, 'dial'));
      this.updateLive({ mode: 'dial', peer_channel_id: joined.remaining, bridge_id: this.bridgeId });
      await this.follow(joined.remaining);
      // Every part of the call is covered: a recording that ran on either call records the joined part.
      if (ownRecording || joined.recording) await this.recording?.carryOn({ paused: ownRecording?.paused ?? joined.recording?.paused ?? null });
      return true;
    });
  }

  /** The call's bridge: with key events only where the handset's recording key can work (host.ts). */
  private async createCallBridge(bridgeId: string, peerIsPhone: boolean): Promise<void> {
    const keyAllowed = (await this.recording?.handsetKeyAllowed()) ?? false;
    const dtmfEvents = keyAllowed && (peerIsPhone || this.callerIsPhone);
    await this.deps.control.createBridge(bridgeId, { dtmfEvents });
  }

  private async answerCaller(): Promise<void> {
    // Answered already (a flow answered, then rang an extension): the call's answer time stays.
    if (this.facts.answeredAt) return;
    // After a transfer the caller is up already; the new part is answered when its target answers.
    // A callback's caller channel is the agent's phone, answered before the call began.
    if (this.part === 0 && !this.switchboard.callbackId) await this.deps.control.answer(this.channelId);
    this.facts = { ...this.facts, answeredAt: this.deps.now() };
    this.updateLive({ state: 'answered', answered_at: this.facts.answeredAt! });
    this.recording?.callerAnswered();
  }

  /** Who hung up when the caller's channel did: the agent, on a callback (their phone is its caller channel). */
  private callerSide(): Extract<EndedBy, 'caller' | 'agent'> {
    return this.switchboard.callbackId ? 'agent' : 'caller';
  }

  /** Still ringing an extension or number, or queued, with nobody answered: the call has no talk time (cdr.ts). */
  private waitingForParty(): boolean {
    const { mode } = this.switchboard.active;
    return !this.facts.party && (mode === 'dial' || mode === 'queue');
  }

  private async hangupCaller(reason: HangupReason, by?: Extract<EndedBy, 'callee' | 'agent'>): Promise<void> {
    this.clearTimer();
    // A call refused at once can otherwise end before its events are followed: no hangup cause.
    await this.following;
    this.systemHangup = !this.hangupRequested;
    if (this.systemHangup && by) this.peerHangup = by;
    await this.deps.control.hangup(this.channelId, reason).catch((err: unknown) => {
      if (!(err instanceof AppError && err.code === 'call-not-found')) throw err;
    });
  }

  /** Shutdown: stop timers and let go of the call without ending it (the next daemon adopts it). */
  detach(): void {
    this.closed = true;
    this.clearTimer();
    if (this.destroyTimer) clearTimeout(this.destroyTimer);
  }

  private close(end: CallEnd): void {
    if (this.closed) return;
    this.closed = true;
    this.clearTimer();
    if (this.destroyTimer) clearTimeout(this.destroyTimer);
    this.switchboard.channelGone();
    if (this.bridgeId) logRejectionUnlessGone(this.deps.control.destroyBridge(this.bridgeId), this.log, 'call bridge not destroyed', { bridgeId: this.bridgeId });
    this.recording?.ended(end.endedAt);
    const cdr = buildCdr(this.facts, end);
    logRejection(this.inserted.then(() => this.deps.writeCdr(cdr)), this.log, 'CDR not queued for writing');
    this.log.info({ cause: end.cause, endedBy: end.endedBy, reconciled: end.reconciled, mode: this.switchboard.active.mode, outcome: this.switchboard.dial?.outcome ?? null }, 'call ended');
    this.deps.onEnded(this);
  }

  private setTimer(ms: number, event: SessionEvent): void {
    this.clearTimer();
    this.timer = setTimeout(() => this.post(event), ms);
  }

  private clearTimer(): void {
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
  }

  private async follow(channelId: string): Promise<void> {
    try {
      await this.deps.control.followChannel(channelId);
    } catch (err) {
      // The call still works; only its hangup cause may be missing from the CDR.
      this.log.warn({ err: (err as Error).message, channelId }, 'could not subscribe to channel events');
    }
  }

  /**
   * An update of the live row, after its insert and after the updates before it (a later state
   * must not be overtaken by an earlier one on another pool connection); not awaited (see persist).
   * Updates made while an earlier write is in flight (or the insert) are merged into one write,
   * later fields over earlier ones: the row ends the same, in fewer statements (#22).
   */
  private updateLive(patch: LiveCallPatch): void {
    if (this.liveQueued) {
      mergePatch(this.liveQueued, patch);
      return;
    }
    const callId = this.callId;
    const merged: LiveCallPatch = mergePatch({}, patch);
    this.liveQueued = merged;
    this.liveUpdates = this.liveUpdates.then(async () => {
      await this.inserted; // never rejects (persist)
      if (this.liveQueued === merged) this.liveQueued = null;
      return this.persist(() => this.deps.store.update(callId, merged));
    });
    logRejection(this.liveUpdates, this.log, 'live call state not saved');
  }

  /** Live-call bookkeeping is best effort: a failed write is logged, the call goes on. */
  private async persist(write: () => Promise<void>): Promise<void> {
    try {
      await this.inserted;
      await write();
    } catch (err) {
      this.log.warn({ err: (err as Error).message }, 'live call state not saved');
    }
  }
}

/** `later`'s fields over `into`'s; a field left undefined in `later` keeps `into`'s (an update writes no undefined field). */
function mergePatch(into: LiveCallPatch, later: LiveCallPatch): LiveCallPatch {
  for (const [k, v] of Object.entries(later)) if (v !== undefined) (into as Record<string, unknown>)[k] = v;
  return into;
}
