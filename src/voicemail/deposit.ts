/**
 * Leaving a message: answer, play the mailbox greeting (its own recording or a built-in prompt),
 * record after the beep until '#', silence, the length limit or the caller hanging up, then keep
 * the recording. Pure: depositTransition(state, event) -> { state, actions }; the call session
 * runs the actions over ARI.
 *
 *   new --start--> answering --answered--> greeting --finished / '#'--> recording
 *   recording --recording-ended--> closing ("saved, goodbye") --finished--> hang up
 *   recording --channel-gone--> ended (the partial recording is still saved)
 */
export type DepositPhase = 'new' | 'answering' | 'greeting' | 'recording' | 'closing' | 'hanging-up' | 'ended';

export interface DepositState {
  readonly phase: DepositPhase;
  readonly mailbox: string | null;
  /** Media of the greeting to play once answered. */
  readonly greeting: string;
  readonly playbackId: string | null;
  readonly recordingName: string | null;
  /** The recording was handed over for saving (exactly once per call). */
  readonly saved: boolean;
}

export interface DepositSettings {
  readonly maxMessageSeconds: number;
  readonly maxSilenceSeconds: number;
}

export type DepositEvent =
  | { readonly type: 'start'; readonly mailbox: string; readonly greeting: string | null }
  | { readonly type: 'answered' }
  | { readonly type: 'playback-finished'; readonly playbackId: string }
  | { readonly type: 'dtmf'; readonly digit: string }
  | { readonly type: 'recording-ended'; readonly name: string; readonly ok: boolean }
  | { readonly type: 'action-failed'; readonly action: DepositAction['kind'] }
  | { readonly type: 'channel-gone' };

export type DepositAction =
  | { readonly kind: 'answer' }
  | { readonly kind: 'play'; readonly media: string; readonly playbackId: string }
  | { readonly kind: 'stop-playback'; readonly playbackId: string }
  | {
      readonly kind: 'record';
      readonly name: string;
      readonly maxDurationSeconds: number;
      readonly maxSilenceSeconds: number;
      readonly beep: true;
      readonly terminateOn: '#';
    }
  | { readonly kind: 'save-message'; readonly mailbox: string; readonly name: string }
  | { readonly kind: 'hangup' };

export interface DepositStep {
  readonly state: DepositState;
  readonly actions: readonly DepositAction[];
  readonly rejected?: string;
}

/** A mailbox takes messages when voicemail is on and it has a PIN (else its owner could not listen). */
export function takesMessages(ext: { readonly voicemail_enabled: boolean; readonly voicemail_pin_hash: string | null }): boolean {
  return ext.voicemail_enabled && ext.voicemail_pin_hash !== null;
}

/** Built-in greeting ("Please leave your message after the tone...") when the mailbox has none. */
export const DEFAULT_GREETING = 'sound:vm-intro';
const SAVED_PROMPT = 'sound:vm-msgsaved';
const GOODBYE = 'sound:vm-goodbye';

export const initialDepositState: DepositState = { phase: 'new', mailbox: null, greeting: DEFAULT_GREETING, playbackId: null, recordingName: null, saved: false };

export function depositTransition(
  state: DepositState,
  event: DepositEvent,
  s: DepositSettings,
  ids: { playback: () => string; recording: (mailbox: string) => string },
): DepositStep {
  const stay = (rejected?: string): DepositStep => ({ state, actions: [], ...(rejected ? { rejected } : {}) });
  if (state.phase === 'ended') return stay();

  if (event.type === 'channel-gone') {
    // Asterisk finishes the recording when the caller hangs up: keep what was said.
    const save: DepositAction[] =
      state.phase === 'recording' && !state.saved && state.recordingName && state.mailbox
        ? [{ kind: 'save-message', mailbox: state.mailbox, name: state.recordingName }]
        : [];
    return { state: { ...state, phase: 'ended', playbackId: null, saved: state.saved || save.length > 0 }, actions: save };
  }
  if (state.phase === 'hanging-up') return stay();

  switch (event.type) {
    case 'start':
      if (state.phase !== 'new') return stay('start twice');
      return {
        state: { ...state, phase: 'answering', mailbox: event.mailbox, greeting: event.greeting ?? DEFAULT_GREETING },
        actions: [{ kind: 'answer' }],
      };

    case 'answered': {
      if (state.phase !== 'answering') return stay('answered outside answering');
      const playbackId = ids.playback();
      return { state: { ...state, phase: 'greeting', playbackId }, actions: [{ kind: 'play', media: state.greeting, playbackId }] };
    }

    case 'playback-finished':
      if (event.playbackId !== state.playbackId) return stay();
      if (state.phase === 'greeting') return record({ ...state, playbackId: null }, s, ids, []);
      if (state.phase === 'closing') return { state: { ...state, phase: 'hanging-up', playbackId: null }, actions: [{ kind: 'hangup' }] };
      return stay();

    case 'dtmf':
      // '#' skips the greeting; anything else is ignored. While recording, Asterisk ends on '#' itself.
      if (state.phase !== 'greeting' || event.digit !== '#' || !state.playbackId) return stay();
      return record({ ...state, playbackId: null }, s, ids, [{ kind: 'stop-playback', playbackId: state.playbackId }]);

    case 'recording-ended': {
      if (state.phase !== 'recording' || event.name !== state.recordingName) return stay();
      const playbackId = ids.playback();
      const save: DepositAction[] = !state.saved && state.mailbox ? [{ kind: 'save-message', mailbox: state.mailbox, name: event.name }] : [];
      return {
        state: { ...state, phase: 'closing', playbackId, saved: true },
        actions: [...save, { kind: 'play', media: event.ok ? SAVED_PROMPT : GOODBYE, playbackId }],
      };
    }

    case 'action-failed':
      if (event.action === 'hangup') return stay();
      return {
        state: { ...state, phase: 'hanging-up', playbackId: null },
        actions: [
          ...(state.phase === 'recording' && !state.saved && state.mailbox && state.recordingName
            ? [{ kind: 'save-message', mailbox: state.mailbox, name: state.recordingName } as const]
            : []),
          { kind: 'hangup' },
        ],
      };
  }
}

function record(
  state: DepositState,
  s: DepositSettings,
  ids: { recording: (mailbox: string) => string },
  before: DepositAction[],
): DepositStep {
  const name = ids.recording(state.mailbox ?? 'unknown');
  return {
    state: { ...state, phase: 'recording', recordingName: name },
    actions: [
      ...before,
      { kind: 'record', name, maxDurationSeconds: s.maxMessageSeconds, maxSilenceSeconds: s.maxSilenceSeconds, beep: true, terminateOn: '#' },
    ],
  };
}
