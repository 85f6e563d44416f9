/**
 * Every way an extension's call can end, and the disposition and hangup cause its CDR gets (the
 * table in docs/calls-and-routing.md#dispositions): real SIP calls from a SIPp desk phone through
 * the real Asterisk to a SIPp desk phone (or a SIPp carrier behind a trunk) that answers, rings,
 * refuses busy (486), declines (603), is not registered, or is congested (503).
 */
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { Daemon, eventually } from '../support/daemon.js';
import { Api, type Cdr } from '../support/api.js';
import { registerPhone, sippCall, startCarrier, startPhone } from '../support/sipp.js';
import { freePort } from '../support/ports.js';
import { apiClient, createScriptedExtension, startReadyDaemon } from '../support/pbx.js';
import { dtmfScenario } from '../support/sipp-dtmf.js';

const world = inject('e2e');
const CARRIER_IP = '127.0.0.2';
const CALLER = '3101';
const CALLEE = '3102';
const UNREGISTERED = '3103';
let daemon: Daemon;
let api: Api;
let admin: ReturnType<typeof apiClient>;
const passwords = new Map<string, string>();
let phonePort: number;
let carrierPort: number;
let trunkId: string;
let routeId: string;

type CdrWithText = Cdr & { hangupCauseText: string | null };

/** The callee's desk phone registers, then takes the next call as `behaviour` says. */
async function calleePhone(behaviour: Parameters<typeof startPhone>[0]) {
  const reg = await registerPhone({ sipPort: world.sipPort, ext: CALLEE, password: passwords.get(CALLEE)!, port: phonePort });
  expect(reg.code, reg.output).toBe(0);
  return startPhone(behaviour, phonePort, path.join(tmpdir(), `pbx-e2e-disposition-${behaviour}-${phonePort}.log`));
}

/** The caller's phone dials `to`; the CDR of that call. */
async function callAndCdr(
  to: string,
  scenario: 'uac-hangup-first' | 'uac-refused' | 'uac-cancel' | 'uac-long-call',
  set?: Record<string, string>,
  scenarioFile?: string,
): Promise<CdrWithText> {
  const since = new Date(Date.now() - 50);
  const res = await sippCall({ scenario, dialed: to, sipPort: world.sipPort, user: CALLER, password: passwords.get(CALLER)!, set, ...(scenarioFile ? { scenarioFile, timeoutS: 30 } : {}) });
  expect(res.code, res.output).toBe(0);
  const from = encodeURIComponent(since.toISOString());
  return eventually(async () => (await api.cdrs(`caller=${CALLER}&dialed=${to}&from=${from}&limit=1`))[0] as CdrWithText | undefined, 15_000, `CDR ${CALLER}->${to}`);
}

beforeAll(async () => {
  ({ daemon, api, admin } = await startReadyDaemon(world.daemonEnv));
  for (const [number, displayName] of [[CALLER, 'Dora Caller'], [CALLEE, 'Eli Callee'], [UNREGISTERED, 'Fay Away']] as const) {
    passwords.set(number, await createScriptedExtension(admin, world.db, { number, displayName, permissionClass: 'national' }));
  }
  phonePort = await freePort(true);
  carrierPort = await freePort(true);
  const trunk = await admin('POST', '/api/v1/trunks', { name: 'congested', kind: 'ip', host: CARRIER_IP, port: carrierPort, codecs: ['ulaw'] });
  expect(trunk.status, JSON.stringify(trunk.body)).toBe(201);
  trunkId = String(trunk.body.id);
  const route = await admin('POST', '/api/v1/outbound-routes', { name: 'congested carrier', pattern: '_0999X.', trunkId, requiredClass: 'national', priority: 1 });
  expect(route.status, JSON.stringify(route.body)).toBe(201);
  routeId = String(route.body.id ?? route.body.route?.id);
});

afterAll(async () => {
  // Leave no IP-identified trunk behind for other test files.
  await admin?.('DELETE', `/api/v1/outbound-routes/${routeId}`).catch(() => undefined);
  await admin?.('DELETE', `/api/v1/trunks/${trunkId}`).catch(() => undefined);
  await daemon?.stop();
});

