/**
 * One call session per caller channel (leg A) in Stasis. Events are queued and handled one at a
 * time, in order. The call is routed once (router.ts), then driven by a pure machine: the test
 * service (flow.ts, run by test-service-call.ts), dialing an extension (dial-flow.ts, run here),
 * leaving a voicemail when it does not connect (voicemail/deposit.ts) or the *97 mailbox menu
 * (voicemail/menu.ts), both run by voicemail-call.ts. A connected call may be blind-transferred by
 * the dialed phone (transfer.ts): the call then goes on as a new part with its own CDR, linked to
 * the first. In an attended transfer two sessions take part (the dispatcher coordinates): one
 * hands its remaining party over and ends, the other takes it in as its new leg. The session owns
 * the call's facts and hands exactly one CDR per part to the writer.
 */
import { randomUUID } from 'node:crypto';
import type { Logger } from '../logger.js';
import type { CallControl, HangupReason, TransferProgress } from '../telephony/ari-types.js';
import { AppError } from '../errors.js';
import { buildCdr, type CallEnd, type CallFacts } from './cdr.js';
import type { FlowEvent, FlowSettings } from './flow.js';
import { dialTransition, initialDialState, type DialAction, type DialEvent, type DialState, type DialTarget } from './dial-flow.js';
import type { CallerContext, RoutedCall } from './directory.js';
import type { NewCdr } from '../db/tables/cdrs.js';
import type { LiveCallPatch } from './repository.js';
import type { DepositEvent } from '../voicemail/deposit.js';
import type { MenuEvent } from '../voicemail/menu.js';
import {
  decideTransfer,
  failureProgress,
  joinedPartFacts,
  nextPartFacts,
  transferDialState,
  type TransferRequest,
  type TransferSide,
} from './transfer.js';
import { DepositRunner, MenuRunner, type CallHost, type VoicemailHost, type VoicemailPort } from './voicemail-call.js';
import { TestServiceRunner } from './test-service-call.js';
import { IvrRunner, type IvrEvent, type IvrHost, type IvrPort } from './ivr-call.js';
import { QueueRunner, routingFromVars, type QueueEvent, type QueueHost, type QueueRouting } from './queue-call.js';
import { AgentCodeRunner } from './agent-call.js';
import { silentPort, type AcdEngine } from '../acd/engine.js';
import type { TransferTarget } from '../ivr/model.js';

export type { VoicemailPort } from './voicemail-call.js';

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
  | { readonly type: 'hangup-request'; readonly cause: number | null }
  | { readonly type: 'stasis-end' }
  | { readonly type: 'destroyed'; readonly cause: number | null; readonly causeText: string | null }
  | { readonly type: 'lost'; readonly lastSeen: Date };

/** A callback's live-row mode (acd/repository.ts agentsOnEndedCalls matches it too), and back. */
const callbackMode = (callbackId: string): string => `callback:${callbackId}`;
const callbackOfMode = (mode: string): string | null => (mode.startsWith('callback:') ? mode.slice('callback:'.length) : null);

export interface LiveCallStore {
  /** `mode`: what the call is doing (default 'routing'); a restarted daemon picks it up by it. */
  insert(facts: CallFacts, channelId: string, state: string, mode?: string): Promise<void>;
  update(callId: string, patch: LiveCallPatch): Promise<void>;
}

export interface SessionDeps {
  readonly control: CallControl;
  readonly store: LiveCallStore;
  readonly writeCdr: (cdr: NewCdr) => void;
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
}

/** An IVR target of an outside number was set up by an admin: it may reach any outbound route. */
const IVR_CALLER_CONTEXT: CallerContext = { callerClass: 'international', callerIdNumber: null };

/** After StasisEnd, wait this long for ChannelDestroyed (which carries the cause) before closing. */
const DESTROY_GRACE_MS = 2_000;
/** After its phone is told how the transfer went, the transferring leg is hung up unless it left already. */
const TRANSFERER_GRACE_MS = 3_000;

