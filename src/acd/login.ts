/**
 * Agent login at a desk phone (feature code *91), as agents know it from app_agent_pool:
 *   "Agent login. Please enter your agent number followed by the pound key" (agent-user)
 *   -> digits, '#'
 *   "Please enter your password followed by the pound key" (agent-pass)
 *   -> digits, '#'
 *   -> the daemon checks number and PIN
 *   ok     "Agent logged in" (agent-loginok), hang up: the agent is ready at this phone
 *   wrong  "Login incorrect. Please enter your agent number..." (agent-incorrect) and again,
 *          up to `maxAttempts` tries in this call; a locked agent (too many wrong PINs) hears
 *          auth-incorrect and goodbye.
 *   unavailable  the agent could not be checked or logged in (Postgres unreachable): "All
 *          circuits are busy now, please try your call again later", hang up; nothing changed.
 * A digit during a prompt stops it and counts (barge-in). Silence for `digitTimeoutMs` ends the
 * entry as if '#' was pressed; an empty entry counts as a wrong try.
 *
 * Pure: loginTransition(state, event) -> { state, actions }. Playback ids and timer generations
 * come from counters in the state. Unexpected events are ignored; at most 16 digits are kept.
 */
export type LoginPhase = 'new' | 'number' | 'pin' | 'checking' | 'telling' | 'ended';

export interface LoginState {
  readonly phase: LoginPhase;
  readonly number: string;
  readonly pin: string;
  readonly attempts: number;
  readonly seq: number;
  readonly playbackId: string | null;
  readonly timerGen: number;
  readonly result: 'ok' | 'failed' | 'locked' | 'unavailable' | 'caller-hangup' | null;
}

export type LoginEvent =
  | { readonly type: 'start' }
  | { readonly type: 'playback-finished'; readonly playbackId: string }
  | { readonly type: 'dtmf'; readonly digit: string }
  | { readonly type: 'timeout'; readonly gen: number }
  | { readonly type: 'checked'; readonly outcome: LoginOutcome }
  | { readonly type: 'hangup' };

/** What checking number and PIN (and logging in) came to. */
export type LoginOutcome = 'ok' | 'wrong' | 'locked' | 'unavailable';

export type LoginAction =
  | { readonly kind: 'answer' }
  | { readonly kind: 'play'; readonly playbackId: string; readonly media: readonly string[] }
  | { readonly kind: 'stop-playback'; readonly playbackId: string }
  | { readonly kind: 'start-timer'; readonly gen: number; readonly ms: number }
  | { readonly kind: 'check'; readonly number: string; readonly pin: string }
  | { readonly kind: 'hangup' };

export interface LoginStep {
  readonly state: LoginState;
  readonly actions: readonly LoginAction[];
}

export interface LoginSettings {
  readonly digitTimeoutMs: number;
  readonly maxAttempts: number;
}

export const LOGIN_PROMPTS = {
  number: 'sound:agent-user',
  pin: 'sound:agent-pass',
  incorrect: 'sound:agent-incorrect',
  ok: 'sound:agent-loginok',
  locked: ['sound:auth-incorrect', 'sound:vm-goodbye'],
  failed: ['sound:vm-goodbye'],
  unavailable: ['sound:all-circuits-busy-now', 'sound:please-try-call-later'],
} as const;

const MAX_DIGITS = 16;

export const initialLoginState: LoginState = { phase: 'new', number: '', pin: '', attempts: 0, seq: 0, playbackId: null, timerGen: 0, result: null };

