/**
 * Recording policy fields in the API (docs/recording.md#policy), real app and Postgres: a queue's
 * policy, sample share and announcement; an extension's and a trunk's policy; bad values are 400
 * naming the field; the live call recording routes answer 404 call-not-found for a call this
 * daemon does not have. An inbound and an outbound route's policy: in the API, and read for a
 * call by the route it takes (recording-lookup.ts). What the call core makes of the policies is tested in
 * test/unit/recording-policy.test.ts and test/e2e/recording.test.ts.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { App } from '../../src/app.js';
import { AuthService, CLI_ACTOR } from '../../src/auth/service.js';
import { recordingLookup } from '../../src/calls/recording-lookup.js';
import { startTestApp } from '../support/app.js';

let app: App;
let admin = '';
let supervisor = '';
const req = (method: 'GET' | 'POST' | 'PATCH', url: string, body?: unknown, token = admin) =>
  app.http.inject({ method, url: `/api/v1${url}`, headers: { authorization: `Bearer ${token}` }, ...(body === undefined ? {} : { payload: body as object }) });

beforeAll(async () => {
  app = await startTestApp();
  const auth = new AuthService(app.db);
  admin = (await auth.createToken(CLI_ACTOR, { username: 'it-recpol-admin', name: 'recording policy test', ttlDays: 1, ensureRole: 'admin' })).token;
  supervisor = (await auth.createToken(CLI_ACTOR, { username: 'it-recpol-sup', name: 'recording policy test', ttlDays: 1, ensureRole: 'supervisor' })).token;
});

afterAll(async () => {
  await app?.stop();
});

describe('recording policy in the API', () => {
  it('a queue: policy, sample and announcement are kept and shown; bad values are 400 naming the field', async () => {
    const created = await req('POST', '/queues', { name: 'it-recpol-q', recordingPolicy: 'always', recordingSamplePercent: 20, recordingAnnouncement: { text: 'This call may be recorded.', language: 'en' } });
    expect(created.statusCode, created.body).toBe(201);
    expect(created.json()).toMatchObject({ recordingPolicy: 'always', recordingSamplePercent: 20, recordingAnnouncement: { text: 'This call may be recorded.', language: 'en' } });
    const patched = await req('PATCH', '/queues/it-recpol-q', { recordingPolicy: null, recordingAnnouncement: { prompt: 'notice-1' } });
    expect(patched.statusCode, patched.body).toBe(200);
    expect(patched.json()).toMatchObject({ recordingPolicy: null, recordingSamplePercent: 20, recordingAnnouncement: { prompt: 'notice-1' } });
    for (const [body, field] of [
      [{ recordingPolicy: 'sometimes' }, 'recordingPolicy'],
      [{ recordingSamplePercent: 0 }, 'recordingSamplePercent'],
      [{ recordingSamplePercent: 101 }, 'recordingSamplePercent'],
      [{ recordingAnnouncement: { text: '' } }, 'recordingAnnouncement'],
    ] as const) {
      const bad = await req('PATCH', '/queues/it-recpol-q', body);
      expect(bad.statusCode, bad.body).toBe(400);
      expect(bad.body).toContain(field);
    }
  });

  it('an extension and a trunk: policy kept and shown (null by default); a bad one is 400', async () => {
    expect((await req('POST', '/extensions', { number: '7791', displayName: 'Rec Policy' })).statusCode).toBe(201);
    expect((await req('GET', '/extensions/7791')).json().recordingPolicy).toBeNull();
    const ext = await req('PATCH', '/extensions/7791', { recordingPolicy: 'never' });
    expect(ext.statusCode, ext.body).toBe(200);
    expect(ext.json().recordingPolicy).toBe('never');
    const badExt = await req('PATCH', '/extensions/7791', { recordingPolicy: 'maybe' });
    expect(badExt.statusCode).toBe(400);
    expect(badExt.body).toContain('recordingPolicy');

    const trunk = await req('POST', '/trunks', { name: 'it-recpol', kind: 'ip', host: '192.0.2.10' });
    expect(trunk.statusCode, trunk.body).toBe(201);
    expect(trunk.json().recordingPolicy).toBeNull();
    const patched = await req('PATCH', `/trunks/${trunk.json().id}`, { recordingPolicy: 'always' });
    expect(patched.statusCode, patched.body).toBe(200);
    expect(patched.json().recordingPolicy).toBe('always');
    expect((await req('GET', `/trunks/${trunk.json().id}`)).json().recordingPolicy).toBe('always');
  });

  it('inbound and outbound routes: recordingPolicy kept and shown (null by default), a bad one 400 naming the field; a call reads the route it takes', async () => {
    expect((await req('POST', '/extensions', { number: '7792', displayName: 'Rec Route' })).statusCode).toBe(201);
    const trunk = await req('POST', '/trunks', { name: 'it-recpol-rt', kind: 'ip', host: '192.0.2.11' });
    expect(trunk.statusCode, trunk.body).toBe(201);
    const trunkId = trunk.json().id as string;

    const inbound = await req('POST', '/inbound-routes', { name: 'it-recpol-in', didPattern: '4930779001', target: { kind: 'extension', number: '7792' }, recordingPolicy: 'always' });
    expect(inbound.statusCode, inbound.body).toBe(201);
    expect(inbound.json().recordingPolicy).toBe('always');
    const other = await req('POST', '/inbound-routes', { name: 'it-recpol-in2', didPattern: '4930779002', target: { kind: 'extension', number: '7792' } });
    expect(other.statusCode, other.body).toBe(201);
    expect(other.json().recordingPolicy).toBeNull();
    const outbound = await req('POST', '/outbound-routes', { name: 'it-recpol-out', pattern: '_0307770XX', trunkId, priority: 0, recordingPolicy: 'never' });
    expect(outbound.statusCode, outbound.body).toBe(201);
    expect(outbound.json().recordingPolicy).toBe('never');

    for (const url of [`/inbound-routes/${inbound.json().id}`, `/outbound-routes/${outbound.json().id}`]) {
      const bad = await req('PATCH', url, { recordingPolicy: 'sometimes' });
      expect(bad.statusCode, bad.body).toBe(400);
      expect(bad.json().error.code).toBe('validation-failed');
      expect(bad.body).toContain('recordingPolicy');
    }
    const badCreate = await req('POST', '/inbound-routes', { name: 'it-recpol-in3', didPattern: '4930779003', target: { kind: 'hangup' }, recordingPolicy: 'yes' });
    expect(badCreate.statusCode, badCreate.body).toBe(400);
    expect(badCreate.body).toContain('recordingPolicy');

    // A PATCH of another field keeps the policy; null clears it.
    const renamed = await req('PATCH', `/outbound-routes/${outbound.json().id}`, { priority: 1 });
    expect(renamed.json().recordingPolicy).toBe('never');
    expect((await req('GET', `/inbound-routes/${inbound.json().id}`)).json().recordingPolicy).toBe('always');

    // At call time: the route a call takes is the one whose policy counts.
    await req('PATCH', '/extensions/7792', { recordingPolicy: 'on-demand' });
    await req('PATCH', `/trunks/${trunkId}`, { recordingPolicy: 'never' });
    const lookup = recordingLookup(app.db);
    const fromCarrier = (did: string) => lookup.routeSources('PJSIP/trunk-it-recpol-rt-0000000a', { kind: 'extension', number: '7792' }, null, { dialed: did, callerNumber: '4930555000' });
    expect(await fromCarrier('4930779001')).toEqual({ 'inbound-route': 'always', 'outbound-route': null, extension: 'on-demand', trunk: 'never' });
    expect(await fromCarrier('4930779002')).toMatchObject({ 'inbound-route': null, extension: 'on-demand', trunk: 'never' });
    const outside = (dialed: string) => lookup.routeSources('PJSIP/7792-0000000b', { kind: 'outbound', dialed }, null, { dialed, callerNumber: '7792' });
    expect(await outside('030777012')).toEqual({ 'inbound-route': null, 'outbound-route': 'never', extension: 'on-demand', trunk: null });
    expect((await outside('040123456'))['outbound-route']).toBeNull(); // no route takes it

    const cleared = await req('PATCH', `/inbound-routes/${inbound.json().id}`, { recordingPolicy: null });
    expect(cleared.statusCode, cleared.body).toBe(200);
    expect(cleared.json().recordingPolicy).toBeNull();
    expect((await fromCarrier('4930779001'))['inbound-route']).toBeNull();
  });

  it('the live call recording routes: a call this daemon does not have is 404 call-not-found', async () => {
    for (const action of ['start', 'stop', 'pause', 'resume']) {
      const res = await req('POST', `/calls/1765000000.1/recording/${action}`, undefined, supervisor);
      expect(res.statusCode, res.body).toBe(404);
      expect(res.json().error.code).toBe('call-not-found');
    }
  });
});
