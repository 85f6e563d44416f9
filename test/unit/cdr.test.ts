import { describe, expect, it } from 'vitest';
import { buildCdr, callEnding, cleanCallerText, dispositionOf, type CallEnd, type CallFacts } from '../../src/calls/cdr.js';

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
    [false, 21, 'FAILED'], // on the caller's channel: a number the caller may not dial
    [false, 18, 'NO ANSWER'],
    [false, 34, 'FAILED'],
    [false, 20, 'FAILED'],
    [false, 1, 'FAILED'],
    [false, 127, 'FAILED'],
  ] as const)('answered=%s cause=%s -> %s', (answered, cause, expected) => {
    expect(dispositionOf(answered, cause)).toBe(expected);
  });

  // One case per row of the table in docs/calls-and-routing.md#dispositions: the caller channel's
  // cause and, when the daemon dialed a leg that never connected, how that leg ended.
  const ended = (endedBy: CallEnd['endedBy'], cause: number | null, causeText: string | null, dialed: CallEnd['dialed'] = null): CallEnd => ({
    endedAt: end.endedAt, cause, causeText, endedBy, reconciled: false, dialed,
  });
  it.each([
    ['answered, either side hangs up', true, ended('caller', 16, 'Normal Clearing'), 'ANSWERED', 16],
    ['answered, the system hangs up', true, ended('system', 16, 'Normal Clearing', { cause: 17, causeText: 'User busy' }), 'ANSWERED', 16],
    ['the caller cancels while it rings (487, Asterisk says 127)', false, ended('caller', 127, 'Interworking, unspecified'), 'NO ANSWER', 16],
    ['the caller cancels, the dialed leg cancelled after it', false, ended('caller', 127, 'Interworking, unspecified', { cause: 16, causeText: 'Normal Clearing' }), 'NO ANSWER', 16],
    ['the callee is busy (486)', false, ended('system', 17, 'User busy', { cause: 17, causeText: 'User busy' }), 'BUSY', 17],
    ['the callee declines (603)', false, ended('system', 17, 'User busy', { cause: 21, causeText: 'Call Rejected' }), 'BUSY', 21],
    ['do not disturb (nothing dialed)', false, ended('system', 17, 'User busy'), 'BUSY', 17],
    ['ring timeout: the daemon cancels the leg', false, ended('system', 19, 'User alerting, no answer', { cause: 16, causeText: 'Normal Clearing' }), 'NO ANSWER', 19],
    ['ring timeout: Asterisk gives up on the leg with no cause', false, ended('system', 19, 'User alerting, no answer', { cause: 0, causeText: 'Unknown' }), 'NO ANSWER', 19],
    ['ring timeout: the leg says no answer', false, ended('system', 19, 'User alerting, no answer', { cause: 19, causeText: 'User alerting, no answer' }), 'NO ANSWER', 19],
    ['no response at all (408)', false, ended('system', 19, 'User alerting, no answer', { cause: 18, causeText: 'No user responding' }), 'NO ANSWER', 18],
    ['no route: nothing dialed', false, ended('system', 1, 'Unallocated (unassigned) number'), 'FAILED', 1],
    ['an outside number the caller may not dial (403)', false, ended('system', 21, 'Call Rejected'), 'FAILED', 21],
    ['the carrier is congested (503)', false, ended('system', 19, 'User alerting, no answer', { cause: 34, causeText: 'Circuit/channel congestion' }), 'FAILED', 34],
    ['the phone is not registered', false, ended('system', 1, 'Unallocated (unassigned) number', { cause: 20, causeText: 'Subscriber absent' }), 'FAILED', 20],
    ['ended unobserved (reconciled)', false, ended('unknown', null, null), 'NO ANSWER', null],
  ] as const)('%s', (_, answered, callEnd, disposition, cause) => {
    expect(callEnding(answered, callEnd)).toMatchObject({ disposition, cause });
  });

  it('the CDR row carries the ending: a cancelled call is NO ANSWER with cause 16, a declined one BUSY with 21', () => {
    const cancelled = buildCdr({ ...call, answeredAt: null }, { ...end, cause: 127, causeText: 'Interworking, unspecified', endedBy: 'caller' });
    expect(cancelled).toMatchObject({ disposition: 'NO ANSWER', hangup_cause: 16, hangup_cause_text: 'Normal Clearing', ended_by: 'caller' });
    const declined = buildCdr({ ...call, answeredAt: null }, { ...end, cause: 17, causeText: 'User busy', endedBy: 'system', dialed: { cause: 21, causeText: 'Call Rejected' } });
    expect(declined).toMatchObject({ disposition: 'BUSY', hangup_cause: 21, hangup_cause_text: 'Call Rejected' });
  });

  it('caps and strips caller-controlled text', () => {
    expect(cleanCallerText('x'.repeat(10_000))).toHaveLength(80);
    expect(cleanCallerText('Bob\r\nAction: Originate')).toBe('BobAction: Originate');
    expect(cleanCallerText('')).toBeNull();
    expect(cleanCallerText(undefined)).toBeNull();
  });
});

