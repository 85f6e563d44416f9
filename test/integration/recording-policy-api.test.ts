/**
 * Recording policy fields in the API (docs/recording.md#policy), real app and Postgres: a queue's
 * policy, sample share and announcement; an extension's and a trunk's policy; bad values are 400
 * naming the field; the live call recording routes answer 404 call-not-found for a call this
 * daemon does not have. What the call core makes of the policies is tested in
 * test/unit/recording-policy.test.ts and test/e2e/recording.test.ts.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { App } from '../../src/app.js';
import { AuthService, CLI_ACTOR } from '../../src/auth/service.js';
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
    expect((await req('POST', '/extensions', { number: '7701', displayName: 'Rec Policy' })).statusCode).toBe(201);
    expect((await req('GET', '/extensions/7701')).json().recordingPolicy).toBeNull();
    const ext = await req('PATCH', '/extensions/7701', { recordingPolicy: 'never' });
    expect(ext.statusCode, ext.body).toBe(200);
    expect(ext.json().recordingPolicy).toBe('never');
    const badExt = await req('PATCH', '/extensions/7701', { recordingPolicy: 'maybe' });
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

  it('the live call recording routes: a call this daemon does not have is 404 call-not-found', async () => {
    for (const action of ['start', 'stop', 'pause', 'resume']) {
      const res = await req('POST', `/calls/1765000000.1/recording/${action}`, undefined, supervisor);
      expect(res.statusCode, res.body).toBe(404);
      expect(res.json().error.code).toBe('call-not-found');
    }
  });
});
