import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { dialTransition, initialDialState, MAX_HOPS } from '../../src/calls/dial-flow.js';

import { ext, leg, run } from '../support/dial-harness.js';

describe('dial flow', () => {
  it('rings the caller and the extension, then bridges on answer', () => {
    const a = run([{ type: 'dial', target: ext('1002', { ringTimeoutSeconds: 15 }) }]);
    expect(a.state.phase).toBe('ringing');
    expect(a.actions).toEqual([{ kind: 'ring-caller' }, { kind: 'originate', legId: a.state.legId, number: '1002', endpoint: 'PJSIP/1002', timeoutSeconds: 15 }]);
    const b = run([{ type: 'b-answered', legId: a.state.legId! }], a.state);
    expect(b.state).toMatchObject({ phase: 'bridged', answered: true, outcome: 'connected' });
    expect(b.actions).toEqual([{ kind: 'answer-caller' }, { kind: 'bridge', legId: a.state.legId }]);
  });

  it('hangs up the caller when the callee hangs up, and the callee when the caller does', () => {
    const ringing = run([{ type: 'dial', target: ext('1002') }]).state;
    const bridged = run([{ type: 'b-answered', legId: ringing.legId! }], ringing).state;
    expect(run([{ type: 'b-ended', legId: ringing.legId!, cause: 16 }], bridged).actions).toEqual([{ kind: 'hangup-caller', reason: 'normal' }]);
    expect(run([{ type: 'a-ended' }], bridged).actions).toEqual([{ kind: 'hangup-leg', legId: ringing.legId }]);
    expect(run([{ type: 'a-ended' }], ringing).actions).toEqual([{ kind: 'hangup-leg', legId: ringing.legId }]);
  });

  it.each([
    [17, 'busy', 'busy'],
    [21, 'busy', 'busy'],
    [19, 'no-answer', 'no_answer'],
    [16, 'no-answer', 'no_answer'],
    [20, 'unreachable', 'unallocated'],
  ] as const)('cause %i without forward -> %s', (cause, why, reason) => {
    const ringing = run([{ type: 'dial', target: ext('1002') }]).state;
    const ended = run([{ type: 'b-ended', legId: ringing.legId!, cause }], ringing);
    expect(ended.actions).toEqual([{ kind: 'lookup-after-failure', number: '1002', why }]);
    const final = run([{ type: 'no-connect', why, target: ext('1002') }], ended.state);
    expect(final.state.phase).toBe('hanging-up');
    expect(final.actions).toEqual([{ kind: 'hangup-caller', reason }]);
  });

  it('follows forward-on-busy and forward-on-no-answer', () => {
    const ringing = run([{ type: 'dial', target: ext('1002') }]).state;
    const busy = run([{ type: 'b-ended', legId: ringing.legId!, cause: 17 }, { type: 'no-connect', why: 'busy', target: ext('1002', { forwardBusy: '1003' }) }], ringing);
    expect(busy.actions.at(-1)).toEqual({ kind: 'lookup', number: '1003' });
    const next = run([{ type: 'dial', target: ext('1003') }], busy.state);
    expect(next.actions).toEqual([{ kind: 'originate', legId: next.state.legId, number: '1003', endpoint: 'PJSIP/1003', timeoutSeconds: 20 }]);
    const timeout = run([{ type: 'ring-timeout', legId: ringing.legId! }], ringing);
    expect(timeout.actions).toEqual([{ kind: 'hangup-leg', legId: ringing.legId }]);
  });

  it('DND is busy: forward-on-busy or a busy refusal, without ringing', () => {
    expect(run([{ type: 'dial', target: ext('1002', { dnd: true }) }]).actions).toEqual([{ kind: 'hangup-caller', reason: 'busy' }]);
    expect(run([{ type: 'dial', target: ext('1002', { dnd: true, forwardBusy: '1003' }) }]).actions).toEqual([{ kind: 'lookup', number: '1003' }]);
  });

  it('forward-always skips ringing; a forward to something not an extension gives up cleanly', () => {
    const f = run([{ type: 'dial', target: ext('1002', { forwardAlways: '1003' }) }]);
    expect(f.actions).toEqual([{ kind: 'lookup', number: '1003' }]);
    expect(run([{ type: 'target-missing', number: '1003' }], f.state).actions).toEqual([{ kind: 'hangup-caller', reason: 'unallocated' }]);
  });

  it('never loops on forwards (property): at most MAX_HOPS originates, always ends', () => {
    fc.assert(
      fc.property(fc.array(fc.constantFrom('1001', '1002', '1003', '1004'), { minLength: 1, maxLength: 8 }), (chain) => {
        let state = initialDialState;
        let originates = 0;
        let number: string = chain[0]!;
        for (let i = 0; i < 20; i++) {
          const next = chain[(i + 1) % chain.length]!;
          const step = dialTransition(state, { type: 'dial', target: ext(number, { forwardAlways: next }) }, leg);
          state = step.state;
          originates += step.actions.filter((a) => a.kind === 'originate').length;
          const lookup = step.actions.find((a) => a.kind === 'lookup');
          if (!lookup || lookup.kind !== 'lookup') break;
          number = lookup.number;
        }
        return state.phase === 'hanging-up' && originates <= MAX_HOPS;
      }),
    );
  });

  it('ignores events for a leg that is no longer current', () => {
    const ringing = run([{ type: 'dial', target: ext('1002') }]).state;
    expect(run([{ type: 'b-answered', legId: 'other' }], ringing).state).toEqual(ringing);
    expect(run([{ type: 'b-ended', legId: 'other', cause: 17 }], ringing).actions).toEqual([]);
  });
});
