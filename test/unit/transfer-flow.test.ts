import { describe, expect, it } from 'vitest';
import {
  decideTransfer,
  failureProgress,
  joinedPartFacts,
  nextPartFacts,
  planAttendedTransfer,
  transferDialState,
  type TransferSide,
} from '../../src/calls/transfer.js';
import { dialTransition, initialDialState, type DialState } from '../../src/calls/dial-flow.js';
import type { CallFacts } from '../../src/calls/cdr.js';

const bridged: DialState = { ...initialDialState, phase: 'bridged', tried: ['1002'], current: '1002', legId: 'leg-b', answered: true, outcome: 'connected' };
const req = (o: Partial<{ channelId: string; destination: string | null; replaces: string | null }> = {}) => ({
  channelId: 'leg-b',
  destination: '1003',
  replaces: null,
  ...o,
});

describe('decideTransfer', () => {
  it('the connected dialed leg may blind-transfer the caller', () => {
    expect(decideTransfer(bridged, 'chan-a', req())).toEqual({ kind: 'blind', transfererLeg: 'leg-b', destination: '1003' });
  });

  it('declines attended transfers, calls not connected, the caller side, other channels and odd destinations', () => {
    expect(decideTransfer(bridged, 'chan-a', req({ replaces: 'abc@host' }))).toMatchObject({ kind: 'decline', why: 'attended' });
    expect(decideTransfer({ ...bridged, phase: 'ringing' }, 'chan-a', req())).toMatchObject({ why: 'not-connected' });
    expect(decideTransfer(bridged, 'chan-a', req({ channelId: 'chan-a' }))).toMatchObject({ why: 'caller-transfer' });
    expect(decideTransfer(bridged, 'chan-a', req({ channelId: 'leg-old' }))).toMatchObject({ why: 'not-connected' });
    for (const destination of [null, '', 'sip:x', '1003;x', '1'.repeat(40)]) {
      expect(decideTransfer(bridged, 'chan-a', req({ destination }))).toMatchObject({ why: 'no-destination' });
    }
  });
});

const first: CallFacts = {
  callId: '1700000000.1',
  direction: 'internal',
  callerNumber: '1001',
  callerName: 'Anna Berg',
  dialedNumber: '1002',
  startedAt: new Date('2026-01-01T10:00:00Z'),
  answeredAt: new Date('2026-01-01T10:00:02Z'),
  digits: '',
};

describe('the call after a transfer', () => {
  it('is a new part with its own id, the same caller, linked to the first part', () => {
    const at = new Date('2026-01-01T10:01:00Z');
    const second = nextPartFacts(first, 1, '1003', at);
    expect(second).toEqual({ ...first, callId: '1700000000.1-t1', linkedId: '1700000000.1', dialedNumber: '1003', startedAt: at, answeredAt: null });
    // A second transfer still links to the first part.
    expect(nextPartFacts(second, 2, '1004', at)).toMatchObject({ callId: '1700000000.1-t2', linkedId: '1700000000.1' });
  });

  it('rings the target without ringing back to the (answered) caller, and never forwards back to the transferer', () => {
    const start = transferDialState(bridged);
    expect(start).toMatchObject({ phase: 'routing', tried: ['1002'], legId: null, answered: false });
    const target = { number: '1003', endpoint: 'PJSIP/1003', dnd: false, forwardAlways: null, forwardBusy: null, forwardNoAnswer: '1002', ringTimeoutSeconds: 20 };
    const ring = dialTransition(start, { type: 'dial', target }, () => 'leg-c');
    expect(ring.actions).toEqual([{ kind: 'originate', legId: 'leg-c', number: '1003', endpoint: 'PJSIP/1003', timeoutSeconds: 20 }]);
    const back = dialTransition(ring.state, { type: 'dial', target: { ...target, number: '1002', endpoint: 'PJSIP/1002' } }, () => 'x');
    expect(back.state.outcome).toBe('loop');
  });

  it('tells the transferring phone busy as declined, anything else as unavailable', () => {
    expect(failureProgress('busy')).toBe('channel_declined');
    expect(failureProgress('no_answer')).toBe('channel_unavailable');
    expect(failureProgress('unallocated')).toBe('channel_unavailable');
  });
});

describe('planAttendedTransfer', () => {
  const side = (leaving: string, remaining: string, remainingIsCaller: boolean): TransferSide => ({
    leaving,
    remaining,
    remainingIsCaller,
    number: remaining.toUpperCase(),
    name: null,
    linkedId: `${leaving}-call`,
  });

  it('keeps the call whose remaining party is its caller, preferring the REFER\'s own call', () => {
    expect(planAttendedTransfer(side('b1', 'a', true), side('b2', 'c', false))).toEqual({ kind: 'join', survivor: 'referrer' });
    expect(planAttendedTransfer(side('b1', 'a', false), side('b2', 'c', true))).toEqual({ kind: 'join', survivor: 'replaced' });
    expect(planAttendedTransfer(side('b1', 'a', true), side('b2', 'c', true))).toEqual({ kind: 'join', survivor: 'referrer' });
    // B placed both calls: the REFER's call survives (its remaining party becomes the caller).
    expect(planAttendedTransfer(side('b1', 'a', false), side('b2', 'c', false))).toEqual({ kind: 'join', survivor: 'referrer' });
  });

  it('declines when either call is not connected or both are the same call', () => {
    expect(planAttendedTransfer(null, side('b2', 'c', false))).toEqual({ kind: 'decline', why: 'referrer-not-connected' });
    expect(planAttendedTransfer(side('b1', 'a', true), null)).toEqual({ kind: 'decline', why: 'replaced-not-connected' });
    expect(planAttendedTransfer(side('b1', 'a', true), side('b1', 'a', true))).toEqual({ kind: 'decline', why: 'same-call' });
  });

  it('the joined part: answered now, linked to the first part, the joined party as dialed number', () => {
    const now = new Date('2026-01-01T10:05:00Z');
    const current: CallFacts = { ...first, callId: 'call-1-t1', linkedId: 'call-1' };
    const kept = side('b1', 'a', true);
    const joined = side('b2', 'c', false);
    expect(joinedPartFacts(current, 2, kept, joined, now)).toMatchObject({
      callId: 'call-1-t2',
      linkedId: 'call-1',
      callerNumber: current.callerNumber,
      dialedNumber: 'C',
      answeredAt: now,
      startedAt: now,
    });
    // The transferring phone was the caller: the party it had called is the caller now.
    expect(joinedPartFacts(current, 2, side('b1', 'a', false), joined, now)).toMatchObject({ callerNumber: 'A', callerName: null, dialedNumber: 'C' });
  });
});
