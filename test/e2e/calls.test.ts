/**
 * Real SIP calls (SIPp, RFC 4733 DTMF) into a real Asterisk 22, driving the real daemon,
 * which writes CDRs to a real Postgres. Assertions go through the public API.
 */
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { Daemon, eventually } from '../support/daemon.js';
import { Api, cliToken, type Cdr } from '../support/api.js';
import { sippCall } from '../support/sipp.js';

const world = inject('e2e');
let daemon: Daemon;
let api: Api;

const call = (scenario: Parameters<typeof sippCall>[0]['scenario'], dialed: string, set?: Record<string, string>) =>
  sippCall({ scenario, dialed, sipPort: world.sipPort, user: world.phone.id, password: world.phone.password, set });

async function oneCdr(dialed: string): Promise<Cdr> {
  return eventually(async () => {
    const items = await api.cdrs(`dialed=${encodeURIComponent(dialed)}`);
    if (items.length > 1) throw new Error(`${items.length} CDRs for ${dialed}`);
    return items[0];
  }, 15_000, `CDR for ${dialed}`);
}

beforeAll(async () => {
  daemon = Daemon.start(world.daemonEnv);
  api = Api.for(world.daemonEnv, await cliToken(world.daemonEnv, 'viewer'));
  await eventually(async () => ((await api.ready()) === 200 ? true : undefined), 30_000, 'daemon ready');
});

afterAll(async () => {
  expect(await daemon?.stop()).toBe(0);
});

describe('calls through real Asterisk', () => {
  it('answers, plays the greeting, collects RFC 4733 digits, hangs up on # and writes one CDR', async () => {
    const sipp = await call('uac-dtmf-wait-bye', '*99500');
    expect(sipp.code, sipp.output).toBe(0);
    const cdr = await oneCdr('*99500');
    expect(cdr).toMatchObject({
      callerNumber: world.phone.number,
      callerName: world.phone.name,
      dialedNumber: '*99500',
      digits: '123',
      disposition: 'ANSWERED',
      endedBy: 'system',
      hangupCause: 16,
      reconciled: false,
    });
    expect(cdr.answeredAt).not.toBeNull();
    expect(cdr.billableSeconds).toBeGreaterThanOrEqual(1);
    expect(cdr.durationSeconds).toBeGreaterThanOrEqual(cdr.billableSeconds);
    // The daemon logs with the call id.
    expect(daemon.logs.some((l) => l['callId'] === cdr.callId && l.msg === 'call ended')).toBe(true);
  });

  it('writes the CDR when the caller hangs up first', async () => {
    const sipp = await call('uac-hangup-first', '*99501', { hold_ms: '1500' });
    expect(sipp.code, sipp.output).toBe(0);
    const cdr = await oneCdr('*99501');
    expect(cdr).toMatchObject({ disposition: 'ANSWERED', endedBy: 'caller', digits: '', reconciled: false });
    expect(cdr.hangupCause).toBe(16);
  });

  it('refuses a number it cannot route before answering (404) and still writes a FAILED CDR', async () => {
    const sipp = await call('uac-refused', 'abc');
    expect(sipp.code, sipp.output).toBe(0);
    const cdr = await oneCdr('abc');
    expect(cdr).toMatchObject({ disposition: 'FAILED', answeredAt: null, billableSeconds: 0, hangupCause: 1, endedBy: 'system' });
  });

  it('shows a call in progress under /calls/live, then not after it ends', async () => {
    const running = call('uac-long-call', '*99502');
    const live = await eventually(async () => {
      const res = await api.get<{ items: { dialedNumber: string; callerNumber: string; state: string }[] }>('/api/v1/calls/live');
      return res.body.items.find((c) => c.dialedNumber === '*99502');
    }, 15_000, 'live call 502');
    expect(live.callerNumber).toBe(world.phone.number);
    // No digits: the digit timer (3 s in tests) ends the call.
    const sipp = await running;
    expect(sipp.code, sipp.output).toBe(0);
    const cdr = await oneCdr('*99502');
    expect(cdr).toMatchObject({ endedBy: 'system', digits: '', disposition: 'ANSWERED' });
    const after = await api.get<{ items: { dialedNumber: string }[] }>('/api/v1/calls/live');
    expect(after.body.items.find((c) => c.dialedNumber === '*99502')).toBeUndefined();
  });
});
