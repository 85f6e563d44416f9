/** A call session carrying out a blind transfer, against a fake Asterisk (CallControl). */
import { describe, expect, it, vi } from 'vitest';
import { pino } from 'pino';
import { CallSession, type SessionDeps } from '../../src/calls/session.js';
import type { CallControl } from '../../src/telephony/ari-types.js';
import type { DialTarget } from '../../src/calls/dial-flow.js';
import type { NewCdr } from '../../src/db/tables/cdrs.js';

const target = (number: string): DialTarget => ({
  number,
  endpoint: `PJSIP/${number}`,
  dnd: false,
  forwardAlways: null,
  forwardBusy: null,
  forwardNoAnswer: null,
  ringTimeoutSeconds: 20,
});

function setup() {
  const calls: string[] = [];
  const record =
    (name: string) =>
    async (...args: unknown[]): Promise<void> => {
      calls.push(`${name} ${args.map((a) => (typeof a === 'object' ? JSON.stringify(a) : String(a))).join(' ')}`);
    };
  const control = new Proxy({} as CallControl, { get: (_t, name: string) => record(name) });
  const cdrs: NewCdr[] = [];
  const legs = new Map<string, CallSession>();
  const rows: string[] = [];
  let t = Date.parse('2026-01-01T10:00:00Z');
  let leg = 0;
  const deps: SessionDeps = {
    control,
    store: { insert: async (f) => void rows.push(f.callId), update: async () => undefined },
    writeCdr: (cdr) => cdrs.push(cdr),
    settings: { greeting: 'hello', digitTimeoutMs: 5000, maxDigits: 10 },
    log: pino({ level: 'silent' }),
    now: () => new Date(t),
    route: async () => ({ route: { kind: 'extension', number: '1002' }, caller: { callerClass: null, callerIdNumber: null }, direction: 'internal' }),
    lookupTarget: async (n) => (n.startsWith('10') ? target(n) : n.startsWith('0') ? { ...target(n), endpoint: `PJSIP/${n}@trunk-main` } : null),
    legs: { register: (id, s) => legs.set(id, s), release: (id) => legs.delete(id) },
    onEnded: () => undefined,
    voicemail: {} as SessionDeps['voicemail'],
  };
  const session = new CallSession(
    'chan-a',
    'PJSIP/1001-00000001',
    { callId: 'call-1', direction: 'inbound', callerNumber: '1001', callerName: 'Anna Berg', dialedNumber: '1002', startedAt: new Date(t), answeredAt: null, digits: '' },
    deps,
  );
  const nextLeg = () => [...legs.keys()][leg++]!;
  return { session, calls, cdrs, legs, rows, advance: (ms: number) => (t += ms), nextLeg };
}

async function connected() {
  const s = setup();
  await s.session.enqueue({ type: 'stasis-start' });
  const legB = s.nextLeg();
  s.advance(2000);
  await s.session.enqueue({ type: 'b-answered', legId: legB });
  s.advance(10_000);
  return { ...s, legB };
}

