import { describe, expect, it } from 'vitest';
import { buildCdr, cleanCallerText, dispositionOf, type CallFacts } from '../../src/calls/cdr.js';

const call: CallFacts = {
  callId: '1700000000.1',
  direction: 'inbound',
  callerNumber: '1001',
  callerName: 'Desk',
  dialedNumber: '500',
  startedAt: new Date('2026-11-23T10:00:00.000Z'),
  answeredAt: new Date('2026-11-23T10:00:01.400Z'),
  digits: '123',
};
const end = { endedAt: new Date('2026-11-23T10:00:09.900Z'), cause: 16, causeText: 'Normal Clearing', endedBy: 'caller' as const, reconciled: false };

describe('CDR', () => {
  it('computes duration from start and billable seconds from answer', () => {
    const cdr = buildCdr(call, end);
    expect(cdr).toMatchObject({ duration_seconds: 9, billable_seconds: 8, disposition: 'ANSWERED', hangup_cause: 16, digits: '123' });
  });

  it('unanswered calls bill nothing', () => {
    const cdr = buildCdr({ ...call, answeredAt: null }, end);
    expect(cdr).toMatchObject({ billable_seconds: 0, disposition: 'NO ANSWER', answered_at: null });
  });

  it('never produces negative times when clocks disagree', () => {
    const cdr = buildCdr({ ...call, answeredAt: new Date('2026-11-23T10:00:20Z') }, { ...end, endedAt: new Date('2026-11-23T09:59:00Z') });
    expect(cdr.duration_seconds).toBe(0);
    expect(cdr.billable_seconds).toBe(0);
  });

  it.each([
    [true, 17, 'ANSWERED'],
    [false, 17, 'BUSY'],
    [false, 19, 'NO ANSWER'],
    [false, 16, 'NO ANSWER'],
    [false, null, 'NO ANSWER'],
    [false, 34, 'FAILED'],
    [false, 1, 'FAILED'],
  ] as const)('answered=%s cause=%s -> %s', (answered, cause, expected) => {
    expect(dispositionOf(answered, cause)).toBe(expected);
  });

  it('caps and strips caller-controlled text', () => {
    expect(cleanCallerText('x'.repeat(10_000))).toHaveLength(80);
    expect(cleanCallerText('Bob\r\nAction: Originate')).toBe('BobAction: Originate');
    expect(cleanCallerText('')).toBeNull();
    expect(cleanCallerText(undefined)).toBeNull();
  });
});
