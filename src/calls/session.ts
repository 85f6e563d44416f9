/**
 * One call session per caller channel (leg A) in Stasis. Events are queued and handled one at a
 * time, in order. The call is routed once (router.ts), then driven by a pure machine: the test
 * service (flow.ts), dialing an extension (dial-flow.ts), leaving a voicemail when it does not
 * connect (voicemail/deposit.ts) or the *97 mailbox menu (voicemail/menu.ts). Their actions are
 * carried out over ARI here. The session owns the call's facts and hands exactly one CDR to the writer.
 */
import { randomUUID } from 'node:crypto';
import type { Logger } from '../logger.js';
import type { CallControl, HangupReason } from '../telephony/ari-types.js';
import { AppError } from '../errors.js';
import { buildCdr, type CallEnd, type CallFacts } from './cdr.js';
import { initialFlowState, transition, type FlowAction, type FlowEvent, type FlowSettings, type FlowState } from './flow.js';
import { dialTransition, initialDialState, type DialAction, type DialEvent, type DialState, type DialTarget } from './dial-flow.js';
import type { CallerContext, RoutedCall } from './directory.js';
import type { NewCdr } from '../db/tables/cdrs.js';
import { depositTransition, initialDepositState, type DepositAction, type DepositEvent, type DepositState } from '../voicemail/deposit.js';
import { initialMenuState, menuTransition, type MenuAction, type MenuEvent, type MenuState } from '../voicemail/menu.js';
import type { VoicemailService } from '../voicemail/service.js';

export type SessionEvent =
  | { readonly type: 'stasis-start' }
  | { readonly type: 'adopt'; readonly mode: string; readonly peer: string | null; readonly bridgeId: string | null }
  | FlowEvent
  | Exclude<DialEvent, { type: 'a-ended' | 'dial' | 'no-connect' | 'target-missing' }>
  | { readonly type: 'hold'; readonly channelId: string; readonly on: boolean }
  | { readonly type: 'recording-ended'; readonly name: string; readonly ok: boolean }
  | { readonly type: 'menu-timeout'; readonly gen: number }
  | { readonly type: 'hangup-request'; readonly cause: number | null }
  | { readonly type: 'stasis-end' }
  | { readonly type: 'destroyed'; readonly cause: number | null; readonly causeText: string | null }
  | { readonly type: 'lost'; readonly lastSeen: Date };

export interface LiveCallStore {
  insert(facts: CallFacts, channelId: string, state: string): Promise<void>;
  update(callId: string, patch: { state?: string; mode?: string; digits?: string; answered_at?: Date; peer_channel_id?: string | null; bridge_id?: string | null }): Promise<void>;
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
  readonly legs: { register(legId: string, session: CallSession): void; release(legId: string): void };
  readonly onEnded: (session: CallSession) => void;
  readonly voicemail: VoicemailPort;
}

/** What a call needs from voicemail (VoicemailService). */
export type VoicemailPort = Pick<
  VoicemailService,
  'mailboxFor' | 'checkPin' | 'menuMessages' | 'saveMessage' | 'saveGreeting' | 'removeFromPhone' | 'markHeardFromPhone'
>;

const DEPOSIT_SETTINGS = { maxMessageSeconds: 180, maxSilenceSeconds: 10 } as const;
const MENU_LIMITS = { maxPinAttempts: 3, maxGreetingSeconds: 60 } as const;
const recordingId = () => randomUUID().replace(/-/g, '').slice(0, 20);

/** After StasisEnd, wait this long for ChannelDestroyed (which carries the cause) before closing. */
const DESTROY_GRACE_MS = 2_000;

export class CallSession {
  private mode: 'routing' | 'test' | 'dial' | 'refused' | 'voicemail' | 'mailbox' = 'routing';
  private flow: FlowState = initialFlowState;
  private dial: DialState = initialDialState;
  private deposit: DepositState = initialDepositState;
  private menu: MenuState = initialMenuState;
  private bridgeId: string | null = null;
  private caller: CallerContext = { callerClass: null, callerIdNumber: null };
  private queue: Promise<void> = Promise.resolve();
  private timer: NodeJS.Timeout | null = null;
  private destroyTimer: NodeJS.Timeout | null = null;
  private hangupRequested: { cause: number | null } | null = null;
  private systemHangup = false;
  private closed = false;
  readonly log: Logger;

  constructor(
    readonly channelId: string,
    private readonly channelName: string | null,
    private facts: CallFacts,
    private readonly deps: SessionDeps,
  ) {
    this.log = deps.log.child({ callId: facts.callId });
  }

