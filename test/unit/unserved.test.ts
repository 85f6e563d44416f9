import { describe, expect, it } from 'vitest';
import { UNSERVED_TEXT, unservedCdr } from '../../src/calls/unserved.js';
import type { UnservedCallRow } from '../../src/calls/tables.js';

const started = new Date('2026-11-23T09:00:00.000Z');
const row = (over: Partial<UnservedCallRow> = {}): UnservedCallRow => ({
  uniqueid: '1763888400.42',
  channel: 'PJSIP/trunk-carrier-0000002a',
  caller: '+4930123456',
  dialed: '4930555100',
  cause: '41',
  started_at: started,
  ended_at: new Date(started.getTime() + 4_700),
  ...over,
});

describe('unserved calls', () => {
  it('a call the fallback hung up: FAILED, never answered, ended by the system, with its times', () => {
    expect(unservedCdr(row(), false)).toMatchObject({
      call_id: '1763888400.42',
      linked_id: '1763888400.42',
      direction: 'inbound',
      caller_number: '+4930123456',
      dialed_number: '4930555100',
      answered_at: null,
      duration_seconds: 4,
      billable_seconds: 0,
      hangup_cause: 41,
      hangup_cause_text: UNSERVED_TEXT,
      disposition: 'FAILED',
      ended_by: 'system',
      reconciled: true,
    });
  });

  it('a caller who hung up during the prompt ended it; a phone of ours makes it internal', () => {
    const cdr = unservedCdr(row({ channel: 'PJSIP/201-00000001', cause: '16' }), true);
    expect(cdr).toMatchObject({ direction: 'internal', ended_by: 'caller', hangup_cause: 16, disposition: 'FAILED' });
  });

  it('a row that never got its end (Asterisk stopped): ends when it started, ended by unknown', () => {
    const cdr = unservedCdr(row({ cause: null, ended_at: null }), false);
    expect(cdr).toMatchObject({ ended_by: 'unknown', hangup_cause: null, duration_seconds: 0, disposition: 'FAILED' });
    expect(cdr.ended_at).toEqual(started);
  });

  it('an empty cause (Asterisk had none) is no cause; caller text is cleaned', () => {
    const cdr = unservedCdr(row({ cause: '', caller: '', dialed: '12\u0007' }), false);
    expect(cdr).toMatchObject({ hangup_cause: null, ended_by: 'unknown', caller_number: null, dialed_number: '12' });
  });
});
