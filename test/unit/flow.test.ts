import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { initialFlowState, transition, type FlowEvent, type FlowState } from '../../src/calls/flow.js';

const s = { greeting: 'sound:hello-world', digitTimeoutMs: 5000, maxDigits: 4 };
let n = 0;
const id = () => `pb-${++n}`;

function run(events: FlowEvent[], from: FlowState = initialFlowState) {
  let state = from;
  const actions = [];
  const rejected: string[] = [];
  for (const e of events) {
    const step = transition(state, e, s, id);
    state = step.state;
    actions.push(...step.actions);
    if (step.rejected) rejected.push(step.rejected);
  }
  return { state, actions, rejected };
}

describe('call flow', () => {
  it('answers, plays the greeting, then waits for digits', () => {
    const { state, actions } = run([{ type: 'start', dialed: '500' }, { type: 'answered' }]);
    expect(state.phase).toBe('greeting');
    expect(actions.map((a) => a.kind)).toEqual(['answer', 'play']);
    const play = actions[1] as { playbackId: string };
    const after = run([{ type: 'playback-finished', playbackId: play.playbackId }], state);
    expect(after.state.phase).toBe('collecting');
    expect(after.actions).toEqual([{ kind: 'start-timer', ms: 5000, gen: 1 }]);
  });

  it.each(['abc', '', '1;Dial(PJSIP/evil)', '5'.repeat(33), null])('refuses dialed number %j before answer', (dialed) => {
    const { state, actions } = run([{ type: 'start', dialed }]);
    expect(state).toMatchObject({ phase: 'hanging-up', hangupCause: 'unroutable' });
    expect(actions).toEqual([{ kind: 'hangup', reason: 'unallocated' }]);
  });

  it('ignores the end of a playback that is not the current one', () => {
    const { state } = run([{ type: 'start', dialed: '500' }, { type: 'answered' }, { type: 'playback-finished', playbackId: 'other' }]);
    expect(state.phase).toBe('greeting');
  });

  it('a digit during the greeting stops it (barge-in) and is kept', () => {
    const { state, actions } = run([{ type: 'start', dialed: '500' }, { type: 'answered' }, { type: 'dtmf', digit: '7' }]);
    expect(state).toMatchObject({ phase: 'collecting', digits: '7', playbackId: null });
    expect(actions.map((a) => a.kind)).toEqual(['answer', 'play', 'stop-playback', 'record-digits', 'start-timer']);
  });

  it('hangs up on # without storing it', () => {
    const { state, actions } = run([{ type: 'start', dialed: '500' }, { type: 'answered' }, { type: 'dtmf', digit: '1' }, { type: 'dtmf', digit: '2' }, { type: 'dtmf', digit: '#' }]);
    expect(state).toMatchObject({ phase: 'hanging-up', digits: '12', hangupCause: 'terminator' });
    expect(actions.at(-1)).toEqual({ kind: 'hangup', reason: 'normal' });
  });

  it('hangs up at the digit limit', () => {
    const { state } = run([{ type: 'start', dialed: '500' }, { type: 'answered' }, ...'1234'.split('').map((digit) => ({ type: 'dtmf', digit }) as FlowEvent)]);
    expect(state).toMatchObject({ phase: 'hanging-up', digits: '1234', hangupCause: 'max-digits' });
  });

  it('hangs up on the current digit timer only', () => {
    const base = run([{ type: 'start', dialed: '500' }, { type: 'answered' }, { type: 'dtmf', digit: '1' }, { type: 'dtmf', digit: '2' }]).state;
    expect(run([{ type: 'digit-timeout', gen: base.timerGen - 1 }], base).state.phase).toBe('collecting');
    expect(run([{ type: 'digit-timeout', gen: base.timerGen }], base).state).toMatchObject({ phase: 'hanging-up', hangupCause: 'timeout' });
  });

  it('refuses out-of-order and non-DTMF events without changing state', () => {
    const r = run([{ type: 'answered' }]);
    expect(r.state).toEqual(initialFlowState);
    expect(r.rejected).toHaveLength(1);
    const greeting = run([{ type: 'start', dialed: '500' }, { type: 'answered' }]).state;
    const bad = run([{ type: 'dtmf', digit: 'x'.repeat(10_000) }], greeting);
    expect(bad.state).toEqual(greeting);
    expect(bad.rejected[0]!.length).toBeLessThan(60);
  });

  it('resume after restart goes straight to collecting', () => {
    const r = run([{ type: 'resume' }]);
    expect(r.state.phase).toBe('collecting');
    expect(r.actions).toEqual([{ kind: 'start-timer', ms: 5000, gen: 1 }]);
  });

  it('ends on channel-gone from any phase and then accepts nothing', () => {
    const r = run([{ type: 'start', dialed: '500' }, { type: 'channel-gone' }, { type: 'answered' }]);
    expect(r.state.phase).toBe('ended');
    expect(r.actions.map((a) => a.kind)).toEqual(['answer']);
  });

  it('never emits more than one hangup, whatever the events (property)', () => {
    const event = fc.oneof(
      fc.constant<FlowEvent>({ type: 'start', dialed: '500' }),
      fc.constant<FlowEvent>({ type: 'answered' }),
      fc.constant<FlowEvent>({ type: 'resume' }),
      fc.constantFrom(...'0123456789*#AZ'.split('')).map<FlowEvent>((digit) => ({ type: 'dtmf', digit })),
      fc.integer({ min: 0, max: 20 }).map<FlowEvent>((gen) => ({ type: 'digit-timeout', gen })),
      fc.constant<FlowEvent>({ type: 'action-failed', action: 'play' }),
    );
    fc.assert(
      fc.property(fc.array(event, { maxLength: 40 }), (events) => {
        const { state, actions } = run(events);
        const hangups = actions.filter((a) => a.kind === 'hangup').length;
        return hangups <= 1 && state.digits.length <= s.maxDigits && !state.digits.includes('#');
      }),
    );
  });
});