describe('blind transfer in a call session', () => {
  it("B transfers A to C: B's part gets its CDR, C rings with A's caller id, answers, B is told and hung up", async () => {
    vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout'] });
    try {
      const s = await connected();
      s.calls.length = 0;
      await s.session.enqueue({ type: 'transfer', channelId: s.legB, destination: '1003', replaces: null });
      expect(s.cdrs).toHaveLength(1);
      expect(s.cdrs[0]).toMatchObject({ call_id: 'call-1', linked_id: 'call-1', dialed_number: '1002', disposition: 'ANSWERED', ended_by: 'transfer', billable_seconds: 10 });
      expect(s.session.callId).toBe('call-1-t1');
      expect(s.rows).toEqual(['call-1', 'call-1-t1']);
      expect(s.calls).toContain(`transferProgress ${s.legB} channel_progress`);
      expect(s.calls).toContain('destroyBridge call-1-bridge');
      expect(s.calls).toContain('startMoh chan-a');
      const originate = s.calls.find((c) => c.startsWith('originate'))!;
      expect(originate).toContain('"endpoint":"PJSIP/1003"');
      expect(originate).toContain('"callerId":"\\"Anna Berg\\" <1001>"');
      expect(s.calls.some((c) => c.startsWith('ring '))).toBe(false); // the caller is up: no ringing back

      const legC = s.nextLeg();
      s.advance(3000);
      s.calls.length = 0;
      await s.session.enqueue({ type: 'b-answered', legId: legC });
      expect(s.calls).not.toContain('answer chan-a'); // answered long ago
      expect(s.calls).toEqual(expect.arrayContaining(['stopMoh chan-a', 'createBridge call-1-t1-bridge', `addToBridge call-1-t1-bridge ["chan-a","${legC}"]`]));
      await vi.advanceTimersByTimeAsync(0);
      expect(s.calls).toContain(`transferProgress ${s.legB} channel_answered`);
      await vi.advanceTimersByTimeAsync(5000);
      expect(s.calls).toContain(`hangup ${s.legB}`);

      // B's phone hanging up no longer matters; A and C talk until A hangs up.
      await s.session.enqueue({ type: 'b-ended', legId: s.legB, cause: 16 });
      expect(s.calls.some((c) => c.startsWith('hangup chan-a'))).toBe(false);
      s.advance(20_000);
      await s.session.enqueue({ type: 'hangup-request', cause: 16 });
      await s.session.enqueue({ type: 'destroyed', cause: 16, causeText: 'Normal Clearing' });
      expect(s.cdrs[1]).toMatchObject({ call_id: 'call-1-t1', linked_id: 'call-1', dialed_number: '1003', caller_number: '1001', disposition: 'ANSWERED', ended_by: 'caller', billable_seconds: 20, duration_seconds: 23 });
    } finally {
      vi.useRealTimers();
    }
  });

  it('a transfer to an unknown number is declined and the call stays as it was', async () => {
    const s = await connected();
    s.calls.length = 0;
    await s.session.enqueue({ type: 'transfer', channelId: s.legB, destination: '999', replaces: null });
    expect(s.calls).toEqual([`transferProgress ${s.legB} channel_declined`]);
    expect(s.cdrs).toHaveLength(0);
    expect(s.session.callId).toBe('call-1');
  });

  it('a transfer to an outside number is declined (it would use the caller\'s permission class)', async () => {
    const s = await connected();
    s.calls.length = 0;
    await s.session.enqueue({ type: 'transfer', channelId: s.legB, destination: '0301234567', replaces: null });
    expect(s.calls).toEqual([`transferProgress ${s.legB} channel_declined`]);
  });

  it('attended transfers and transfers by the caller are declined', async () => {
    const s = await connected();
    s.calls.length = 0;
    await s.session.enqueue({ type: 'transfer', channelId: s.legB, destination: null, replaces: 'x@y' });
    await s.session.enqueue({ type: 'transfer', channelId: 'chan-a', destination: '1003', replaces: null });
    expect(s.calls).toEqual([`transferProgress ${s.legB} channel_declined`, 'transferProgress chan-a channel_declined']);
  });

  it('when the target is busy the transfer fails: B is told, A is let go with busy', async () => {
    vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout'] });
    try {
      const s = await connected();
      await s.session.enqueue({ type: 'transfer', channelId: s.legB, destination: '1003', replaces: null });
      const legC = s.nextLeg();
      s.calls.length = 0;
      await s.session.enqueue({ type: 'b-ended', legId: legC, cause: 17 });
      await vi.advanceTimersByTimeAsync(0);
      expect(s.calls).toEqual(expect.arrayContaining([`transferProgress ${s.legB} channel_declined`, 'hangup chan-a busy']));
      await s.session.enqueue({ type: 'destroyed', cause: 17, causeText: 'User busy' });
      expect(s.cdrs[1]).toMatchObject({ call_id: 'call-1-t1', linked_id: 'call-1', disposition: 'BUSY', answered_at: null });
    } finally {
      vi.useRealTimers();
    }
  });
});
