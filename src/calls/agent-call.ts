/**
 * Agent feature codes at a desk phone, the call side: *91 runs the login dialogue (acd/login.ts:
 * agent number and PIN by DTMF); *92 logout, *93<code> pause, *94 unpause are answered, done at
 * once by the ACD engine, confirmed with a prompt, and hung up. An unknown pause code or an agent
 * who is not logged in at this phone hears an error; when the change cannot be stored (Postgres
 * unreachable) the agent hears that the system is busy, so a lamp or a state never claims what
 * did not happen.
 */
import { LOGIN_PROMPTS, initialLoginState, loginTransition, type LoginAction, type LoginEvent, type LoginState } from '../acd/login.js';
import type { AcdEngine } from '../acd/engine.js';
import type { AgentAction } from './router.js';
import { AppError } from '../errors.js';
import type { CallHost } from './host.js';
import type { SessionEvent } from './events.js';
import type { CallRunner } from './runner.js';

export interface AgentCodeHost extends CallHost {
  readonly acd: AcdEngine;
  readonly digitTimeoutMs: number;
}

const LOGIN_SETTINGS = { maxAttempts: 3 } as const;
const SAID = {
  loggedOut: ['sound:agent-loggedoff'],
  paused: ['sound:auth-thankyou'],
  unpaused: ['sound:agent-loginok'],
  unknownReason: ['sound:invalid', 'sound:vm-goodbye'],
  notLoggedIn: ['sound:invalid', 'sound:vm-goodbye'],
  unavailable: LOGIN_PROMPTS.unavailable,
} as const;

export class AgentCodeRunner implements CallRunner {
  readonly mode = 'agent';
  private login: LoginState = initialLoginState;
  private finalPlayback: string | null = null;

  constructor(
    private readonly host: AgentCodeHost,
    private readonly extension: string,
    private readonly action: AgentAction,
    private readonly code: number | null,
  ) {}

  async start(): Promise<void> {
    const { log } = this.host;
    const { action, code } = this;
    if (action === 'login') return this.loginStep({ type: 'start' });
    await this.host.answerCaller();
    let said: readonly string[];
    try {
      said = await this.carryOut(action, code);
    } catch (err) {
      log.error({ extension: this.extension, action, code, err: (err as Error).message }, 'agent feature code not stored');
      said = SAID.unavailable;
    }
    log.info({ extension: this.extension, action, code, said }, 'agent feature code');
    this.finalPlayback = `${this.host.facts().callId}-agent-done`;
    await this.host.control.play(this.host.channelId, said, this.finalPlayback);
  }

  private async carryOut(action: Exclude<AgentAction, 'login'>, code: number | null): Promise<readonly string[]> {
    const { acd } = this.host;
    switch (action) {
      case 'logout':
        return (await acd.logout(this.extension)) ? SAID.loggedOut : SAID.notLoggedIn;
      case 'pause': {
        const result = await acd.pause(this.extension, code ?? 1);
        return result === 'ok' ? SAID.paused : result === 'unknown-reason' ? SAID.unknownReason : SAID.notLoggedIn;
      }
      case 'unpause':
        return (await acd.unpause(this.extension)) ? SAID.unpaused : SAID.notLoggedIn;
    }
  }

  async onEvent(event: SessionEvent): Promise<void> {
    if (event.type !== 'dtmf' && event.type !== 'playback-finished' && event.type !== 'agent-timeout') return;
    if (event.type === 'playback-finished' && event.playbackId === this.finalPlayback) return this.host.hangupCaller('normal');
    if (event.type === 'agent-timeout') return this.loginStep({ type: 'timeout', gen: event.gen });
    return this.loginStep(event.type === 'dtmf' ? event : { type: 'playback-finished', playbackId: this.stripPrefix(event.playbackId) });
  }

  channelGone(): void {
    this.login = loginTransition(this.login, { type: 'hangup' }, { ...LOGIN_SETTINGS, digitTimeoutMs: 0 }).state;
  }

  /** Nothing to let go of: a feature code call ends where it is. */
  stop(): void {}

  private prefix(): string {
    return `${this.host.facts().callId}-`;
  }

  private stripPrefix(id: string): string {
    return id.startsWith(this.prefix()) ? id.slice(this.prefix().length) : id;
  }

  private async loginStep(event: LoginEvent): Promise<void> {
    const { state, actions } = loginTransition(this.login, event, { ...LOGIN_SETTINGS, digitTimeoutMs: this.host.digitTimeoutMs });
    this.login = state;
    for (const action of actions) await this.run(action);
  }

  private async run(action: LoginAction): Promise<void> {
    const { control, channelId, log } = this.host;
    try {
      switch (action.kind) {
        case 'answer':
          return await this.host.answerCaller();
        case 'play':
          return await control.play(channelId, action.media, this.prefix() + action.playbackId);
        case 'stop-playback':
          return await control.stopPlayback(this.prefix() + action.playbackId).catch(() => undefined);
        case 'start-timer':
          return this.host.setTimer(action.ms, { type: 'agent-timeout', gen: action.gen });
        case 'check': {
          const outcome = await this.host.acd.login(this.extension, action.number, action.pin);
          log.info({ extension: this.extension, agent: action.number, outcome }, 'agent login');
          return await this.loginStep({ type: 'checked', outcome });
        }
        case 'hangup':
          return await this.host.hangupCaller('normal');
      }
    } catch (err) {
      if (err instanceof AppError && err.code === 'call-not-found') return;
      log.error({ action: action.kind, err: (err as Error).message }, 'agent login action failed');
      if (action.kind === 'check') return this.loginStep({ type: 'checked', outcome: 'unavailable' });
    }
  }
}
