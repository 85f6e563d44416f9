/**
 * The interim call flow, until IVR flows land: answer, play the greeting, collect DTMF
 * digits (barge-in stops the greeting), hang up on '#', on the digit limit or on timeout.
 *
 * Pure: transition(state, event) -> { state, actions }. Effects are data; the session runs them.
 * An event a state does not accept is returned as `rejected` and logged by the caller.
 */
export type FlowPhase = 'new' | 'answering' | 'greeting' | 'collecting' | 'hanging-up' | 'ended';

export interface FlowState {
  readonly phase: FlowPhase;
  readonly digits: string;
  /** Generation of the digit timer; a timeout from an older generation is stale and ignored. */
  readonly timerGen: number;
  readonly playbackId: string | null;
  readonly hangupCause: 'terminator' | 'max-digits' | 'timeout' | 'error' | 'unroutable' | null;
}

export interface FlowSettings {
  readonly greeting: string;
  readonly digitTimeoutMs: number;
  readonly maxDigits: number;
}

export type FlowEvent =
  | { readonly type: 'start'; readonly dialed: string | null }
  | { readonly type: 'resume' }
  | { readonly type: 'answered' }
  | { readonly type: 'playback-finished'; readonly playbackId: string }
  /** `fromLeg`: pressed on the other side of a connected call (the agent, the callee), not by the caller; `fromPhone`: see events.ts. */
  | { readonly type: 'dtmf'; readonly digit: string; readonly fromLeg?: boolean; readonly fromPhone?: boolean }
  | { readonly type: 'digit-timeout'; readonly gen: number }
  | { readonly type: 'action-failed'; readonly action: FlowAction['kind'] }
  | { readonly type: 'channel-gone' };

export type FlowAction =
  | { readonly kind: 'answer' }
  | { readonly kind: 'play'; readonly media: string; readonly playbackId: string }
  | { readonly kind: 'stop-playback'; readonly playbackId: string }
  | { readonly kind: 'start-timer'; readonly ms: number; readonly gen: number }
  | { readonly kind: 'record-digits'; readonly digits: string }
  | { readonly kind: 'hangup'; readonly reason: 'normal' | 'unallocated' };

export interface FlowStep {
  readonly state: FlowState;
  readonly actions: readonly FlowAction[];
  readonly rejected?: string;
}

export const initialFlowState: FlowState = {
  phase: 'new',
  digits: '',
  timerGen: 0,
  playbackId: null,
  hangupCause: null,
};

const DTMF = /^[0-9*#A-D]$/;
/** What a caller may dial into the daemon; anything else is refused before answer (SIP 404). */
export const ROUTABLE_NUMBER = /^\+?[0-9*#]{1,32}$/;

export function transition(state: FlowState, event: FlowEvent, s: FlowSettings, newId: () => string): FlowStep {
  const stay = (rejected?: string): FlowStep => ({ state, actions: [], ...(rejected ? { rejected } : {}) });

  if (state.phase === 'ended') return stay(`${event.type} after the call ended`);
  if (event.type === 'channel-gone') return { state: { ...state, phase: 'ended', playbackId: null }, actions: [] };
  if (state.phase === 'hanging-up') return stay(); // late events while hanging up are expected, not errors

  switch (event.type) {
    case 'start':
      if (state.phase !== 'new') return stay('start twice');
      if (event.dialed === null || !ROUTABLE_NUMBER.test(event.dialed)) {
        return {
          state: { ...state, phase: 'hanging-up', hangupCause: 'unroutable' },
          actions: [{ kind: 'hangup', reason: 'unallocated' }],
        };
      }
      return { state: { ...state, phase: 'answering' }, actions: [{ kind: 'answer' }] };

    case 'resume': {
      // After a daemon restart the call is picked up again: wait for digits with a fresh timer.
      if (state.phase !== 'new') return stay('resume of a running call');
      return collect({ ...state, phase: 'collecting' }, s, []);
    }

    case 'answered': {
      if (state.phase !== 'answering') return stay('answered outside answering');
      const playbackId = newId();
      return {
        state: { ...state, phase: 'greeting', playbackId },
        actions: [{ kind: 'play', media: s.greeting, playbackId }],
      };
    }

    case 'playback-finished':
      if (state.phase !== 'greeting' || event.playbackId !== state.playbackId) return stay();
      return collect({ ...state, phase: 'collecting', playbackId: null }, s, []);

    case 'dtmf': {
      if (state.phase !== 'greeting' && state.phase !== 'collecting') return stay(`digit ${event.digit} in ${state.phase}`);
      if (!DTMF.test(event.digit)) return stay(`not a DTMF digit: ${JSON.stringify(event.digit).slice(0, 20)}`);
      const bargeIn: FlowAction[] =
        state.phase === 'greeting' && state.playbackId ? [{ kind: 'stop-playback', playbackId: state.playbackId }] : [];
      if (event.digit === '#') return hangUp({ ...state, playbackId: null }, 'terminator', bargeIn);
      const digits = state.digits + event.digit;
      const next: FlowState = { ...state, phase: 'collecting', playbackId: null, digits };
      const record: FlowAction = { kind: 'record-digits', digits };
      if (digits.length >= s.maxDigits) return hangUp(next, 'max-digits', [...bargeIn, record]);
      return collect(next, s, [...bargeIn, record]);
    }

    case 'digit-timeout':
      if (state.phase !== 'collecting' || event.gen !== state.timerGen) return stay();
      return hangUp(state, 'timeout', []);

    case 'action-failed':
      return hangUp(state, 'error', []);
  }
}

function collect(state: FlowState, s: FlowSettings, before: FlowAction[]): FlowStep {
  const gen = state.timerGen + 1;
  return {
    state: { ...state, timerGen: gen },
    actions: [...before, { kind: 'start-timer', ms: s.digitTimeoutMs, gen }],
  };
}

function hangUp(state: FlowState, cause: NonNullable<FlowState['hangupCause']>, before: FlowAction[]): FlowStep {
  return {
    state: { ...state, phase: 'hanging-up', hangupCause: cause, timerGen: state.timerGen + 1 },
    actions: [...before, { kind: 'hangup', reason: 'normal' }],
  };
}