describe('CDR: who answered and where the time went (docs/calls-and-routing.md#cdrs)', () => {
  const at = (s: number) => new Date(call.startedAt.getTime() + s * 1000);

  it('a queue call: names the queue and the agent, waits until the agent answers, bills only the talk', () => {
    // The system answers the caller at once (music on hold); the agent answers after 3.5 s.
    const queued: CallFacts = { ...call, answeredAt: at(0.056), queue: 'support', party: { answeredBy: '2001', agent: '7001', connectedAt: at(3.5) } };
    const cdr = buildCdr(queued, { ...end, endedAt: at(9.9), endedBy: 'agent' });
    expect(cdr).toMatchObject({
      queue: 'support',
      agent: '7001',
      answered_by: '2001',
      wait_seconds: 3,
      talk_seconds: 6,
      billable_seconds: 6,
      duration_seconds: 9,
      ended_by: 'agent',
      disposition: 'ANSWERED',
    });
  });

  it('a caller who gives up in the queue: all wait, no talk, nobody answered', () => {
    const cdr = buildCdr({ ...call, answeredAt: at(0.05), queue: 'support' }, { ...end, endedAt: at(12.3), waiting: true });
    expect(cdr).toMatchObject({ queue: 'support', agent: null, answered_by: null, wait_seconds: 12, talk_seconds: 0, billable_seconds: 0, disposition: 'ANSWERED' });
  });

  it('a dialed (or forwarded) extension: answered_by is the number that answered, talk from its answer', () => {
    const cdr = buildCdr({ ...call, dialedNumber: '2002', answeredAt: at(4.2), party: { answeredBy: '2003', agent: null, connectedAt: at(4.2) } }, { ...end, endedAt: at(10.1), endedBy: 'callee' });
    expect(cdr).toMatchObject({ dialed_number: '2002', answered_by: '2003', agent: null, queue: null, wait_seconds: 4, talk_seconds: 5, billable_seconds: 5, ended_by: 'callee' });
  });

  it('an IVR flow that sends the caller to an extension: the time in the flow is wait', () => {
    const cdr = buildCdr({ ...call, answeredAt: at(0.1), party: { answeredBy: '2002', agent: null, connectedAt: at(7.5) } }, { ...end, endedAt: at(20) });
    expect(cdr).toMatchObject({ wait_seconds: 7, talk_seconds: 12, billable_seconds: 12 });
  });

  it('only the system answered (voicemail, a flow): talk from its answer, nobody named', () => {
    const cdr = buildCdr({ ...call, answeredAt: at(5) }, { ...end, endedAt: at(25.5) });
    expect(cdr).toMatchObject({ answered_by: null, agent: null, wait_seconds: 5, talk_seconds: 20, billable_seconds: 20 });
  });

  it('never answered: the whole call was wait', () => {
    const cdr = buildCdr({ ...call, answeredAt: null }, { ...end, endedAt: at(9.9) });
    expect(cdr).toMatchObject({ wait_seconds: 9, talk_seconds: 0, billable_seconds: 0, answered_by: null });
  });

  it('a party answer outside the call (clocks disagree) is kept within it', () => {
    const cdr = buildCdr({ ...call, party: { answeredBy: '2002', agent: null, connectedAt: at(30) } }, { ...end, endedAt: at(9.9) });
    expect(cdr).toMatchObject({ wait_seconds: 9, talk_seconds: 0 });
  });
});
