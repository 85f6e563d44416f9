/**
 * The *99 test service runner of a call session (flow.ts): it owns the machine's state and carries
 * out its actions over ARI for the session (the host), which owns the channel, the timer and the facts.
 */
import { randomUUID } from 'node:crypto';
import { AppError } from '../errors.js';
import { isMediaAction, runMediaAction } from './media-actions.js';
import { initialFlowState, transition, type FlowAction, type FlowEvent, type FlowSettings, type FlowState } from './flow.js';
import type { CallHost } from './host.js';
import type { SessionEvent } from './events.js';
import type { CallRunner } from './runner.js';

export interface TestServiceHost extends CallHost {
  readonly settings: FlowSettings;
  /** The digits the caller entered so far (kept in the call's facts and live row). */
  recordDigits(digits: string): void;
}

export class TestServiceRunner implements CallRunner {
  readonly mode = 'test';
  private state: FlowState = initialFlowState;

  /** `first`: 'start' for a new call, 'resume' for one a restarted daemon picked up answered. */
  constructor(
    private readonly host: TestServiceHost,
    private readonly first: Extract<FlowEvent, { type: 'start' | 'resume' }>,
  ) {}

  start(): Promise<void> {
    return this.step(this.first);
  }

  async onEvent(event: SessionEvent): Promise<void> {
    switch (event.type) {
      case 'start':
      case 'resume':
      case 'answered':
      case 'playback-finished':
      case 'dtmf':
      case 'digit-timeout':
      case 'action-failed':
      case 'channel-gone':
        return this.step(event);
    }
  }

  /** Nothing to let go of: the test service is where a call ends. */
  stop(): void {}

  private async step(event: FlowEvent): Promise<void> {
    const { log } = this.host;
    const from = this.state.phase;
    const { state, actions, rejected } = transition(this.state, event, this.host.settings, () => `pb-${randomUUID()}`);
    if (rejected) log.warn({ phase: from, event: event.type, rejected }, 'event refused by call flow');
    this.state = state;
    if (state.phase !== from) log.debug(`${from} -> ${event.type} -> ${state.phase}`);
    for (const action of actions) await this.run(action);
  }

  channelGone(): void {
    this.state = transition(this.state, { type: 'channel-gone' }, this.host.settings, () => '').state;
  }

  private async run(action: FlowAction): Promise<void> {
    const { log } = this.host;
    try {
      if (isMediaAction(action)) {
        await runMediaAction(this.host, action);
        return action.kind === 'answer' ? this.step({ type: 'answered' }) : undefined;
      }
      switch (action.kind) {
        case 'start-timer':
          this.host.setTimer(action.ms, { type: 'digit-timeout', gen: action.gen });
          return;
        case 'record-digits':
          this.host.recordDigits(action.digits);
          return;
        case 'hangup':
          log.info({ digits: this.host.facts().digits, why: this.state.hangupCause }, 'hanging up');
          return await this.host.hangupCaller(action.reason);
      }
    } catch (err) {
      if (err instanceof AppError && err.code === 'call-not-found') return; // the caller is already gone
      log.error({ action: action.kind, err: (err as Error).message }, 'call action failed');
      if (action.kind !== 'hangup') return this.step({ type: 'action-failed', action: action.kind });
    }
  }
}