export function loginTransition(state: LoginState, event: LoginEvent, settings: LoginSettings): LoginStep {
  const stay: LoginStep = { state, actions: [] };
  if (state.phase === 'ended') return stay;
  if (event.type === 'hangup') return { state: { ...state, phase: 'ended', result: state.result ?? 'caller-hangup' }, actions: [] };

  switch (state.phase) {
    case 'new':
      if (event.type !== 'start') return stay;
      return ask({ ...state, phase: 'number' }, [LOGIN_PROMPTS.number], [{ kind: 'answer' }]);

    case 'number':
    case 'pin': {
      const field = state.phase;
      if (event.type === 'playback-finished' && event.playbackId === state.playbackId) {
        return waitForDigit({ ...state, playbackId: null }, [], settings);
      }
      if (event.type === 'timeout' && event.gen === state.timerGen) return entered(state, [], settings);
      if (event.type !== 'dtmf') return stay;
      const out: LoginAction[] = state.playbackId ? [{ kind: 'stop-playback', playbackId: state.playbackId }] : [];
      const s = { ...state, playbackId: null };
      if (event.digit === '#') return entered(s, out, settings);
      if (!/^[0-9]$/.test(event.digit)) return waitForDigit(s, out, settings);
      const value = (field === 'number' ? s.number : s.pin) + event.digit;
      if (value.length > MAX_DIGITS) return waitForDigit(s, out, settings);
      return waitForDigit(field === 'number' ? { ...s, number: value } : { ...s, pin: value }, out, settings);
    }

    case 'checking': {
      if (event.type !== 'checked') return stay;
      if (event.outcome === 'ok') return tell({ ...state, result: 'ok' }, [LOGIN_PROMPTS.ok]);
      if (event.outcome === 'locked') return tell({ ...state, result: 'locked' }, [...LOGIN_PROMPTS.locked]);
      if (event.outcome === 'unavailable') return tell({ ...state, result: 'unavailable' }, [...LOGIN_PROMPTS.unavailable]);
      return wrongTry(state, [], settings);
    }

    case 'telling':
      if (event.type === 'playback-finished' && event.playbackId === state.playbackId) {
        return { state: { ...state, phase: 'ended', playbackId: null }, actions: [{ kind: 'hangup' }] };
      }
      return stay;
  }
}

/** The number or PIN entry is complete ('#' or silence). */
function entered(state: LoginState, out: LoginAction[], settings: LoginSettings): LoginStep {
  if (state.phase === 'number') {
    if (state.number === '') return wrongTry(state, out, settings);
    return ask({ ...state, phase: 'pin' }, [LOGIN_PROMPTS.pin], out);
  }
  if (state.pin === '') return wrongTry(state, out, settings);
  return { state: { ...state, phase: 'checking' }, actions: [...out, { kind: 'check', number: state.number, pin: state.pin }] };
}

function wrongTry(state: LoginState, out: LoginAction[], settings: LoginSettings): LoginStep {
  const attempts = state.attempts + 1;
  const cleared = { ...state, attempts, number: '', pin: '' };
  if (attempts >= settings.maxAttempts) return tell({ ...cleared, result: 'failed' }, [LOGIN_PROMPTS.incorrect, ...LOGIN_PROMPTS.failed], out);
  // agent-incorrect asks for the agent number again.
  return ask({ ...cleared, phase: 'number' }, [LOGIN_PROMPTS.incorrect], out);
}

function ask(state: LoginState, media: readonly string[], out: LoginAction[]): LoginStep {
  const seq = state.seq + 1;
  const playbackId = `login-${seq}`;
  // A new timer generation: the silence timer of the previous entry is stale from now on.
  return {
    state: { ...state, seq, playbackId, timerGen: state.timerGen + 1 },
    actions: [...out, { kind: 'play', playbackId, media }],
  };
}

function waitForDigit(state: LoginState, out: LoginAction[], settings: LoginSettings): LoginStep {
  const timerGen = state.timerGen + 1;
  return { state: { ...state, timerGen }, actions: [...out, { kind: 'start-timer', gen: timerGen, ms: settings.digitTimeoutMs }] };
}

function tell(state: LoginState, media: readonly string[], out: LoginAction[] = []): LoginStep {
  const seq = state.seq + 1;
  const playbackId = `login-${seq}`;
  return {
    state: { ...state, phase: 'telling', seq, playbackId, timerGen: state.timerGen + 1 },
    actions: [...out, { kind: 'play', playbackId, media }],
  };
}
