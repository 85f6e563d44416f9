/**
 * The voicemail runners of a call session: leaving a message (voicemail/deposit.ts) and the *97
 * mailbox menu (voicemail/menu.ts). Each runner owns its machine's state and carries out its
 * actions over ARI for the session (the host), which owns the channel, the timer and the call's facts.
 */
import { randomUUID } from 'node:crypto';
import { AppError } from '../errors.js';
import { isMediaAction, runMediaAction } from './media-actions.js';
import type { CallHost } from './host.js';
import type { SessionEvent } from './events.js';
import type { CallRunner } from './runner.js';
import { depositTransition, initialDepositState, type DepositAction, type DepositEvent, type DepositState } from '../voicemail/deposit.js';
import { initialMenuState, menuTransition, type MenuAction, type MenuEvent, type MenuState } from '../voicemail/menu.js';
import type { PinCheck, VoicemailService } from '../voicemail/service.js';
import { logAuthFailure } from '../shared/auth-failure-log.js';

/** What a call needs from voicemail (VoicemailService). */
export type VoicemailPort = Pick<
  VoicemailService,
  'mailboxFor' | 'checkPin' | 'menuMessages' | 'saveMessage' | 'saveGreeting' | 'removeFromPhone' | 'markHeardFromPhone'
>;

export interface VoicemailHost extends CallHost {
  readonly voicemail: VoicemailPort;
  readonly digitTimeoutMs: number;
  /** A message recording started: kept with the live call so a restarted daemon still saves it. */
  readonly noteRecording: (name: string) => void;
}

/** The mailbox a message recording belongs to (its name is `vm-<mailbox>-<id>`). */
export const MESSAGE_RECORDING = /^vm-([0-9]{2,16})-[0-9a-f]{20}$/;

const DEPOSIT_SETTINGS = { maxMessageSeconds: 180, maxSilenceSeconds: 10 } as const;
const MENU_LIMITS = { maxPinAttempts: 3, maxGreetingSeconds: 60 } as const;
const recordingId = () => randomUUID().replace(/-/g, '').slice(0, 20);

// ---------------------------------------------------------------- leaving a message (voicemail/deposit.ts)

export class DepositRunner implements CallRunner {
  readonly mode = 'voicemail';
  private state: DepositState = initialDepositState;

  constructor(
    private readonly host: VoicemailHost,
    private readonly mailbox: string,
    private readonly greeting: string | null,
  ) {}

  start(): Promise<void> {
    return this.step({ type: 'start', mailbox: this.mailbox, greeting: this.greeting });
  }

  async onEvent(event: SessionEvent): Promise<void> {
    if (event.type === 'recording-ended' || event.type === 'dtmf' || event.type === 'playback-finished') await this.step(event);
  }

  /** Nothing to let go of: voicemail is where a call ends. */
  stop(): void {}

  private async step(event: DepositEvent): Promise<void> {
    const { log } = this.host;
    const from = this.state.phase;
    const ids = { playback: () => `pb-${randomUUID()}`, recording: (m: string) => `vm-${m}-${recordingId()}` };
    const { state, actions, rejected } = depositTransition(this.state, event, DEPOSIT_SETTINGS, ids);
    if (rejected) log.warn({ phase: from, event: event.type, rejected }, 'event refused by voicemail');
    this.state = state;
    if (state.phase !== from) log.debug(`voicemail ${from} -> ${event.type} -> ${state.phase}`);
    for (const action of actions) await this.run(action);
  }

  /**
   * The caller's channel is gone. A caller who hangs up while recording has left a message:
   * Asterisk keeps what was said, so it is saved.
   */
  channelGone(): void {
    const deposit = depositTransition(this.state, { type: 'channel-gone' }, DEPOSIT_SETTINGS, { playback: () => '', recording: () => '' });
    this.state = deposit.state;
    for (const a of deposit.actions) if (a.kind === 'save-message') saveMessage(this.host, a.mailbox, a.name);
  }

  private async run(action: DepositAction): Promise<void> {
    const { control, channelId } = this.host;
    try {
      if (isMediaAction(action)) {
        await runMediaAction(this.host, action);
        return action.kind === 'answer' ? this.step({ type: 'answered' }) : undefined;
      }
      switch (action.kind) {
        case 'record':
          this.host.noteRecording(action.name);
          return await control.record(channelId, { ...action, format: 'wav' });
        case 'save-message':
          return saveMessage(this.host, action.mailbox, action.name);
        case 'hangup':
          return await this.host.hangupCaller('normal');
      }
    } catch (err) {
      if (err instanceof AppError && err.code === 'call-not-found') return;
      this.host.log.error({ action: action.kind, err: (err as Error).message }, 'voicemail action failed');
      if (action.kind !== 'hangup') return this.step({ type: 'action-failed', action: action.kind });
    }
  }

}

/**
 * A daemon restarted while this call was recording a message: the recording cannot be resumed,
 * but what the caller said so far is a message. Asterisk finishes the file when the call ends.
 */
export function recoverMessage(host: VoicemailHost, name: string): boolean {
  const mailbox = MESSAGE_RECORDING.exec(name)?.[1];
  if (!mailbox) return false;
  saveMessage(host, mailbox, name);
  return true;
}