export class CallSession {
  private mode: 'routing' | 'test' | 'ivr' | 'queue' | 'agent' | 'dial' | 'refused' | 'voicemail' | 'mailbox' = 'routing';
  /** This call is a queue callback (the agent's side): its outcome goes back to the ACD. */
  private callbackId: string | null = null;
  /** The caller left the queue asking for a callback. */
  private leftForCallback = false;
  private readonly ivr: IvrRunner;
  private readonly queueRunner: QueueRunner;
  private agentRunner: AgentCodeRunner | null = null;
  private readonly host: VoicemailHost;
  private readonly testService: TestServiceRunner;
  private dial: DialState = initialDialState;
  private readonly deposit: DepositRunner;
  private readonly menu: MenuRunner;
  private bridgeId: string | null = null;
  private caller: CallerContext = { callerClass: null, callerIdNumber: null };
  /** The extension last dialed: its forwards are followed with its own permission class. */
  private forwarder: CallerContext | null = null;
  private queue: Promise<void> = Promise.resolve();
  /** The subscription to the caller channel's events: a hangup waits for it, or the cause could be missed. */
  private following: Promise<void> = Promise.resolve();
  /** The live row's first insert: updates and the CDR (which drops the row) go after it. */
  private inserted: Promise<void> = Promise.resolve();
  private timer: NodeJS.Timeout | null = null;
  private destroyTimer: NodeJS.Timeout | null = null;
  private hangupRequested: { cause: number | null } | null = null;
  private systemHangup = false;
  private closed = false;
  /** Parts of the call after transfers (0: never transferred). */
  private part = 0;
  /** The leg whose phone asked for a blind transfer still in progress (told the outcome when known). */
  private transferer: string | null = null;
  readonly log: Logger;

  constructor(
    private anchor: string,
    private readonly channelName: string | null,
    private facts: CallFacts,
    private readonly deps: SessionDeps,
  ) {
    this.log = deps.log.child({ callId: facts.callId });
    const session = this; // eslint-disable-line @typescript-eslint/no-this-alias -- the host reads the current caller channel
    const host: VoicemailHost = {
      get channelId() {
        return session.anchor;
      },
      log: this.log,
      control: deps.control,
      voicemail: deps.voicemail,
      digitTimeoutMs: deps.settings.digitTimeoutMs,
      facts: () => this.facts,
      answerCaller: () => this.answerCaller(),
      hangupCaller: (reason) => this.hangupCaller(reason),
      setTimer: (ms, event) => this.setTimer(ms, event),
      clearTimer: () => this.clearTimer(),
      noteRecording: (name) => void this.persist(() => this.deps.store.update(this.callId, { recording_name: name })),
    };
    this.host = host;
    this.deposit = new DepositRunner(host);
    this.ivr = new IvrRunner(
      this.hostWith<Omit<IvrHost, keyof CallHost>>({
      ivr: deps.ivr,
      transfer: (target) => this.toTarget(target),
      record: (record) => {
        this.facts = { ...this.facts, ivr: record };
      },
      setIvrTimer: (ms, gen) => this.setTimer(ms, { type: 'ivr-timeout', gen }),
      deliver: (event) => void this.enqueue(event),
      }),
    );
    this.queueRunner = new QueueRunner(
      this.hostWith<Omit<QueueHost, keyof CallHost>>({
      acd: deps.acd,
      deliver: (event) => void this.enqueue(event),
      registerLeg: (legId) => this.deps.legs.register(legId, this),
      releaseLeg: (legId) => this.deps.legs.release(legId),
      leaveTo: (target) => (target ? this.toTarget(target) : this.hangupCaller('normal')),
      setQueueTimer: (ms) => this.setTimer(ms, { type: 'queue-callback-offer' }),
      speak: (text) => deps.ivr.speak(text, 'en', undefined),
      markCallback: () => {
        this.leftForCallback = true;
      },
      connected: (legId, bridgeId) => {
        this.bridgeId = bridgeId;
        void this.persist(() => this.deps.store.update(this.callId, { state: 'dial', peer_channel_id: legId, bridge_id: bridgeId }));
      },
      }),
    );
    this.menu = new MenuRunner(host);
    this.testService = new TestServiceRunner(
      this.hostWith({
        settings: deps.settings,
        recordDigits: (digits: string) => {
          this.facts = { ...this.facts, digits };
          void this.persist(() => this.deps.store.update(this.callId, { digits, state: 'collecting' }));
        },
      }),
    );
  }

  /**
   * The shared host plus what one runner needs. The host is the prototype, not copied, so its
   * channelId getter keeps following the caller's channel (it changes in an attended transfer).
   */
  private hostWith<T extends object>(extra: T): VoicemailHost & T {
    return Object.assign(Object.create(this.host) as VoicemailHost, extra);
  }

