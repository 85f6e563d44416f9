/**
 * An extension's sipSecurity (issue #21, SIP over TLS with SRTP): the API field, its validation,
 * and what lands in its PJSIP endpoint (ps_endpoints transport / media_encryption).
 * test/e2e/sip-tls.test.ts shows Asterisk acting on those columns.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { App } from '../../src/app.js';
import { AuthService, CLI_ACTOR } from '../../src/auth/service.js';
import { startTestApp } from '../support/app.js';

let app: App;
let admin: string;
const req = (method: 'GET' | 'POST' | 'PATCH', url: string, body?: unknown) =>
  app.http.inject({ method, url, headers: { authorization: `Bearer ${admin}` }, ...(body === undefined ? {} : { payload: body as object }) });
/** The extension in a create's answer (the bare resource, or `extension` beside the password). */
const created = (body: Record<string, unknown>) => (body['extension'] ?? body) as Record<string, unknown>;
const endpoint = (id: string) =>
  app.db.selectFrom('ps_endpoints').select(['transport', 'media_encryption', 'media_encryption_optimistic', 'context']).where('id', '=', id).executeTakeFirstOrThrow();

const NONE = { transport: null, media_encryption: null, media_encryption_optimistic: null, context: 'pbx-inbound' };
const TLS = { transport: 'transport-tls', media_encryption: 'no', media_encryption_optimistic: null, context: 'pbx-inbound' };
const TLS_SRTP = { transport: 'transport-tls', media_encryption: 'sdes', media_encryption_optimistic: 'no', context: 'pbx-inbound' };

beforeAll(async () => {
  app = await startTestApp();
  admin = (await new AuthService(app.db).createToken(CLI_ACTOR, { username: 'sipsec-admin', name: 'it', ttlDays: 1, ensureRole: 'admin' })).token;
});
afterAll(async () => {
  await app?.stop();
});

describe('extension sipSecurity', () => {
  it('defaults to none: the endpoint keeps Asterisk\'s defaults (any transport, no media encryption)', async () => {
    const res = await req('POST', '/api/v1/extensions', { number: '3171', displayName: 'Plain Phone' });
    expect(res.statusCode).toBe(201);
    expect(created(res.json()).sipSecurity).toBe('none');
    expect(await endpoint('3171')).toEqual(NONE);
  });

  it('tls-srtp at create: transport-tls, SDES required (not optimistic); GET shows it', async () => {
    const res = await req('POST', '/api/v1/extensions', { number: '3172', displayName: 'Secure Phone', sipSecurity: 'tls-srtp' });
    expect(res.statusCode).toBe(201);
    expect(created(res.json()).sipSecurity).toBe('tls-srtp');
    expect(await endpoint('3172')).toEqual(TLS_SRTP);
    expect((await req('GET', '/api/v1/extensions/3172')).json().sipSecurity).toBe('tls-srtp');
  });

  it('PATCH moves the endpoint between tls, none and tls-srtp, and the audit names the field', async () => {
    const toTls = await req('PATCH', '/api/v1/extensions/3171', { sipSecurity: 'tls' });
    expect(toTls.statusCode).toBe(200);
    expect(toTls.json().sipSecurity).toBe('tls');
    expect(await endpoint('3171')).toEqual(TLS);
    expect((await req('PATCH', '/api/v1/extensions/3171', { sipSecurity: 'none' })).json().sipSecurity).toBe('none');
    expect(await endpoint('3171')).toEqual(NONE);
    await req('PATCH', '/api/v1/extensions/3171', { sipSecurity: 'tls-srtp' });
    expect(await endpoint('3171')).toEqual(TLS_SRTP);
    // another change leaves it as it is
    await req('PATCH', '/api/v1/extensions/3171', { displayName: 'Plain Phone 2' });
    expect(await endpoint('3171')).toEqual(TLS_SRTP);
    const audit = await app.db.selectFrom('audit_log').select('details').where('entity_id', '=', '3171').where('action', '=', 'extension.update').orderBy('id').execute();
    expect(audit.map((a) => (a.details as { changed: string[] }).changed)).toEqual([['sipSecurity'], ['sipSecurity'], ['sipSecurity'], ['displayName']]);
  });

  it.each([
    ['POST', { number: '3173', displayName: 'Bad', sipSecurity: 'srtp' }],
    ['POST', { number: '3173', displayName: 'Bad', sipSecurity: 'TLS' }],
    ['POST', { number: '3173', displayName: 'Bad', sipSecurity: ['tls'] }],
    ['POST', { number: '3173', displayName: 'Bad', sipSecurity: null }],
    ['PATCH', { sipSecurity: 'sdes' }],
    ['PATCH', { sipSecurity: true }],
  ] as const)('%s %j -> 400 naming body.sipSecurity, nothing written', async (method, body) => {
    const res = await req(method, method === 'POST' ? '/api/v1/extensions' : '/api/v1/extensions/3172', body);
    expect(res.statusCode).toBe(400);
    expect(res.json().error.code).toBe('validation-failed');
    expect(JSON.stringify(res.json().error)).toContain('sipSecurity');
    expect(await app.db.selectFrom('extensions').select('id').where('number', '=', '3173').executeTakeFirst()).toBeUndefined();
    expect(await endpoint('3172')).toEqual(TLS_SRTP);
  });
});
