/**
 * Preview mode on the handset (docs/campaigns.md#preview-mode): the dialer rang the agent's phone
 * for an offer (dispatcher ringPreview, channel `<attempt id>-preview`); answered, the agent hears
 * the contact's name (text to speech, espeak-ng, rendered once per name and cached like an IVR
 * "say") and "press 1 to call, 2 to skip", said again until they key. 1 accepts (the contact is
 * dialed; this call ends, and the agent's phone rings again with the contact once they answer),
 * 2 skips (the next contact is offered). Nothing keyed: the offer expires with the campaign's
 * previewSeconds (the dialer hangs this call up). An error tone: the offer was over already.
 */
import { logRejectionUnlessGone } from '../shared/log-rejection.js';
import type { CallHost } from './host.js';
import type { SessionEvent } from './events.js';
import type { CallRunner } from './runner.js';
import type { IvrPort } from '../ivr/port.js';

/** What the handset needs of preview mode (src/campaigns/preview.ts through app.ts). */
export interface PreviewPort {
  /** The offer this call is for, still open: what to say; null when it is over. */
  offer(attemptId: string): Promise<{ readonly name: string | null; readonly number: string } | null>;
  /** The agent keyed an answer; false: the offer was over already. */
  answer(attemptId: string, answer: 'accept' | 'skip'): Promise<boolean>;
}

export interface PreviewHost extends CallHost {
  readonly preview: PreviewPort | null;
  readonly ivr: Pick<IvrPort, 'speak'>;
}

export const PREVIEW_ACCEPT_KEY = '1';
export const PREVIEW_SKIP_KEY = '2';
/** Times the offer is said before the call waits in silence for a key (or the expiry). */
const SAY_TIMES = 3;

/** Pure: what the agent hears (the name, else the number digit by digit). */
export function previewText(offer: { readonly name: string | null; readonly number: string }): string {
  const name = offer.name?.replace(/[^\p{L}\p{N} .,'-]/gu, ' ').replace(/\s+/g, ' ').trim().slice(0, 80);
  const who = name ? name : offer.number.replace(/\D/g, '').split('').join(' ');
  return `Preview call: ${who}. Press ${PREVIEW_ACCEPT_KEY} to call, ${PREVIEW_SKIP_KEY} to skip.`;
}

/** Pure: the answer a key gives, or null (not an answer key). */
export function previewAnswerOf(digit: string): 'accept' | 'skip' | null {
  return digit === PREVIEW_ACCEPT_KEY ? 'accept' : digit === PREVIEW_SKIP_KEY ? 'skip' : null;
}

export class PreviewRunner implements CallRunner {
  readonly mode = 'preview';
  private phase: 'saying' | 'answering' | 'over' = 'saying';
  private media: readonly string[] = [];
  private said = 0;
  private playback: string | null = null;

  constructor(
    private readonly host: PreviewHost,
    private readonly attemptId: string,
  ) {}

  async start(): Promise<void> {
    const { host, attemptId } = this;
    const offer = host.preview ? await host.preview.offer(attemptId).catch(() => null) : null;
    if (!offer) return this.refuse('the offer is over');
    try {
      this.media = [await host.ivr.speak(previewText(offer), 'en', undefined)];
    } catch (err) {
      host.log.warn({ attempt: attemptId, err: (err as Error).message }, 'preview: the name could not be spoken; beeps instead');
      this.media = ['sound:beep', 'sound:beep'];
    }
    host.log.info({ attempt: attemptId }, 'preview: the agent answered the offer call');
    await this.say();
  }

  private async say(): Promise<void> {
    if (this.phase !== 'saying' || this.said >= SAY_TIMES) return;
    this.said += 1;
    this.playback = `${this.host.facts().callId}-preview-${this.said}`;
    await this.host.control.play(this.host.channelId, [...this.media, 'sound:silence/2'], this.playback).catch((err: Error) => this.host.log.warn({ err: err.message }, 'preview: offer not played'));
  }

  async onEvent(event: SessionEvent): Promise<void> {
    if (event.type === 'playback-finished' && event.playbackId === this.playback) {
      if (this.phase === 'over') return this.host.hangupCaller('normal');
      return this.say();
    }
    if (event.type !== 'dtmf' || this.phase !== 'saying') return;
    const answer = previewAnswerOf(event.digit);
    if (!answer) return;
    this.phase = 'answering';
    if (this.playback) logRejectionUnlessGone(this.host.control.stopPlayback(this.playback), this.host.log, 'preview playback not stopped');
    const ok = await this.host.preview!.answer(this.attemptId, answer).catch((err: Error) => {
      this.host.log.warn({ attempt: this.attemptId, err: err.message }, 'preview: the answer keyed was not taken');
      return false;
    });
    this.host.log.info({ attempt: this.attemptId, answer, ok }, 'preview: answer keyed at the phone');
    // Taken: the dialer hangs this call up; else an error tone, then hang up.
    if (!ok) return this.refuse('the offer is over');
  }

  private async refuse(why: string): Promise<void> {
    this.host.log.info({ attempt: this.attemptId, why }, 'preview: nothing to answer; error tone');
    this.phase = 'over';
    await this.host.answerCaller().catch(() => undefined);
    this.playback = `${this.host.facts().callId}-preview-over`;
    await this.host.control.play(this.host.channelId, ['sound:beeperr'], this.playback).catch(() => this.host.hangupCaller('normal'));
  }

  channelGone(): void {
    this.phase = 'over';
  }

  stop(): void {}
}