  get callId(): string {
    return this.facts.callId;
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

  private async handle(event: SessionEvent): Promise<void> {
    if (this.closed) return;
    switch (event.type) {
      case 'stasis-start': {
        await Promise.all([this.persist(() => this.deps.store.insert(this.facts, this.channelId, 'routing')), this.follow(this.channelId)]);
        const routed = await this.deps.route(this.channelName, this.facts);
        this.caller = routed.caller;
        this.facts = { ...this.facts, direction: routed.direction };
        return this.startRoute(routed.route);
      }
      case 'adopt':
        return this.adopt(event);
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
          endedBy: this.systemHangup ? 'system' : this.hangupRequested ? 'caller' : 'unknown',
          reconciled: false,
        });
      case 'lost':
        return this.close({ endedAt: event.lastSeen, cause: null, causeText: null, endedBy: 'unknown', reconciled: true });
      case 'hold':
        return this.onHold(event.channelId, event.on);
      case 'b-answered':
      case 'b-ended':
      case 'ring-timeout':
        return this.dialStep(event);
      case 'recording-ended':
        if (this.mode === 'voicemail') return this.depositStep(event);
        return this.menuStep(event);
      case 'menu-timeout':
        return this.menuStep(event);
      default:
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
      case 'refuse':
        this.mode = 'refused';
        return this.hangupCaller(route.reason === 'not-permitted' ? 'rejected' : 'unallocated');
    }
  }

  private async adopt(event: Extract<SessionEvent, { type: 'adopt' }>): Promise<void> {
    this.log.info({ mode: event.mode, peer: event.peer }, 'call picked up again after reconnect');
    await Promise.all([this.persist(() => this.deps.store.insert(this.facts, this.channelId, 'adopted')), this.follow(this.channelId)]);
    if (event.mode === 'dial' && event.peer) {
      // Connected when the daemon went away: keep the two legs tied together.
      this.mode = 'dial';
      this.bridgeId = event.bridgeId;
      this.dial = { ...initialDialState, phase: 'bridged', answered: true, legId: event.peer, outcome: 'connected' };
      this.deps.legs.register(event.peer, this);
      return this.follow(event.peer);
    }
    if (event.mode === 'dial') return this.hangupCaller('normal'); // was still ringing: the dial attempt is gone
    // A voicemail recording or menu cannot be resumed midway: end the call cleanly.
    if (event.mode === 'voicemail' || event.mode === 'mailbox') return this.hangupCaller('normal');
    this.mode = 'test';
    return this.flowStep(this.facts.answeredAt ? { type: 'resume' } : { type: 'start', dialed: this.facts.dialedNumber });
  }

  // ---------------------------------------------------------------- test service (flow.ts)

  private async flowStep(event: FlowEvent): Promise<void> {
    if (this.mode !== 'test') return;
    const from = this.flow.phase;
    const { state, actions, rejected } = transition(this.flow, event, this.deps.settings, () => `pb-${randomUUID()}`);
    if (rejected) this.log.warn({ phase: from, event: event.type, rejected }, 'event refused by call flow');
    this.flow = state;
    if (state.phase !== from) this.log.debug(`${from} -> ${event.type} -> ${state.phase}`);
    for (const action of actions) await this.runFlow(action);
  }

  private async runFlow(action: FlowAction): Promise<void> {
    const { control } = this.deps;
    try {
      switch (action.kind) {
        case 'answer':
          await this.answerCaller();
          return this.flowStep({ type: 'answered' });
        case 'play':
          return await control.play(this.channelId, action.media, action.playbackId);
        case 'stop-playback':
          return await control.stopPlayback(action.playbackId).catch(() => undefined); // may have just finished
        case 'start-timer':
          this.setTimer(action.ms, { type: 'digit-timeout', gen: action.gen });
          return;
        case 'record-digits':
          this.facts = { ...this.facts, digits: action.digits };
          void this.persist(() => this.deps.store.update(this.callId, { digits: action.digits, state: 'collecting' }));
          return;
        case 'hangup':
          this.log.info({ digits: this.facts.digits, why: this.flow.hangupCause }, 'hanging up');
          return await this.hangupCaller(action.reason);
      }
    } catch (err) {
      if (err instanceof AppError && err.code === 'call-not-found') return; // the caller is already gone
      this.log.error({ action: action.kind, err: (err as Error).message }, 'call action failed');
      if (action.kind !== 'hangup') return this.flowStep({ type: 'action-failed', action: action.kind });
    }
  }

  // ---------------------------------------------------------------- dialing (dial-flow.ts)

  private async dialStep(event: DialEvent): Promise<void> {
    if (this.mode !== 'dial') return;
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
          const target = await this.deps.lookupTarget(action.number, this.caller);
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
          this.bridgeId = `${this.callId}-bridge`;
          await control.createBridge(this.bridgeId);
          await control.addToBridge(this.bridgeId, [this.channelId, action.legId]);
          void this.persist(() => this.deps.store.update(this.callId, { state: 'dial', bridge_id: this.bridgeId }));
          return await this.follow(action.legId);
        }
        case 'hangup-leg':
          this.clearTimer();
          this.deps.legs.release(action.legId);
          return await control.hangup(action.legId).catch(() => undefined);
        case 'hangup-caller':
          return await this.hangupCaller(action.reason);
        case 'voicemail':
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

  // ---------------------------------------------------------------- leaving a message (voicemail/deposit.ts)

  private async startVoicemail(mailbox: string, why: string): Promise<void> {
    this.clearTimer();
    const box = await this.deps.voicemail.mailboxFor(mailbox);
    if (!box) return this.hangupCaller(why === 'busy' ? 'busy' : 'no_answer'); // switched off meanwhile
    this.log.info({ mailbox, why }, 'to voicemail');
    this.mode = 'voicemail';
    void this.persist(() => this.deps.store.update(this.callId, { mode: 'voicemail' }));
    return this.depositStep({ type: 'start', mailbox, greeting: box.greeting });
  }

  private async depositStep(event: DepositEvent): Promise<void> {
    if (this.mode !== 'voicemail') return;
    const from = this.deposit.phase;
    const ids = { playback: () => `pb-${randomUUID()}`, recording: (m: string) => `vm-${m}-${recordingId()}` };
    const { state, actions, rejected } = depositTransition(this.deposit, event, DEPOSIT_SETTINGS, ids);
    if (rejected) this.log.warn({ phase: from, event: event.type, rejected }, 'event refused by voicemail');
    this.deposit = state;
    if (state.phase !== from) this.log.debug(`voicemail ${from} -> ${event.type} -> ${state.phase}`);
    for (const action of actions) await this.runDeposit(action);
  }

  private async runDeposit(action: DepositAction): Promise<void> {
    const { control } = this.deps;
    try {
      switch (action.kind) {
        case 'answer':
          await this.answerCaller();
          return this.depositStep({ type: 'answered' });
        case 'play':
          return await control.play(this.channelId, action.media, action.playbackId);
        case 'stop-playback':
          return await control.stopPlayback(action.playbackId).catch(() => undefined);
        case 'record':
          return await control.record(this.channelId, { ...action, format: 'wav' });
        case 'save-message':
          return this.saveMessage(action.mailbox, action.name);
        case 'hangup':
          return await this.hangupCaller('normal');
      }
    } catch (err) {
      if (err instanceof AppError && err.code === 'call-not-found') return;
      this.log.error({ action: action.kind, err: (err as Error).message }, 'voicemail action failed');
      if (action.kind !== 'hangup') return this.depositStep({ type: 'action-failed', action: action.kind });
    }
  }

  /** In the background: it may wait for Asterisk to finish the file; the call goes on meanwhile. */
  private saveMessage(mailbox: string, name: string): void {
    const meta = { mailbox, callId: this.callId, callerNumber: this.facts.callerNumber, callerName: this.facts.callerName };
    void this.deps.voicemail.saveMessage(name, meta).catch((err: Error) => this.log.error({ err: err.message, recording: name }, 'voicemail message not saved'));
  }

  // ---------------------------------------------------------------- the *97 mailbox menu (voicemail/menu.ts)

  private async menuStep(event: MenuEvent): Promise<void> {
    if (this.mode !== 'mailbox') return;
    const from = this.menu.phase;
    const settings = { ...MENU_LIMITS, digitTimeoutMs: this.deps.settings.digitTimeoutMs };
    const ids = { playback: () => `pb-${randomUUID()}`, recording: (m: string) => `vmg-${m}-${recordingId()}` };
    const { state, actions, rejected } = menuTransition(this.menu, event, settings, ids);
    if (rejected) this.log.warn({ phase: from, event: event.type, rejected }, 'event refused by mailbox menu');
    this.menu = state;
    if (state.phase !== from) this.log.debug(`mailbox ${from} -> ${event.type} -> ${state.phase}`);
    for (const action of actions) await this.runMenu(action);
  }

  private async runMenu(action: MenuAction): Promise<void> {
    const { control, voicemail } = this.deps;
    try {
      switch (action.kind) {
        case 'answer':
          await this.answerCaller();
          return this.menuStep({ type: 'answered' });
        case 'play':
          return await control.play(this.channelId, action.media, action.playbackId);
        case 'stop-playback':
          return await control.stopPlayback(action.playbackId).catch(() => undefined);
        case 'start-timer':
          this.setTimer(action.ms, { type: 'menu-timeout', gen: action.gen });
          return;
        case 'check-pin': {
          this.clearTimer();
          const ok = await voicemail.checkPin(action.mailbox, action.pin);
          if (!ok) this.log.warn({ mailbox: action.mailbox, attempt: this.menu.attempts + 1, digits: action.pin.length }, 'wrong voicemail PIN');
          return this.menuStep({ type: 'pin-checked', ok });
        }
        case 'load-messages':
          return this.menuStep({ type: 'messages', messages: await voicemail.menuMessages(action.mailbox) });
        case 'mark-heard':
          return await voicemail.markHeardFromPhone(action.mailbox, action.id, this.callId);
        case 'delete-message':
          return await voicemail.removeFromPhone(action.mailbox, action.id, this.callId);
        case 'record':
          this.clearTimer();
          return await control.record(this.channelId, { ...action, format: 'wav' });
        case 'save-greeting':
          void voicemail.saveGreeting(action.mailbox, action.name).catch((err: Error) => this.log.error({ err: err.message }, 'greeting not saved'));
          return;
        case 'hangup':
          if (this.menu.hangupCause === 'pin-failed') {
            this.log.warn({ mailbox: this.menu.mailbox, attempts: this.menu.attempts, caller: this.facts.callerNumber }, 'voicemail PIN wrong too often; hanging up');
          }
          return await this.hangupCaller('normal');
      }
    } catch (err) {
      if (err instanceof AppError && err.code === 'call-not-found') return;
      this.log.error({ action: action.kind, err: (err as Error).message }, 'mailbox action failed');
      if (action.kind !== 'hangup') return this.menuStep({ type: 'action-failed', action: action.kind });
    }
  }

  // ---------------------------------------------------------------- shared

  private async onHold(channelId: string, on: boolean): Promise<void> {
    // The other party hears music on hold while one side holds.
    const other = channelId === this.channelId ? this.dial.legId : this.channelId;
    if (!other || this.dial.phase !== 'bridged') return;
    await (on ? this.deps.control.startMoh(other) : this.deps.control.stopMoh(other)).catch((err: Error) =>
      this.log.warn({ err: err.message }, 'music on hold failed'),
    );
  }

  private async answerCaller(): Promise<void> {
    await this.deps.control.answer(this.channelId);
    this.facts = { ...this.facts, answeredAt: this.deps.now() };
    void this.persist(() => this.deps.store.update(this.callId, { state: 'answered', answered_at: this.facts.answeredAt! }));
  }

  private async hangupCaller(reason: HangupReason): Promise<void> {
    this.clearTimer();
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
    this.flow = transition(this.flow, { type: 'channel-gone' }, this.deps.settings, () => '').state;
    this.menu = menuTransition(this.menu, { type: 'channel-gone' }, { ...MENU_LIMITS, digitTimeoutMs: 0 }, { playback: () => '', recording: () => '' }).state;
    // A caller who hangs up while recording has left a message: Asterisk keeps what was said.
    const deposit = depositTransition(this.deposit, { type: 'channel-gone' }, DEPOSIT_SETTINGS, { playback: () => '', recording: () => '' });
    this.deposit = deposit.state;
    for (const a of deposit.actions) if (a.kind === 'save-message' && this.mode === 'voicemail') this.saveMessage(a.mailbox, a.name);
    const { state, actions } = dialTransition(this.dial, { type: 'a-ended' }, () => '');
    this.dial = state;
    for (const a of actions) {
      if (a.kind === 'hangup-leg') {
        this.deps.legs.release(a.legId);
        void this.deps.control.hangup(a.legId).catch(() => undefined);
      }
    }
    if (this.bridgeId) void this.deps.control.destroyBridge(this.bridgeId).catch(() => undefined);
    this.deps.writeCdr(buildCdr(this.facts, end));
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
      await write();
    } catch (err) {
      this.log.warn({ err: (err as Error).message }, 'live call state not saved');
    }
  }
}
