/**
 * One call session per channel in Stasis. Events are queued and handled one at a time, in
 * order; each is turned into flow actions by the pure flow and then carried out over ARI.
 * The session owns the call's facts (times, digits) and hands them to the CDR writer once.
 */
import { randomUUID } from 'node:crypto';
import type { Logger } from '../logger.js';
import type { CallControl } from '../telephony/ari-types.js';
import { AppError } from '../errors.js';
import { buildCdr, type CallEnd, type CallFacts } from './cdr.js';
import { initialFlowState, transition, type FlowAction, type FlowEvent, type FlowSettings, type FlowState } from './flow.js';
import type { NewCdr } from '../db/tables/cdrs.js';

export type SessionEvent =
  | { readonly type: 'stasis-start' }
  | { readonly type: 'adopt' }
  | FlowEvent
  | { readonly type: 'hangup-request'; readonly cause: number | null }
  | { readonly type: 'stasis-end' }
  | { readonly type: 'destroyed'; readonly cause: number | null; readonly causeText: string | null }
  | { readonly type: 'lost'; readonly lastSeen: Date };

export interface LiveCallStore {
  insert(facts: CallFacts, channelId: string, state: string): Promise<void>;
  update(callId: string, patch: { state?: string; digits?: string; answered_at?: Date }): Promise<void>;
}

export interface SessionDeps {
  readonly control: CallControl;
  readonly store: LiveCallStore;
  readonly writeCdr: (cdr: NewCdr) => void;
  readonly settings: FlowSettings;
  readonly log: Logger;
  readonly now: () => Date;
  readonly onEnded: (session: CallSession) => void;
}

/** After StasisEnd, wait this long for ChannelDestroyed (which carries the cause) before closing. */
const DESTROY_GRACE_MS = 2_000;

export class CallSession {
  private flow: FlowState = initialFlowState;
  private queue: Promise<void> = Promise.resolve();
  private digitTimer: NodeJS.Timeout | null = null;
  private destroyTimer: NodeJS.Timeout | null = null;
  private hangupRequested: { cause: number | null } | null = null;
  private systemHangup = false;
  private closed = false;
  readonly log: Logger;

  constructor(
    readonly channelId: string,
    private facts: CallFacts,
    private readonly deps: SessionDeps,
  ) {
    this.log = deps.log.child({ callId: facts.callId });
  }

  get callId(): string {
    return this.facts.callId;
  }

  get phase(): FlowState['phase'] {
    return this.flow.phase;
  }

  snapshot(): CallFacts & { phase: FlowState['phase']; channelId: string } {
    return { ...this.facts, phase: this.flow.phase, channelId: this.channelId };
  }

  /** Queue an event; it runs after every event queued before it. Never throws. */
  enqueue(event: SessionEvent): Promise<void> {
    this.queue = this.queue.then(
      () => this.handle(event),
      () => this.handle(event),
    ).catch((err: unknown) => {
      this.log.error({ err: (err as Error).message, event: event.type }, 'call event handler failed');
    });
    return this.queue;
  }

  private async handle(event: SessionEvent): Promise<void> {
    if (this.closed) return;
    switch (event.type) {
      case 'stasis-start':
        await Promise.all([
          this.persist(() => this.deps.store.insert(this.facts, this.channelId, 'new')),
          this.follow(),
        ]);
        return this.step({ type: 'start', dialed: this.facts.dialedNumber });
      case 'adopt':
        this.log.info({ digits: this.facts.digits }, 'call picked up again after reconnect');
        await Promise.all([this.persist(() => this.deps.store.insert(this.facts, this.channelId, 'collecting')), this.follow()]);
        // Not answered yet when the daemon went away: start over; otherwise wait for digits.
        return this.step(this.facts.answeredAt ? { type: 'resume' } : { type: 'start', dialed: this.facts.dialedNumber });
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
      default:
        return this.step(event);
    }
  }

  private async step(event: FlowEvent): Promise<void> {
    const from = this.flow.phase;
    const { state, actions, rejected } = transition(this.flow, event, this.deps.settings, () => `pb-${randomUUID()}`);
    if (rejected) this.log.warn({ phase: from, event: event.type, rejected }, 'event refused by call flow');
    this.flow = state;
    if (state.phase !== from) this.log.debug(`${from} -> ${event.type} -> ${state.phase}`);
    for (const action of actions) await this.run(action);
  }

  private async run(action: FlowAction): Promise<void> {
    const { control } = this.deps;
    try {
      switch (action.kind) {
        case 'answer':
          await control.answer(this.channelId);
          this.facts = { ...this.facts, answeredAt: this.deps.now() };
          void this.persist(() => this.deps.store.update(this.callId, { state: 'answered', answered_at: this.facts.answeredAt! }));
          // Answer completes synchronously in ARI; feed the result back as the next event.
          return this.step({ type: 'answered' });
        case 'play':
          return await control.play(this.channelId, action.media, action.playbackId);
        case 'stop-playback':
          return await control.stopPlayback(action.playbackId).catch(() => undefined); // may have just finished
        case 'start-timer':
          this.clearDigitTimer();
          this.digitTimer = setTimeout(() => void this.enqueue({ type: 'digit-timeout', gen: action.gen }), action.ms);
          return;
        case 'record-digits':
          this.facts = { ...this.facts, digits: action.digits };
          void this.persist(() => this.deps.store.update(this.callId, { digits: action.digits, state: 'collecting' }));
          return;
        case 'hangup':
          this.clearDigitTimer();
          this.systemHangup = !this.hangupRequested;
          this.log.info({ digits: this.facts.digits, why: this.flow.hangupCause }, 'hanging up');
          return await control.hangup(this.channelId, action.reason);
      }
    } catch (err) {
      if (err instanceof AppError && err.code === 'call-not-found') return; // the caller is already gone
      this.log.error({ action: action.kind, err: (err as Error).message }, 'call action failed');
      if (action.kind !== 'hangup') return this.step({ type: 'action-failed', action: action.kind });
    }
  }

  /** Shutdown: stop timers and let go of the call without ending it (the next daemon adopts it). */
  detach(): void {
    this.closed = true;
    this.clearDigitTimer();
    if (this.destroyTimer) clearTimeout(this.destroyTimer);
  }

  private close(end: CallEnd): void {
    if (this.closed) return;
    this.closed = true;
    this.clearDigitTimer();
    if (this.destroyTimer) clearTimeout(this.destroyTimer);
    this.flow = transition(this.flow, { type: 'channel-gone' }, this.deps.settings, () => '').state;
    this.deps.writeCdr(buildCdr(this.facts, end));
    this.log.info({ cause: end.cause, endedBy: end.endedBy, reconciled: end.reconciled }, 'call ended');
    this.deps.onEnded(this);
  }

  private clearDigitTimer(): void {
    if (this.digitTimer) clearTimeout(this.digitTimer);
    this.digitTimer = null;
  }

  private async follow(): Promise<void> {
    try {
      await this.deps.control.followChannel(this.channelId);
    } catch (err) {
      // The call still works; only its hangup cause may be missing from the CDR.
      this.log.warn({ err: (err as Error).message }, 'could not subscribe to channel events');
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
