import { describe, expect, it } from 'vitest';
import type { DialTarget } from '../../src/calls/dial-flow.js';
import { decideRoute } from '../../src/calls/router.js';

import { ext as plainExt, run } from '../support/dial-harness.js';

/** Extensions here take messages unless a test says otherwise. */
const ext = (number: string, over: Partial<DialTarget> = {}): DialTarget => plainExt(number, { voicemail: true, ...over });

describe('dial flow: voicemail when the call does not connect', () => {
  it.each([
    [17, 'busy'],
    [19, 'no-answer'],
    [20, 'unreachable'],
  ] as const)('cause %i (%s) with a mailbox -> voicemail instead of hanging up', (cause, why) => {
    const ringing = run([{ type: 'dial', target: ext('1002') }]).state;
    const ended = run([{ type: 'b-ended', legId: ringing.legId!, cause }, { type: 'no-connect', why, target: ext('1002') }], ringing);
    expect(ended.actions.at(-1)).toEqual({ kind: 'voicemail', mailbox: '1002', why });
    expect(ended.state).toMatchObject({ phase: 'voicemail', outcome: 'voicemail', legId: null });
    // late dial events change nothing; the caller hanging up ends it
    expect(run([{ type: 'ring-timeout', legId: ringing.legId! }, { type: 'b-answered', legId: ringing.legId! }], ended.state).actions).toEqual([]);
    expect(run([{ type: 'a-ended' }], ended.state).state.phase).toBe('ended');
  });

  it('a forward wins over voicemail; without a mailbox the caller is refused as before', () => {
    const ringing = run([{ type: 'dial', target: ext('1002') }]).state;
    const fwd = run([{ type: 'b-ended', legId: ringing.legId!, cause: 19 }, { type: 'no-connect', why: 'no-answer', target: ext('1002', { forwardNoAnswer: '1003' }) }], ringing);
    expect(fwd.actions.at(-1)).toEqual({ kind: 'lookup', number: '1003' });
    const none = run([{ type: 'b-ended', legId: ringing.legId!, cause: 19 }, { type: 'no-connect', why: 'no-answer', target: ext('1002', { voicemail: false }) }], ringing);
    expect(none.actions.at(-1)).toEqual({ kind: 'hangup-caller', reason: 'no_answer' });
    const deleted = run([{ type: 'b-ended', legId: ringing.legId!, cause: 19 }, { type: 'no-connect', why: 'no-answer', target: null }], ringing);
    expect(deleted.actions.at(-1)).toEqual({ kind: 'hangup-caller', reason: 'no_answer' });
  });

  it('do-not-disturb goes to voicemail (forward-on-busy first)', () => {
    expect(run([{ type: 'dial', target: ext('1002', { dnd: true }) }]).actions).toEqual([{ kind: 'voicemail', mailbox: '1002', why: 'busy' }]);
    expect(run([{ type: 'dial', target: ext('1002', { dnd: true, forwardBusy: '1003' }) }]).actions).toEqual([{ kind: 'lookup', number: '1003' }]);
  });

  it('a forwarded call reaches the mailbox of the last extension tried', () => {
    const first = run([{ type: 'dial', target: ext('1002', { forwardAlways: '1003' }) }]);
    const second = run([{ type: 'dial', target: ext('1003') }], first.state);
    const vm = run([{ type: 'b-ended', legId: second.state.legId!, cause: 17 }, { type: 'no-connect', why: 'busy', target: ext('1003') }], second.state);
    expect(vm.actions.at(-1)).toEqual({ kind: 'voicemail', mailbox: '1003', why: 'busy' });
  });
});

describe('router: *97', () => {
  const isExt = (x: string) => x === '1002';
  it('an extension dialing *97 reaches its own mailbox; others are refused', () => {
    expect(decideRoute({ kind: 'extension', number: '1001' }, '*97', isExt)).toEqual({ kind: 'voicemail', mailbox: '1001' });
    expect(decideRoute({ kind: 'other', endpoint: 'x' }, '*97', isExt)).toEqual({ kind: 'refuse', reason: 'not-permitted' });
    expect(decideRoute({ kind: 'trunk', name: 't' }, '*97', isExt)).toEqual({ kind: 'inbound', did: '*97' });
    expect(decideRoute({ kind: 'extension', number: '1001' }, '*971', isExt)).toEqual({ kind: 'outbound', dialed: '*971' });
  });
});
