/**
 * The disposition feature code at a desk phone (docs/campaigns.md#on-the-handset): during wrap-up
 * the agent dials *7<code> (e.g. *71, *712#) and the outcome of their last campaign call is set
 * to that code of its campaign (src/campaigns dispositions: the same as the API's). The call is
 * answered; a beep and "thank you" confirm it, an error tone says it was not taken (an unknown
 * code, no campaign call to set, not logged in as an agent at this phone, or the database not
 * reachable), then the call is hung up.
 */
import type { CallHost } from './host.js';
import type { SessionEvent } from './events.js';
import type { CallRunner } from './runner.js';

/** What became of a disposition keyed at a phone. */
export type HandsetDisposition = 'ok' | 'not-logged-in' | 'unknown-code' | 'no-call';

export interface DispositionHost extends CallHost {
  /** Set the disposition `code` for the agent logged in at `extension`; null: campaigns are not wired. */
  readonly disposeAtPhone: ((extension: string, code: string) => Promise<HandsetDisposition>) | null;
}

/** What campaigns' setDisposition answered, as the phone hears it; an error it does not expect is thrown. */
export function handsetOutcome(result: { readonly ok: true } | { readonly ok: false; readonly error: Error & { readonly code: string } }): HandsetDisposition {
  if (result.ok) return 'ok';
  switch (result.error.code) {
    case 'attempt-not-found':
    case 'attempt-not-connected':
    case 'disposition-already-set':
      return 'no-call';
    case 'validation-failed': // no such code in the campaign, or a callback that needs a time
      return 'unknown-code';
    default:
      throw result.error;
  }
}

const SAID: Readonly<Record<HandsetDisposition | 'failed', readonly string[]>> = {
  ok: ['sound:beep', 'sound:auth-thankyou'],
  'not-logged-in': ['sound:beeperr'],
  'unknown-code': ['sound:beeperr'],
  'no-call': ['sound:beeperr'],
  failed: ['sound:beeperr'],
};

export class DispositionRunner implements CallRunner {
  readonly mode = 'agent';
  private playback: string | null = null;

  constructor(
    private readonly host: DispositionHost,
    private readonly extension: string,
    private readonly code: string,
  ) {}

  async start(): Promise<void> {
    const { host, extension, code } = this;
    await host.answerCaller();
    let outcome: HandsetDisposition | 'failed';
    try {
      outcome = host.disposeAtPhone ? await host.disposeAtPhone(extension, code) : 'no-call';
    } catch (err) {
      host.log.error({ extension, code, err: (err as Error).message }, 'disposition not stored');
      outcome = 'failed';
    }
    host.log.info({ extension, code, outcome }, 'disposition keyed at the phone');
    this.playback = `${host.facts().callId}-disposition`;
    await host.control.play(host.channelId, SAID[outcome], this.playback);
  }

  async onEvent(event: SessionEvent): Promise<void> {
    if (event.type === 'playback-finished' && event.playbackId === this.playback) return this.host.hangupCaller('normal');
  }

  channelGone(): void {}

  /** Nothing to let go of: a feature code call ends where it is. */
  stop(): void {}
}