/** In the background: it may wait for Asterisk to finish the file; the call goes on meanwhile. */
function saveMessage(host: VoicemailHost, mailbox: string, name: string): void {
  const facts = host.facts();
  const meta = { mailbox, callId: facts.callId, callerNumber: facts.callerNumber, callerName: facts.callerName };
  host.voicemail.saveMessage(name, meta).catch((err: Error) => host.log.error({ err: err.message, recording: name }, 'voicemail message not saved'));
}

// ---------------------------------------------------------------- the *97 mailbox menu (voicemail/menu.ts)

export class MenuRunner implements CallRunner {
  readonly mode = 'mailbox';
  private state: MenuState = initialMenuState;

  constructor(
    private readonly host: VoicemailHost,
    private readonly mailbox: string,
  ) {}

  start(): Promise<void> {
    return this.step({ type: 'start', mailbox: this.mailbox });
  }

  async onEvent(event: SessionEvent): Promise<void> {
    if (event.type === 'recording-ended' || event.type === 'menu-timeout' || event.type === 'dtmf' || event.type === 'playback-finished') await this.step(event);
  }

  /** Nothing to let go of: the mailbox menu is where a call ends. */
  stop(): void {}

  private async step(event: MenuEvent): Promise<void> {
    const { log } = this.host;
    const from = this.state.phase;
    const settings = { ...MENU_LIMITS, digitTimeoutMs: this.host.digitTimeoutMs };
    const ids = { playback: () => `pb-${randomUUID()}`, recording: (m: string) => `vmg-${m}-${recordingId()}` };
    const { state, actions, rejected } = menuTransition(this.state, event, settings, ids);
    if (rejected) log.warn({ phase: from, event: event.type, rejected }, 'event refused by mailbox menu');
    this.state = state;
    if (state.phase !== from) log.debug(`mailbox ${from} -> ${event.type} -> ${state.phase}`);
    for (const action of actions) await this.run(action);
  }

  channelGone(): void {
    this.state = menuTransition(this.state, { type: 'channel-gone' }, { ...MENU_LIMITS, digitTimeoutMs: 0 }, { playback: () => '', recording: () => '' }).state;
  }

  private async run(action: MenuAction): Promise<void> {
    const { control, voicemail, channelId, log } = this.host;
    try {
      if (isMediaAction(action)) {
        await runMediaAction(this.host, action);
        return action.kind === 'answer' ? this.step({ type: 'answered' }) : undefined;
      }
      switch (action.kind) {
        case 'start-timer':
          this.host.setTimer(action.ms, { type: 'menu-timeout', gen: action.gen });
          return;
        case 'check-pin': {
          this.host.clearTimer();
          const check = await voicemail.checkPin(action.mailbox, action.pin);
          if (check.outcome !== 'ok') await this.logPinFailure(action.mailbox, action.pin, check);
          return this.step({ type: 'pin-checked', ok: check.outcome === 'ok', locked: check.outcome === 'locked' });
        }
        case 'load-messages':
          return this.step({ type: 'messages', messages: await voicemail.menuMessages(action.mailbox) });
        case 'mark-heard':
          return await voicemail.markHeardFromPhone(action.mailbox, action.id, this.host.facts().callId);
        case 'delete-message':
          return await voicemail.removeFromPhone(action.mailbox, action.id, this.host.facts().callId);
        case 'record':
          this.host.clearTimer();
          return await control.record(channelId, { ...action, format: 'wav' });
        case 'save-greeting':
          voicemail.saveGreeting(action.mailbox, action.name).catch((err: Error) => log.error({ err: err.message }, 'greeting not saved'));
          return;
        case 'hangup':
          if (this.state.hangupCause === 'pin-locked') {
            log.warn({ mailbox: this.state.mailbox, caller: this.host.facts().callerNumber }, 'voicemail mailbox locked (too many wrong PINs); hanging up');
          }
          if (this.state.hangupCause === 'pin-failed') {
            log.warn({ mailbox: this.state.mailbox, attempts: this.state.attempts, caller: this.host.facts().callerNumber }, 'voicemail PIN wrong too often; hanging up');
          }
          return await this.host.hangupCaller('normal');
      }
    } catch (err) {
      if (err instanceof AppError && err.code === 'call-not-found') return;
      log.error({ action: action.kind, err: (err as Error).message }, 'mailbox action failed');
      if (action.kind !== 'hangup') return this.step({ type: 'action-failed', action: action.kind });
    }
  }

  /**
   * A wrong PIN, or a try on a locked mailbox: the auth-failure line fail2ban reads, with the
   * address the phone sends SIP from (ip "unknown" when Asterisk does not say: no ban then).
   */
  private async logPinFailure(mailbox: string, pin: string, check: PinCheck): Promise<void> {
    const { control, channelId, log } = this.host;
    const ip = control.callerAddress ? await control.callerAddress(channelId).catch(() => null) : null;
    logAuthFailure(log, ip ?? 'unknown', 'voicemail', check.outcome === 'locked' ? 'mailbox-locked' : 'wrong-pin', {
      mailbox,
      caller: this.host.facts().callerNumber,
      attempt: this.state.attempts + 1,
      failures: check.failures,
      digits: pin.length,
      lockedUntil: check.lockedUntil?.toISOString() ?? null,
    });
  }
}