describe('CDR dispositions: one row of the table each', () => {
  it('answered: ANSWERED, cause 16 (normal clearing)', async () => {
    const phone = await calleePhone('phone-answer');
    const cdr = await callAndCdr(CALLEE, 'uac-hangup-first', { hold_ms: '1000' });
    expect((await phone.done).code).toBe(0);
    expect(cdr).toMatchObject({ disposition: 'ANSWERED', hangupCause: 16, endedBy: 'caller', answeredBy: CALLEE });
    expect(cdr.answeredAt).not.toBeNull();
  });

  it('answered, and the callee hangs up first: ANSWERED, cause 16, ended by the callee', async () => {
    const phone = await calleePhone('phone-answer-hangup'); // answers, talks 4 s, hangs up
    const cdr = await callAndCdr(CALLEE, 'uac-long-call', undefined, await dtmfScenario([], { waitForBye: true }));
    expect((await phone.done).code).toBe(0);
    expect(cdr).toMatchObject({ disposition: 'ANSWERED', hangupCause: 16, endedBy: 'callee', answeredBy: CALLEE, agent: null, queue: null });
    expect(cdr.talkSeconds).toBeGreaterThanOrEqual(3);
    expect(cdr.billableSeconds).toBe(cdr.talkSeconds);
  });

  it('the caller cancels while the phone rings (CANCEL, 487): NO ANSWER, cause 16, ended by the caller', async () => {
    const phone = await calleePhone('phone-no-answer');
    const cdr = await callAndCdr(CALLEE, 'uac-cancel', { hold_ms: '1500' });
    expect((await phone.done).code).toBe(0); // the ringing phone got its CANCEL
    expect(cdr).toMatchObject({ disposition: 'NO ANSWER', hangupCause: 16, hangupCauseText: 'Normal Clearing', endedBy: 'caller', answeredAt: null, billableSeconds: 0 });
  });

  it('the callee is busy (486): BUSY, cause 17', async () => {
    const phone = await calleePhone('phone-busy');
    const cdr = await callAndCdr(CALLEE, 'uac-refused');
    expect((await phone.done).code).toBe(0);
    expect(cdr).toMatchObject({ disposition: 'BUSY', hangupCause: 17, endedBy: 'system', answeredAt: null });
  });

  it('the callee declines (603): BUSY, cause 21 (call rejected)', async () => {
    const phone = await calleePhone('phone-decline');
    const cdr = await callAndCdr(CALLEE, 'uac-refused');
    expect((await phone.done).code).toBe(0);
    expect(cdr).toMatchObject({ disposition: 'BUSY', hangupCause: 21, hangupCauseText: 'Call Rejected', endedBy: 'system', answeredAt: null });
  });

  it('nobody answers before the ring timeout: NO ANSWER, cause 19', async () => {
    expect((await admin('PATCH', `/api/v1/extensions/${CALLEE}`, { ringTimeoutSeconds: 5 })).status).toBe(200);
    const phone = await calleePhone('phone-no-answer');
    const cdr = await callAndCdr(CALLEE, 'uac-refused');
    expect((await phone.done).code).toBe(0); // the PBX cancelled the ringing phone
    expect(cdr).toMatchObject({ disposition: 'NO ANSWER', hangupCause: 19, endedBy: 'system', answeredAt: null });
    expect(cdr.durationSeconds).toBeGreaterThanOrEqual(4);
  });

  it('a registered phone that never responds (no 100, no 180) until the ring timeout: NO ANSWER, cause 19', async () => {
    // The ring timeout is still 5 s (previous row): far below SIP's 32 s INVITE transaction timeout.
    const phone = await calleePhone('phone-silent');
    try {
      const cdr = await callAndCdr(CALLEE, 'uac-refused');
      expect(cdr).toMatchObject({ disposition: 'NO ANSWER', hangupCause: 19, endedBy: 'system', answeredAt: null });
      expect(cdr.durationSeconds).toBeGreaterThanOrEqual(4);
    } finally {
      phone.kill();
    }
  });

  it('no route (a number that is nobody): FAILED, cause 1', async () => {
    const cdr = await callAndCdr('3199', 'uac-refused');
    expect(cdr).toMatchObject({ disposition: 'FAILED', hangupCause: 1, endedBy: 'system', answeredAt: null });
  });

  it('the carrier is congested (503): FAILED, cause 34', async () => {
    const carrier = await startCarrier(CARRIER_IP, carrierPort, path.join(tmpdir(), `pbx-e2e-congested-${carrierPort}.log`), 'uas-congested');
    const cdr = await callAndCdr('099912345', 'uac-refused');
    expect((await carrier.done).code).toBe(0);
    expect(cdr).toMatchObject({ disposition: 'FAILED', hangupCause: 34, endedBy: 'system', answeredAt: null });
  });

  it('the phone is not registered (unreachable): FAILED, cause 20 (subscriber absent)', async () => {
    const cdr = await callAndCdr(UNREGISTERED, 'uac-refused');
    expect(cdr).toMatchObject({ disposition: 'FAILED', hangupCause: 20, endedBy: 'system', answeredAt: null });
  });
});
