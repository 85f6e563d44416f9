/**
 * An IT admin's first hour through the real daemon (startTestApp, all routes as wired in app.ts):
 * create an extension, register its desk phone by MAC, and the phone fetches its configuration
 * with its own provisioning credentials, carrying the extension's SIP account.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { App } from '../../src/app.js';
import { AuthService, CLI_ACTOR } from '../../src/auth/service.js';
import { startTestApp } from '../support/app.js';

let app: App;
let token: string;
const api = (method: 'GET' | 'POST' | 'DELETE', url: string, body?: unknown) =>
  app.http.inject({ method, url: `/api/v1${url}`, headers: { authorization: `Bearer ${token}` }, ...(body ? { payload: body as object } : {}) });

beforeAll(async () => {
  app = await startTestApp({ PBX_SITE_ADDRESS: 'pbx.office.lan', PBX_TIMEZONE: 'Europe/Berlin' });
  token = (await new AuthService(app.db).createToken(CLI_ACTOR, { username: 'site-admin', name: 'it', ttlDays: 1, ensureRole: 'admin' })).token;
});
afterAll(async () => {
  await app?.stop();
});

describe('site setup through the daemon', () => {
  it('a desk phone provisions itself with its extension account', async () => {
    const ext = await api('POST', '/extensions', { number: '4101', displayName: 'Front Desk' });
    expect(ext.statusCode).toBe(201);
    const sipPassword: string = ext.json().secret;
    const dev = await api('POST', '/devices', { mac: '80:5E:C0:11:22:33', vendor: 'yealink', model: 'T46U', extension: '4101' });
    expect(dev.statusCode, dev.body).toBe(201);
    const { username } = dev.json().provisioning;
    const password: string = dev.json().secret;

    const basic = `Basic ${Buffer.from(`${username}:${password}`).toString('base64')}`;
    const file = await app.http.inject({ method: 'GET', url: '/provision/805ec0112233.cfg', headers: { authorization: basic }, remoteAddress: '10.1.2.50' });
    expect(file.statusCode).toBe(200);
    expect(file.body).toContain(sipPassword);
    expect(file.body).toContain('pbx.office.lan');
    expect(file.body).toContain('Front Desk');

    // Without credentials the phone is challenged; an unknown MAC is refused exactly like a wrong
    // credential (401, the same challenge), so the answer does not tell which MACs exist.
    const anon = await app.http.inject({ method: 'GET', url: '/provision/805ec0112233.cfg', remoteAddress: '10.1.2.50' });
    expect(anon.statusCode).toBe(401);
    expect(anon.body).not.toContain(sipPassword);
    const unknown = await app.http.inject({ method: 'GET', url: '/provision/805ec0999999.cfg', headers: { authorization: basic }, remoteAddress: '10.1.2.50' });
    expect(unknown.statusCode).toBe(401);
    expect(unknown.headers['www-authenticate']).toBe(anon.headers['www-authenticate']);
    expect(unknown.body).not.toContain(sipPassword);

    // The extension cannot be deleted while the phone is bound to it, and the answer says why.
    const del = await api('DELETE', '/extensions/4101');
    expect(del.statusCode).toBe(409);
    expect(JSON.stringify(del.json().error.details)).toContain('desk phone 80:5e:c0:11:22:33');
  });
});
