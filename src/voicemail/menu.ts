/**
 * The mailbox menu an extension reaches with *97: PIN (digits then '#', three tries; a mailbox
 * locked after too many wrong PINs in a row, over several calls, hears "incorrect", goodbye), the number
 * of new messages, then every message newest first. After (or during) each message:
 *   7 delete   9 save (mark heard) and next   # skip to the next   0 record a new greeting
 * After the last message: 0 records a new greeting, anything else (or silence) says goodbye.
 *
 * Pure: menuTransition(state, event) -> { state, actions }. Prompts are queued and played one
 * after the other; `after` says what happens when the queue is done. Digits that a phase does not
 * expect are ignored (DTMF storms do no harm).
 */
export interface MenuMessage {
  readonly id: string;
  /** What Asterisk plays: `recording:<stored recording name>`. */
  readonly media: string;
  readonly heard: boolean;
}

export type MenuPhase =
  | 'new' | 'answering' | 'prompting' | 'pin' | 'checking' | 'loading' | 'message' | 'choose' | 'end-choice'
  | 'greeting-recording' | 'hanging-up' | 'ended';

/** What to do when the queued prompts have been played. */
export type MenuNext = 'pin' | 'messages' | 'end-choice' | 'record-greeting' | 'hangup';

export interface MenuState {
  readonly phase: MenuPhase;
  readonly mailbox: string | null;
  readonly pin: string;
  readonly attempts: number;
  readonly messages: readonly MenuMessage[];
  readonly index: number;
  readonly queue: readonly string[];
  readonly after: MenuNext | null;
  readonly playbackId: string | null;
  readonly timerGen: number;
  readonly recordingName: string | null;
  readonly hangupCause: 'pin-failed' | 'pin-locked' | 'done' | 'timeout' | 'error' | null;
}

export interface MenuSettings {
  readonly digitTimeoutMs: number;
  readonly maxPinAttempts: number;
  readonly maxGreetingSeconds: number;
}

export type MenuEvent =
  | { readonly type: 'start'; readonly mailbox: string }
  | { readonly type: 'answered' }
  | { readonly type: 'playback-finished'; readonly playbackId: string }
  | { readonly type: 'dtmf'; readonly digit: string }
  | { readonly type: 'menu-timeout'; readonly gen: number }
  /** `locked`: the mailbox is locked (too many wrong PINs in a row); the PIN was not looked at, or this one locked it. */
  | { readonly type: 'pin-checked'; readonly ok: boolean; readonly locked?: boolean }
  | { readonly type: 'messages'; readonly messages: readonly MenuMessage[] }
  | { readonly type: 'recording-ended'; readonly name: string; readonly ok: boolean }
  | { readonly type: 'action-failed'; readonly action: MenuAction['kind'] }
  | { readonly type: 'channel-gone' };

export type MenuAction =
  | { readonly kind: 'answer' }
  | { readonly kind: 'play'; readonly media: string; readonly playbackId: string }
  | { readonly kind: 'stop-playback'; readonly playbackId: string }
  | { readonly kind: 'start-timer'; readonly ms: number; readonly gen: number }
  | { readonly kind: 'check-pin'; readonly mailbox: string; readonly pin: string }
  | { readonly kind: 'load-messages'; readonly mailbox: string }
  | { readonly kind: 'mark-heard'; readonly mailbox: string; readonly id: string }
  | { readonly kind: 'delete-message'; readonly mailbox: string; readonly id: string }
  | { readonly kind: 'record'; readonly name: string; readonly maxDurationSeconds: number; readonly maxSilenceSeconds: number; readonly beep: true; readonly terminateOn: '#' }
  | { readonly kind: 'save-greeting'; readonly mailbox: string; readonly name: string }
  | { readonly kind: 'hangup' };

export interface MenuStep {
  readonly state: MenuState;
  readonly actions: readonly MenuAction[];
  readonly rejected?: string;
}

export interface MenuIds {
  playback(): string;
  recording(mailbox: string): string;
}

