/**
 * The media actions every caller-facing machine shares (test service, voicemail deposit, mailbox
 * menu): answer the caller, play a prompt, stop a prompt on barge-in. One implementation.
 */
import type { CallHost } from './host.js';

export type MediaAction =
  | { readonly kind: 'answer' }
  | { readonly kind: 'play'; readonly media: string; readonly playbackId: string }
  | { readonly kind: 'stop-playback'; readonly playbackId: string };

const MEDIA_KINDS: ReadonlySet<string> = new Set(['answer', 'play', 'stop-playback']);

export function isMediaAction<A extends { readonly kind: string }>(action: A): action is Extract<A, MediaAction> {
  return MEDIA_KINDS.has(action.kind);
}

export async function runMediaAction(host: CallHost, action: MediaAction): Promise<void> {
  switch (action.kind) {
    case 'answer':
      return host.answerCaller();
    case 'play':
      return host.control.play(host.channelId, action.media, action.playbackId);
    case 'stop-playback':
      return host.control.stopPlayback(action.playbackId).catch(() => undefined); // it may have just finished
  }
}
