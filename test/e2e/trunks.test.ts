/**
 * Outside calls end to end: a trunk to a carrier (SIPp on 127.0.0.2, IP-identified), outbound
 * routes with permission classes, and an inbound DID routed to an extension's desk phone.
 */
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { readFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { Daemon, eventually } from '../support/daemon.js';
import { Api, type Cdr } from '../support/api.js';
import { registerPhone, sippCall, startCarrier, startPhone } from '../support/sipp.js';
import { freePort } from '../support/ports.js';
import { apiClient, createScriptedExtension, startReadyDaemon } from '../support/pbx.js';

const world = inject('e2e');
const CARRIER_IP = '127.0.0.2';
let daemon: Daemon;
let api: Api;
let admin: ReturnType<typeof apiClient>;
let carrierPort: number;
let trunkId: string;
const passwords = new Map<string, string>();

async function cdrSince(since: Date, dialed: string): Promise<Cdr> {
  const from = encodeURIComponent(since.toISOString());
  return eventually(async () => (await api.cdrs(`dialed=${encodeURIComponent(dialed)}&from=${from}&limit=1`))[0], 15_000, `CDR ${dialed}`);
}

const call = (from: string, dialed: string, scenario: 'uac-hangup-first' | 'uac-refused') =>
  sippCall({ scenario, dialed, sipPort: world.sipPort, user: from, password: passwords.get(from)!, set: scenario === 'uac-hangup-first' ? { hold_ms: '1500' } : undefined });

beforeAll(async () => {
  ({ daemon, api, admin } = await startReadyDaemon(world.daemonEnv));
  for (const [number, displayName, permissionClass] of [['2001', 'Nat Ional', 'national'], ['2002', 'Lobby Phone', 'internal'], ['2003', 'Reception', 'national']] as const) {
    passwords.set(number, await createScriptedExtension(admin, world.db, { number, displayName, permissionClass, callerIdNumber: '4930555' + number }));
  }
  carrierPort = await freePort(true);
  const trunk = await admin('POST', '/api/v1/trunks', { name: 'carrier', kind: 'ip', host: CARRIER_IP, port: carrierPort, codecs: ['ulaw'] });
  expect(trunk.status, JSON.stringify(trunk.body)).toBe(201);
  trunkId = trunk.body.id;
  const intl = await admin('POST', '/api/v1/outbound-routes', { name: 'international', pattern: '_00X.', trunkId, requiredClass: 'international', priority: 10 });
  expect(intl.status, JSON.stringify(intl.body)).toBe(201);
  const national = await admin('POST', '/api/v1/outbound-routes', { name: 'national', pattern: '_0ZX.', trunkId, requiredClass: 'national', priority: 20 });
  expect(national.status, JSON.stringify(national.body)).toBe(201);
  const did = await admin('POST', '/api/v1/inbound-routes', { name: 'main number', didPattern: '4930555000', target: { kind: 'extension', number: '2003' } });
  expect(did.status, JSON.stringify(did.body)).toBe(201);
});

afterAll(async () => {
  // Leave no IP-identified trunk behind for other test files.
  await admin('DELETE', `/api/v1/inbound-routes/${(await admin('GET', '/api/v1/inbound-routes')).body.items?.[0]?.id ?? 0}`).catch(() => undefined);
  await daemon?.stop();
});

describe('trunks and outside calls', () => {
  it('a national call goes out through the trunk to the carrier, with the external caller id', async () => {
    const logFile = path.join(tmpdir(), `pbx-e2e-carrier-${carrierPort}.log`);
    const carrier = await startCarrier(CARRIER_IP, carrierPort, logFile); // listening once it resolves
    const since = new Date();
    const res = await call('2001', '030123456', 'uac-hangup-first');
    expect(res.code, res.output).toBe(0);
    expect((await carrier.done).code).toBe(0);
    expect(await readFile(logFile, 'utf8')).toContain('dialed 030123456 from 49305552001');
    expect(await cdrSince(since, '030123456')).toMatchObject({ direction: 'outbound', disposition: 'ANSWERED', callerNumber: '2001' });
  });

  it('an international number is refused for a national extension, and anything outside for an internal one', async () => {
    const since = new Date();
    expect((await call('2001', '0044201234567', 'uac-refused')).code).toBe(0);
    expect(await cdrSince(since, '0044201234567')).toMatchObject({ disposition: 'FAILED', answeredAt: null });
    expect((await call('2002', '030123456', 'uac-refused')).code).toBe(0);
  });

  it('a trunk at its channel limit refuses the next outside call', async () => {
    expect((await admin('PATCH', `/api/v1/trunks/${trunkId}`, { maxChannels: 1 })).status).toBe(200);
    const logFile = path.join(tmpdir(), `pbx-e2e-carrier-limit-${carrierPort}.log`);
    const carrier = await startCarrier(CARRIER_IP, carrierPort, logFile); // listening once it resolves
    const first = sippCall({ scenario: 'uac-hangup-first', dialed: '030111111', sipPort: world.sipPort, user: '2001', password: passwords.get('2001')!, set: { hold_ms: '4000' } });
    await eventually(async () => {
      const live = await api.get<{ items: { dialedNumber: string; answeredAt: string | null }[] }>('/api/v1/calls/live');
      return live.body.items.find((c) => c.dialedNumber === '030111111' && c.answeredAt) ? true : undefined;
    }, 10_000, 'first outside call up');
    const since = new Date();
    expect((await call('2001', '030222222', 'uac-refused')).code).toBe(0);
    expect(await cdrSince(since, '030222222')).toMatchObject({ disposition: 'FAILED', answeredAt: null });
    expect((await first).code).toBe(0);
    expect((await carrier.done).code).toBe(0);
    // Refused by the daemon, not by the carrier: the second number never reached it.
    const carrierLog = await readFile(logFile, 'utf8');
    expect(carrierLog).toContain('dialed 030111111');
    expect(carrierLog).not.toContain('030222222');
    expect((await admin('PATCH', `/api/v1/trunks/${trunkId}`, { maxChannels: 10 })).status).toBe(200);
  });

  it('an emergency number still goes out on a full trunk, over its limit, and the site is told (log, audit)', async () => {
    const route = await admin('POST', '/api/v1/outbound-routes', { name: 'emergency', pattern: '112', trunkId, requiredClass: 'national', priority: 5 });
    expect(route.status, JSON.stringify(route.body)).toBe(201);
    expect((await admin('PATCH', `/api/v1/trunks/${trunkId}`, { maxChannels: 1 })).status).toBe(200);
    const logFile = path.join(tmpdir(), `pbx-e2e-carrier-emergency-${carrierPort}.log`);
    const carrier = await startCarrier(CARRIER_IP, carrierPort, logFile); // listening once it resolves
    const first = sippCall({ scenario: 'uac-hangup-first', dialed: '030333333', sipPort: world.sipPort, user: '2001', password: passwords.get('2001')!, set: { hold_ms: '5000' } });
    await eventually(async () => {
      const live = await api.get<{ items: { dialedNumber: string; answeredAt: string | null }[] }>('/api/v1/calls/live');
      return live.body.items.find((c) => c.dialedNumber === '030333333' && c.answeredAt) ? true : undefined;
    }, 10_000, 'first outside call up');
    const since = new Date();
    // The lobby phone (internal class) dials 112 while the trunk's one channel is taken.
    const emergency = await call('2002', '112', 'uac-hangup-first');
    expect(emergency.code, emergency.output).toBe(0);
    expect(await cdrSince(since, '112')).toMatchObject({ direction: 'outbound', disposition: 'ANSWERED', callerNumber: '2002' });
    expect((await first).code).toBe(0);
    expect((await carrier.done).code).toBe(0);
    expect(await readFile(logFile, 'utf8')).toContain('dialed 112 from 49305552002');
    const warned = await daemon.waitForLog((l) => typeof l.msg === 'string' && l.msg.startsWith('emergency call placed over'), 5_000);
    expect(warned).toMatchObject({ level: 50, dialed: '112', trunk: 'carrier', maxChannels: 1 });
    const audit = await eventually(async () => {
      const items = (await admin('GET', '/api/v1/audit?limit=20')).body.items as { action: string; entityId: string; actor: string; details: Record<string, unknown> }[];
      return items.find((a) => a.action === 'call.emergency-over-capacity');
    }, 5_000, 'audit row of the emergency call');
    expect(audit).toMatchObject({ entityId: trunkId, actor: 'calls', details: { dialed: '112', number: '112', trunk: 'carrier', maxChannels: 1, callerIdNumber: '49305552002' } });
    expect((await admin('PATCH', `/api/v1/trunks/${trunkId}`, { maxChannels: 10 })).status).toBe(200);
    expect((await admin('DELETE', `/api/v1/outbound-routes/${route.body.id}`)).status).toBeLessThan(300);
  });

  it('an inbound call to the main number (DID) rings the reception desk phone', async () => {
    const port = await freePort(true);
    expect((await registerPhone({ sipPort: world.sipPort, ext: '2003', password: passwords.get('2003')!, port })).code).toBe(0);
    const logFile = path.join(tmpdir(), `pbx-e2e-phone-2003-${port}.log`);
    const phone = await startPhone('phone-answer', port, logFile);
    const since = new Date();
    // The carrier calls in from its own address: no digest, identified by IP as trunk-carrier.
    const res = await sippCall({ scenario: 'uac-hangup-first', dialed: '4930555000', sipPort: world.sipPort, user: '4930111222', password: 'unused', localIp: CARRIER_IP, set: { hold_ms: '1500' } });
    expect(res.code, res.output).toBe(0);
    expect((await phone.done).code).toBe(0);
    expect(await cdrSince(since, '4930555000')).toMatchObject({ direction: 'inbound', disposition: 'ANSWERED' });
  });

  it('a DID nobody routes is refused', async () => {
    const res = await sippCall({ scenario: 'uac-refused', dialed: '4930555999', sipPort: world.sipPort, user: '4930111222', password: 'unused', localIp: CARRIER_IP });
    expect(res.code, res.output).toBe(0);
  });
});