export const MAX_PIN_DIGITS = 10;
const DTMF = /^[0-9*#A-D]$/;
const P = {
  password: 'sound:vm-password',
  incorrect: 'sound:vm-incorrect',
  youHave: 'sound:vm-youhave',
  new: 'sound:vm-INBOX',
  message: 'sound:vm-message',
  messages: 'sound:vm-messages',
  noMore: 'sound:vm-nomore',
  deleted: 'sound:vm-deleted',
  saved: 'sound:vm-msgsaved',
  recordGreeting: 'sound:vm-rec-unv',
  goodbye: 'sound:vm-goodbye',
} as const;

export const initialMenuState: MenuState = {
  phase: 'new', mailbox: null, pin: '', attempts: 0, messages: [], index: 0, queue: [], after: null,
  playbackId: null, timerGen: 0, recordingName: null, hangupCause: null,
};

export function menuTransition(state: MenuState, event: MenuEvent, s: MenuSettings, ids: MenuIds): MenuStep {
  const stay = (rejected?: string): MenuStep => ({ state, actions: [], ...(rejected ? { rejected } : {}) });
  if (state.phase === 'ended') return stay();
  if (event.type === 'channel-gone') return { state: { ...state, phase: 'ended', playbackId: null, queue: [] }, actions: [] };
  if (state.phase === 'hanging-up') return stay();
  const mailbox = state.mailbox ?? '';

  switch (event.type) {
    case 'start':
      if (state.phase !== 'new') return stay('start twice');
      return { state: { ...state, phase: 'answering', mailbox: event.mailbox }, actions: [{ kind: 'answer' }] };

    case 'answered':
      if (state.phase !== 'answering') return stay('answered outside answering');
      return prompt(state, [P.password], 'pin', ids);

    case 'playback-finished': {
      if (event.playbackId !== state.playbackId) return stay();
      const [nextMedia, ...rest] = state.queue;
      if (nextMedia !== undefined) {
        const playbackId = ids.playback();
        return { state: { ...state, queue: rest, playbackId }, actions: [{ kind: 'play', media: nextMedia, playbackId }] };
      }
      const done = { ...state, playbackId: null };
      if (state.phase === 'pin') return timer(done, s, []);
      if (state.phase === 'message') return timer({ ...done, phase: 'choose' }, s, []);
      if (state.phase === 'prompting') return proceed(done, s, ids);
      return stay();
    }

    case 'dtmf': {
      if (!DTMF.test(event.digit)) return stay(`not a DTMF digit: ${JSON.stringify(event.digit).slice(0, 20)}`);
      const stop: MenuAction[] = state.playbackId ? [{ kind: 'stop-playback', playbackId: state.playbackId }] : [];
      const quiet: MenuState = { ...state, playbackId: null, queue: [] };
      switch (state.phase) {
        case 'pin':
          if (event.digit === '#') return checkPin(quiet, stop);
          if (!/^[0-9]$/.test(event.digit)) return stay();
          // Extra digits still count (a PIN is at most MAX_PIN_DIGITS long, so it will not match).
          return timer({ ...quiet, pin: (state.pin + event.digit).slice(0, MAX_PIN_DIGITS + 1) }, s, stop);
        case 'message':
        case 'choose':
          if (!'790#'.includes(event.digit)) return stay();
          return choose(quiet, event.digit, s, ids, stop);
        case 'end-choice':
          if (event.digit === '0') return prompt(quiet, [P.recordGreeting], 'record-greeting', ids, stop);
          return prompt({ ...quiet, hangupCause: 'done' }, [P.goodbye], 'hangup', ids, stop);
        default:
          return stay(); // announcements, PIN check, recording: digits are ignored ('#' ends a recording in Asterisk)
      }
    }

    case 'menu-timeout':
      if (event.gen !== state.timerGen) return stay();
      if (state.phase === 'pin') return checkPin(state, []);
      if (state.phase === 'choose') return proceed({ ...state, index: state.index + 1 }, s, ids, 'messages');
      if (state.phase === 'end-choice') return prompt({ ...state, hangupCause: 'timeout' }, [P.goodbye], 'hangup', ids);
      return stay();

    case 'pin-checked': {
      if (state.phase !== 'checking') return stay('PIN result outside checking');
      if (event.ok) return { state: { ...state, phase: 'loading', pin: '' }, actions: [{ kind: 'load-messages', mailbox }] };
      const attempts = state.attempts + 1;
      // Locked: no more tries in this call either; the same words as a wrong PIN, then goodbye.
      if (event.locked) return prompt({ ...state, attempts, pin: '', hangupCause: 'pin-locked' }, [P.incorrect, P.goodbye], 'hangup', ids);
      if (attempts >= s.maxPinAttempts) {
        return prompt({ ...state, attempts, pin: '', hangupCause: 'pin-failed' }, [P.incorrect, P.goodbye], 'hangup', ids);
      }
      return prompt({ ...state, attempts, pin: '' }, [P.incorrect, P.password], 'pin', ids);
    }

    case 'messages': {
      if (state.phase !== 'loading') return stay('messages outside loading');
      const fresh = event.messages.filter((m) => !m.heard).length;
      const announce = [P.youHave, `number:${fresh}`, P.new, fresh === 1 ? P.message : P.messages];
      return prompt({ ...state, messages: event.messages, index: 0 }, announce, 'messages', ids);
    }

    case 'recording-ended': {
      if (state.phase !== 'greeting-recording' || event.name !== state.recordingName) return stay();
      const save: MenuAction[] = event.ok ? [{ kind: 'save-greeting', mailbox, name: event.name }] : [];
      return prompt({ ...state, hangupCause: 'done' }, event.ok ? [P.saved, P.goodbye] : [P.goodbye], 'hangup', ids, save);
    }

    case 'action-failed':
      if (event.action === 'hangup') return stay();
      return { state: { ...state, phase: 'hanging-up', playbackId: null, queue: [], hangupCause: 'error' }, actions: [{ kind: 'hangup' }] };
  }
}

function prompt(state: MenuState, media: readonly string[], after: MenuNext, ids: MenuIds, before: MenuAction[] = []): MenuStep {
  const [first, ...rest] = media;
  const playbackId = ids.playback();
  // PIN digits are taken while "password" plays; everything else waits for the prompts.
  const phase: MenuPhase = after === 'pin' ? 'pin' : 'prompting';
  return {
    state: { ...state, phase, queue: rest, after, playbackId, timerGen: state.timerGen + 1 },
    actions: [...before, { kind: 'play', media: first!, playbackId }],
  };
}

function timer(state: MenuState, s: MenuSettings, before: MenuAction[]): MenuStep {
  const gen = state.timerGen + 1;
  return { state: { ...state, timerGen: gen }, actions: [...before, { kind: 'start-timer', ms: s.digitTimeoutMs, gen }] };
}

function checkPin(state: MenuState, before: MenuAction[]): MenuStep {
  return {
    state: { ...state, phase: 'checking', timerGen: state.timerGen + 1 },
    actions: [...before, { kind: 'check-pin', mailbox: state.mailbox ?? '', pin: state.pin }],
  };
}

/** A choice after (or during) message `index`. */
function choose(state: MenuState, digit: string, s: MenuSettings, ids: MenuIds, before: MenuAction[]): MenuStep {
  const msg = state.messages[state.index];
  const mailbox = state.mailbox ?? '';
  const next = { ...state, index: state.index + 1 };
  switch (digit) {
    case '7':
      return prompt(next, [P.deleted], 'messages', ids, [...before, ...(msg ? [{ kind: 'delete-message', mailbox, id: msg.id } as const] : [])]);
    case '9':
      return prompt(next, [P.saved], 'messages', ids, [...before, ...(msg ? [{ kind: 'mark-heard', mailbox, id: msg.id } as const] : [])]);
    case '0':
      return prompt(state, [P.recordGreeting], 'record-greeting', ids, before);
    default: // '#'
      return proceed(next, s, ids, 'messages', before);
  }
}

/** The prompts are done: carry on with what was planned. */
function proceed(state: MenuState, s: MenuSettings, ids: MenuIds, after: MenuNext | null = state.after, before: MenuAction[] = []): MenuStep {
  switch (after) {
    case 'messages': {
      const msg = state.messages[state.index];
      if (!msg) return prompt(state, [P.noMore], 'end-choice', ids, before);
      const playbackId = ids.playback();
      return {
        state: { ...state, phase: 'message', queue: [], after: null, playbackId, timerGen: state.timerGen + 1 },
        actions: [...before, { kind: 'play', media: msg.media, playbackId }],
      };
    }
    case 'end-choice':
      return timer({ ...state, phase: 'end-choice', after: null }, s, before);
    case 'record-greeting': {
      const name = ids.recording(state.mailbox ?? 'unknown');
      return {
        state: { ...state, phase: 'greeting-recording', after: null, recordingName: name },
        actions: [...before, { kind: 'record', name, maxDurationSeconds: s.maxGreetingSeconds, maxSilenceSeconds: 5, beep: true, terminateOn: '#' }],
      };
    }
    case 'hangup':
      return { state: { ...state, phase: 'hanging-up', after: null }, actions: [...before, { kind: 'hangup' }] };
    case 'pin':
      return timer({ ...state, phase: 'pin', after: null }, s, before);
    case null:
      return { state, actions: before };
  }
}