  get callId(): string {
    return this.facts.callId;
  }

  /** The caller's channel (leg A): the call's anchor in Stasis. Changes only in an attended transfer. */
  get channelId(): string {
    return this.anchor;
  }

  get peerLegId(): string | null {
    return this.dial.legId;
  }

  snapshot(): CallFacts & { mode: string; channelId: string } {
    return { ...this.facts, mode: this.mode, channelId: this.channelId };
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
        return this.startRoute(routed.route);
      }
      case 'adopt':
        return this.adopt(event);
      case 'callback-start':
        return this.startCallback(event);
      case 'hangup-request':
        if (!this.systemHangup) this.hangupRequested = { cause: event.cause };
        return;
      case 'stasis-end':
        this.destroyTimer ??= setTimeout(() => {
          void this.enqueue({ type: 'destroyed', cause: this.hangupRequested?.cause ?? null, causeText: null });
        }, DESTROY_GRACE_MS);
        return;
      case 'destroyed':
        return this.close({
          endedAt: this.deps.now(),
          cause: event.cause,
          causeText: event.causeText,
          endedBy: this.leftForCallback ? 'callback' : this.systemHangup ? 'system' : this.hangupRequested ? 'caller' : 'unknown',
          reconciled: false,
        });
      case 'lost':
        return this.close({ endedAt: event.lastSeen, cause: null, causeText: null, endedBy: 'unknown', reconciled: true });
      case 'hold':
        return this.onHold(event.channelId, event.on);
      case 'transfer':
        return this.onTransfer(event);
      case 'b-answered':
        if (this.mode === 'queue') return this.queueRunner.legAnswered(event.legId);
        return this.dialStep(event);
      case 'b-ended':
        if (this.mode === 'queue') return this.queueRunner.legEnded(event.legId, event.cause);
        return this.dialStep(event);
      case 'ring-timeout':
        return this.dialStep(event);
      case 'queue-offer':
      case 'queue-withdraw':
      case 'queue-leave':
      case 'queue-announce':
      case 'queue-callback-offer':
      case 'queue-answer-failed':
        if (this.mode === 'queue') await this.queueRunner.step(event);
        return;
      case 'agent-timeout':
        if (this.mode === 'agent') await this.agentRunner?.step(event);
        return;
      case 'recording-ended':
        if (this.mode === 'voicemail') return this.depositStep(event);
        return this.menuStep(event);
      case 'menu-timeout':
        return this.menuStep(event);
      case 'ivr-timeout':
      case 'ivr-lookup':
        if (this.mode === 'ivr') await this.ivr.step(event);
        return;
      default:
        if (this.mode === 'ivr' && (event.type === 'dtmf' || event.type === 'playback-finished')) return this.ivr.step(event);
        if (this.mode === 'agent' && (event.type === 'dtmf' || event.type === 'playback-finished')) return this.agentRunner?.step(event);
        if (this.mode === 'queue' && event.type === 'playback-finished') return this.queueRunner.playbackFinished(event.playbackId);
        if (this.mode === 'queue' && event.type === 'dtmf') return this.queueRunner.dtmf(event.digit);
        if (this.mode === 'queue') return;
        if (this.mode === 'voicemail' && (event.type === 'dtmf' || event.type === 'playback-finished')) return this.depositStep(event);
        if (this.mode === 'mailbox' && (event.type === 'dtmf' || event.type === 'playback-finished')) return this.menuStep(event);
        return this.flowStep(event);
    }
  }

  private async startRoute(route: RoutedCall['route']): Promise<void> {
    this.log.info({ route: route.kind, dialed: this.facts.dialedNumber }, 'call routed');
    switch (route.kind) {
      case 'test-service':
        this.mode = 'test';
        void this.persist(() => this.deps.store.update(this.callId, { mode: 'test' }));
        return this.flowStep({ type: 'start', dialed: this.facts.dialedNumber });
      case 'extension':
      case 'outbound': {
        this.mode = 'dial';
        const number = route.kind === 'extension' ? route.number : route.dialed;
        const target = await this.deps.lookupTarget(number, this.caller);
        return this.dialStep(target ? { type: 'dial', target } : { type: 'target-missing', number });
      }
      case 'voicemail':
        this.mode = 'mailbox';
        void this.persist(() => this.deps.store.update(this.callId, { mode: 'mailbox' }));
        return this.menuStep({ type: 'start', mailbox: route.mailbox });
      case 'flow':
        return this.startIvr(route.flow);
      case 'queue':
        return this.startQueue(route.queue);
      case 'agent':
        this.mode = 'agent';
        void this.persist(() => this.deps.store.update(this.callId, { mode: 'agent' }));
        this.agentRunner = new AgentCodeRunner(
          this.hostWith({
            acd: this.deps.acd,
            digitTimeoutMs: this.deps.settings.digitTimeoutMs,
            setAgentTimer: (ms: number, gen: number) => this.setTimer(ms, { type: 'agent-timeout', gen }),
          }),
          route.extension,
        );
        return this.agentRunner.start(route.action, route.code);
      case 'refuse':
        this.mode = 'refused';
        return this.hangupCaller(route.reason === 'not-permitted' ? 'rejected' : 'unallocated');
    }
  }

  private async adopt(event: Extract<SessionEvent, { type: 'adopt' }>): Promise<void> {
    this.log.info({ mode: event.mode, peer: event.peer }, 'call picked up again after reconnect');
    await Promise.all([this.persist(() => this.deps.store.insert(this.facts, this.channelId, 'adopted')), this.follow(this.channelId)]);
    // A callback (the agent's channel calling the customer) is a dial that reports back to the ACD.
    const callbackId = callbackOfMode(event.mode);
    if ((event.mode === 'dial' || callbackId) && event.peer && !event.peerRinging) {
      // Connected when the daemon went away: keep the two legs tied together.
      this.mode = 'dial';
      if (callbackId) {
        this.callbackId = callbackId;
        await this.deps.acd.adoptConnected(callbackId, silentPort, true);
      }
      this.bridgeId = event.bridgeId;
      this.dial = { ...initialDialState, phase: 'bridged', answered: true, legId: event.peer, outcome: 'connected' };
      this.deps.legs.register(event.peer, this);
      return this.follow(event.peer);
    }
    if (event.mode === 'dial' || callbackId) {
      // Was still ringing: the dial attempt is gone; its ringing leg goes too (nobody would connect it).
      // A callback's is tried again later (the ACD counts it, see AcdEngine.restoreCallbacks).
      if (event.peer) await this.deps.control.hangup(event.peer).catch(() => undefined);
      return this.hangupCaller('normal');
    }
    // A caller in a flow starts that flow over (its published version now).
    if (event.mode.startsWith('ivr:')) return this.startIvr(event.mode.slice(4));
    // A caller waiting in a queue waits on at their place; one talking to an agent talks on.
    if (event.mode.startsWith('queue:')) {
      this.mode = 'queue';
      if (!event.peer) return this.queueRunner.start(event.mode.slice(6), undefined, true);
      this.bridgeId = event.bridgeId;
      await this.follow(event.peer);
      return this.queueRunner.adoptConnected(event.peer, event.bridgeId);
    }
    if (event.mode === 'agent') return this.hangupCaller('normal'); // a feature code call: done or to be dialed again
    // A voicemail recording or menu cannot be resumed midway: end the call cleanly, keeping the
    // message said so far (it is saved once Asterisk has closed the file).
    if (event.mode === 'voicemail' || event.mode === 'mailbox') {
      if (event.mode === 'voicemail' && event.recording && this.deposit.recover(event.recording)) {
        this.log.info({ recording: event.recording }, 'voicemail message recorded before the restart is kept');
      }
      return this.hangupCaller('normal');
    }
    this.mode = 'test';
    return this.flowStep(this.facts.answeredAt ? { type: 'resume' } : { type: 'start', dialed: this.facts.dialedNumber });
  }

  // ---------------------------------------------------------------- test service (test-service-call.ts)

  private async flowStep(event: FlowEvent): Promise<void> {
    if (this.mode === 'test') await this.testService.step(event);
  }

  // ---------------------------------------------------------------- dialing (dial-flow.ts)

  private async dialStep(event: DialEvent): Promise<void> {
    if (this.mode !== 'dial') return;
    const target = event.type === 'dial' || event.type === 'no-connect' ? event.target : null;
    if (target?.owner) this.forwarder = target.owner;
    const from = this.dial.phase;
    const { state, actions } = dialTransition(this.dial, event, () => `${this.callId}-leg-${randomUUID().slice(0, 8)}`);
    this.dial = state;
    if (state.phase !== from) this.log.debug(`dial ${from} -> ${event.type} -> ${state.phase}`);
    for (const action of actions) await this.runDial(action);
  }

  private async runDial(action: DialAction): Promise<void> {
    const { control } = this.deps;
    try {
      switch (action.kind) {
        case 'ring-caller':
          return await control.ring(this.channelId);
        case 'originate': {
          this.deps.legs.register(action.legId, this);
          // Outside calls present the extension's external caller id number when it has one.
          const external = action.endpoint.includes('@');
          const number = (external ? this.caller.callerIdNumber : null) ?? this.facts.callerNumber ?? '';
          const callerId = `"${this.facts.callerName ?? number}" <${number}>`;
          this.log.info({ leg: action.legId, to: action.number, endpoint: action.endpoint }, 'ringing');
          // Safety net on top of Asterisk's own originate timeout.
          this.setTimer((action.timeoutSeconds + 3) * 1000, { type: 'ring-timeout', legId: action.legId });
          void this.persist(() => this.deps.store.update(this.callId, { state: 'ringing', mode: 'dial', peer_channel_id: action.legId }));
          return await control.originate({
            channelId: action.legId,
            endpoint: action.endpoint,
            callerId,
            timeoutSeconds: action.timeoutSeconds,
            appArgs: `leg,${this.callId}`,
          });
        }
        case 'lookup': {
          // A forward is the forwarding extension's choice: an outside number is checked against its class.
          const target = await this.deps.lookupTarget(action.number, this.forwarder ?? this.caller);
          this.log.info({ to: action.number, found: target !== null }, 'following forward');
          return this.dialStep(target ? { type: 'dial', target } : { type: 'target-missing', number: action.number });
        }
        case 'lookup-after-failure': {
          this.log.info({ extension: action.number, why: action.why }, 'extension did not answer');
          return this.dialStep({ type: 'no-connect', why: action.why, target: await this.deps.lookupTarget(action.number, this.caller) });
        }
        case 'answer-caller':
          this.clearTimer();
          return await this.answerCaller();
        case 'bridge': {
          if (this.transferer) await control.stopMoh(this.channelId).catch(() => undefined);
          this.bridgeId = `${this.callId}-bridge`;
          await control.createBridge(this.bridgeId);
          await control.addToBridge(this.bridgeId, [this.channelId, action.legId]);
          void this.persist(() => this.deps.store.update(this.callId, { state: 'dial', bridge_id: this.bridgeId }));
          this.finishTransfer('channel_answered');
          if (this.callbackId) void this.deps.acd.callbackResult(this.callbackId, true);
          return await this.follow(action.legId);
        }
        case 'hangup-leg':
          this.clearTimer();
          this.deps.legs.release(action.legId);
          return await control.hangup(action.legId).catch(() => undefined);
        case 'hangup-caller':
          this.finishTransfer(failureProgress(action.reason));
          if (this.callbackId) await this.deps.acd.callbackResult(this.callbackId, false);
          return await this.hangupCaller(action.reason);
        case 'voicemail':
          if (this.transferer) await control.stopMoh(this.channelId).catch(() => undefined);
          this.finishTransfer('channel_answered'); // the transfer reached the target's mailbox
          return await this.startVoicemail(action.mailbox, action.why);
      }
    } catch (err) {
      if (action.kind === 'originate') {
        // Asterisk could not create the channel (no reachable contact): like an unreachable phone.
        this.log.warn({ leg: action.legId, err: (err as Error).message }, 'could not ring extension');
        this.deps.legs.release(action.legId);
        return this.dialStep({ type: 'b-ended', legId: action.legId, cause: 20 });
      }
      if (err instanceof AppError && err.code === 'call-not-found') return;
      this.log.error({ action: action.kind, err: (err as Error).message }, 'dial action failed');
      if (action.kind !== 'hangup-caller') await this.hangupCaller('normal');
    }
  }

  // ---------------------------------------------------------------- blind transfer (transfer.ts)

  private async onTransfer(req: TransferRequest): Promise<void> {
    const { control } = this.deps;
    if (req.channelId === this.transferer) return; // the same REFER reported again
    const decline = async (why: string): Promise<void> => {
      this.log.info({ from: req.channelId, to: req.destination, why }, 'transfer refused');
      await control.transferProgress(req.channelId, 'channel_declined').catch(() => undefined);
    };
    const decision = this.mode === 'dial' ? decideTransfer(this.dial, this.channelId, req) : ({ kind: 'decline', why: 'not-connected' } as const);
    if (decision.kind === 'decline') return decline(decision.why);
    // The transferring extension's choice: an outside number is checked against its permission class.
    const transferer = this.dial.current ? (await this.deps.lookupTarget(this.dial.current, this.caller))?.owner : undefined;
    const target = await this.deps.lookupTarget(decision.destination, transferer ?? { callerClass: null, callerIdNumber: null });
    if (!target) return decline('unknown-destination');

    // The transferring leg leaves; its part of the call ends here. It stays mapped to this session
    // until it is gone, but its end no longer matters: the dial flow only follows the current leg.
    this.clearTimer();
    this.transferer = decision.transfererLeg;
    // "100 Trying" to the phone now (Asterisk sends it only with the first progress report).
    void control.transferProgress(decision.transfererLeg, 'channel_progress').catch(() => undefined);
    const now = this.deps.now();
    if (this.bridgeId) await control.destroyBridge(this.bridgeId).catch(() => undefined);
    this.bridgeId = null;
    await control.startMoh(this.channelId).catch((err: Error) => this.log.warn({ err: err.message }, 'music on hold failed'));
    this.deps.writeCdr(buildCdr(this.facts, { endedAt: now, cause: 16, causeText: 'Normal Clearing', endedBy: 'transfer', reconciled: false }));
    this.part += 1;
    const previous = this.callId;
    this.facts = nextPartFacts(this.facts, this.part, decision.destination, now);
    this.log.info({ from: previous, to: decision.destination, part: this.callId, transferer: decision.transfererLeg }, 'blind transfer');
    await this.persist(() => this.deps.store.insert(this.facts, this.channelId, 'transferring'));
    void this.persist(() => this.deps.store.update(this.callId, { mode: 'dial' }));
    this.dial = transferDialState(this.dial);
    return this.dialStep({ type: 'dial', target });
  }

  // ---------------------------------------------------------------- attended transfer (transfer.ts, dispatcher)

  /** This call as seen from `channelId`, the transferring phone's channel on it; null unless connected. */
  transferSide(channelId: string): Promise<TransferSide | null> {
    return this.run('transfer-side', null, async () => this.sideOf(channelId));
  }

  private sideOf(channelId: string): TransferSide | null {
    const leg = this.dial.legId;
    if (this.mode !== 'dial' || this.dial.phase !== 'bridged' || !leg || this.transferer) return null;
    const linkedId = this.facts.linkedId ?? this.callId;
    if (channelId === leg) {
      return { leaving: leg, remaining: this.anchor, remainingIsCaller: true, number: this.facts.callerNumber, name: this.facts.callerName, linkedId };
    }
    if (channelId === this.anchor) {
      return { leaving: this.anchor, remaining: leg, remainingIsCaller: false, number: this.dial.current ?? this.facts.dialedNumber, name: null, linkedId };
    }
    return null;
  }

  /**
   * The other call of an attended transfer survives: this call ends here (its CDR, linked to the
   * survivor's), lets go of both its channels without hanging them up (the dispatcher hangs up the
   * transferring phone's), and returns its remaining party for the survivor to take in.
   */
  handOver(leaving: string, linkedId: string): Promise<TransferSide | null> {
    return this.run('hand-over', null, async () => {
      const side = this.sideOf(leaving);
      if (!side) return null;
      this.closed = true;
      this.clearTimer();
      if (this.destroyTimer) clearTimeout(this.destroyTimer);
      this.deps.legs.release(this.dial.legId!);
      this.dial = { ...this.dial, phase: 'ended', legId: null };
      if (this.bridgeId) await this.deps.control.destroyBridge(this.bridgeId).catch(() => undefined);
      this.facts = { ...this.facts, linkedId };
      this.deps.writeCdr(buildCdr(this.facts, { endedAt: this.deps.now(), cause: 16, causeText: 'Normal Clearing', endedBy: 'transfer', reconciled: false }));
      this.log.info({ leaving, handedOver: side.remaining, linkedId }, 'attended transfer: call handed over');
      this.deps.onEnded(this);
      return side;
    });
  }

  /**
   * This call survives an attended transfer: its part with the transferring phone ends (CDR), and
   * its remaining party is bridged with `joined` (the other call's remaining party) in a new part.
   */
  takeOver(leaving: string, joined: TransferSide): Promise<boolean> {
    return this.run('take-over', false, async () => {
      const kept = this.sideOf(leaving);
      if (!kept) return false;
      const { control } = this.deps;
      const now = this.deps.now();
      this.clearTimer();
      this.deps.writeCdr(buildCdr(this.facts, { endedAt: now, cause: 16, causeText: 'Normal Clearing', endedBy: 'transfer', reconciled: false }));
      if (this.bridgeId) await control.destroyBridge(this.bridgeId).catch(() => undefined);
      if (kept.remainingIsCaller) this.deps.legs.release(leaving);
      else {
        // The transferring phone placed this call: the party it called becomes the caller.
        this.deps.legs.release(kept.remaining);
        this.deps.legs.reanchor(this.anchor, kept.remaining, this);
        this.anchor = kept.remaining;
      }
      this.part += 1;
      const previous = this.callId;
      this.facts = joinedPartFacts(this.facts, this.part, kept, joined, now);
      this.dial = { ...initialDialState, phase: 'bridged', answered: true, current: joined.number, legId: joined.remaining, outcome: 'connected' };
      this.deps.legs.register(joined.remaining, this);
      this.bridgeId = `${this.callId}-bridge`;
      await control.createBridge(this.bridgeId);
      await control.addToBridge(this.bridgeId, [this.anchor, joined.remaining]);
      await Promise.all([this.anchor, joined.remaining].map((c) => control.stopMoh(c).catch(() => undefined)));
      this.log.info({ from: previous, part: this.callId, caller: this.anchor, joined: joined.remaining }, 'attended transfer: parties joined');
      await this.persist(() => this.deps.store.insert(this.facts, this.anchor, 'dial'));
      void this.persist(() => this.deps.store.update(this.callId, { mode: 'dial', peer_channel_id: joined.remaining, bridge_id: this.bridgeId }));
      await this.follow(joined.remaining);
      return true;
    });
  }

  /** Tell the transferring phone the outcome (a NOTIFY), then make sure its leg goes. */
  private finishTransfer(progress: TransferProgress): void {
    const leg = this.transferer;
    if (!leg) return;
    this.transferer = null;
    const { control } = this.deps;
    this.log.info({ transferer: leg, progress }, 'transfer finished');
    void control
      .transferProgress(leg, progress)
      .catch((err: Error) => this.log.debug({ err: err.message }, 'transfer progress not delivered (transferer gone)'))
      .then(() => setTimeout(() => void control.hangup(leg).catch(() => undefined), TRANSFERER_GRACE_MS).unref());
  }

  // ---------------------------------------------------------------- IVR flows (ivr-call.ts)

  private async startIvr(flow: string): Promise<void> {
    this.mode = 'ivr';
    void this.persist(() => this.deps.store.update(this.callId, { mode: `ivr:${flow}` }));
    return this.ivr.start(flow, this.deps.now);
  }

  private async startCallback(event: Extract<SessionEvent, { type: 'callback-start' }>): Promise<void> {
    // The row names the callback, so a restarted daemon knows this call for one (adopt).
    await Promise.all([this.persist(() => this.deps.store.insert(this.facts, this.channelId, 'callback', callbackMode(event.callbackId))), this.follow(this.channelId)]);
    if (!(await this.deps.acd.offerAnswered(event.callbackId, event.agentId))) return this.hangupCaller('normal');
    this.callbackId = event.callbackId;
    this.facts = { ...this.facts, answeredAt: this.deps.now() };
    this.caller = IVR_CALLER_CONTEXT;
    this.log.info({ callback: event.callbackId, customer: event.customer }, 'callback: agent answered; calling the customer');
    return this.toTarget({ kind: 'external', number: event.customer });
  }

  private async startQueue(queue: string, routing?: QueueRouting): Promise<void> {
    this.mode = 'queue';
    void this.persist(() => this.deps.store.update(this.callId, { mode: `queue:${queue}` }));
    return this.queueRunner.start(queue, routing);
  }

  /** A flow or a queue's overflow sends the caller on: an extension, outside number, mailbox, flow or queue. */
  private async toTarget(target: TransferTarget): Promise<void> {
    this.clearTimer();
    switch (target.kind) {
      case 'flow':
        return this.startIvr(target.flow);
      case 'extension':
      case 'external': {
        this.mode = 'dial';
        void this.persist(() => this.deps.store.update(this.callId, { mode: this.callbackId ? callbackMode(this.callbackId) : 'dial' }));
        const context = target.kind === 'extension' ? this.caller : IVR_CALLER_CONTEXT;
        const found = await this.deps.lookupTarget(target.number, context);
        return this.dialStep(found ? { type: 'dial', target: found } : { type: 'target-missing', number: target.number });
      }
      case 'voicemail':
        return this.startVoicemail(target.mailbox, 'ivr');
      case 'queue':
        // From a flow: its variables may set the caller's priority and required skills.
        return this.startQueue(target.queue, this.mode === 'ivr' ? routingFromVars(this.ivr.vars) : undefined);
    }
  }

  // ---------------------------------------------------------------- voicemail (voicemail-call.ts)

  private async depositStep(event: DepositEvent): Promise<void> {
    if (this.mode === 'voicemail') await this.deposit.step(event);
  }

  private async menuStep(event: MenuEvent): Promise<void> {
    if (this.mode === 'mailbox') await this.menu.step(event);
  }

  private async startVoicemail(mailbox: string, why: string): Promise<void> {
    this.clearTimer();
    const box = await this.deps.voicemail.mailboxFor(mailbox);
    if (!box) return this.hangupCaller(why === 'busy' ? 'busy' : 'no_answer'); // switched off meanwhile
    this.log.info({ mailbox, why }, 'to voicemail');
    this.mode = 'voicemail';
    void this.persist(() => this.deps.store.update(this.callId, { mode: 'voicemail' }));
    return this.deposit.step({ type: 'start', mailbox, greeting: box.greeting });
  }

  // ---------------------------------------------------------------- shared

  private async onHold(channelId: string, on: boolean): Promise<void> {
    // The other party hears music on hold while one side holds.
    if (channelId !== this.anchor && channelId !== this.dial.legId) return; // e.g. a leg that transferred away
    const other = channelId === this.channelId ? this.dial.legId : this.channelId;
    if (!other || this.dial.phase !== 'bridged') return;
    try {
      await (on ? this.deps.control.startMoh(other) : this.deps.control.stopMoh(other));
      this.log.info({ holder: channelId, other }, on ? 'on hold: music for the other party' : 'off hold: music stopped');
    } catch (err) {
      this.log.warn({ err: (err as Error).message }, 'music on hold failed');
    }
  }

  private async answerCaller(): Promise<void> {
    // Answered already (a flow answered, then rang an extension): the call's answer time stays.
    if (this.facts.answeredAt) return;
    // After a transfer the caller is up already; the new part is answered when its target answers.
    if (this.part === 0) await this.deps.control.answer(this.channelId);
    this.facts = { ...this.facts, answeredAt: this.deps.now() };
    void this.persist(() => this.deps.store.update(this.callId, { state: 'answered', answered_at: this.facts.answeredAt! }));
  }

  private async hangupCaller(reason: HangupReason): Promise<void> {
    this.clearTimer();
    // A call refused at once can otherwise end before its events are followed: no hangup cause.
    await this.following;
    this.systemHangup = !this.hangupRequested;
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
    this.testService.channelGone();
    if (this.mode === 'ivr') this.ivr.channelGone();
    if (this.mode === 'queue') this.queueRunner.channelGone();
    if (this.callbackId) void this.deps.acd.callEnded(this.callbackId);
    this.agentRunner?.channelGone();
    this.finishTransfer('channel_unavailable');
    this.menu.channelGone();
    this.deposit.channelGone(this.mode === 'voicemail');
    const { state, actions } = dialTransition(this.dial, { type: 'a-ended' }, () => '');
    this.dial = state;
    for (const a of actions) {
      if (a.kind === 'hangup-leg') {
        this.deps.legs.release(a.legId);
        void this.deps.control.hangup(a.legId).catch(() => undefined);
      }
    }
    if (this.bridgeId) void this.deps.control.destroyBridge(this.bridgeId).catch(() => undefined);
    const cdr = buildCdr(this.facts, end);
    void this.inserted.then(() => this.deps.writeCdr(cdr));
    this.log.info({ cause: end.cause, endedBy: end.endedBy, reconciled: end.reconciled, mode: this.mode, outcome: this.dial.outcome }, 'call ended');
    this.deps.onEnded(this);
  }

  private setTimer(ms: number, event: SessionEvent): void {
    this.clearTimer();
    this.timer = setTimeout(() => void this.enqueue(event), ms);
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
