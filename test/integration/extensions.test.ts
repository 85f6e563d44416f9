import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { App } from '../../src/app.js';
import { AuthService, CLI_ACTOR } from '../../src/auth/service.js';
import pg from 'pg';
import { inject } from 'vitest';
import { registeredExtensions } from '../../src/extensions/repository.js';
import { sipPasswordDigest } from '../../src/extensions/sip-credentials.js';
import { sipPassword as provisionedSipPassword } from '../../src/provisioning/repository.js';
import { testSecretBox } from '../support/env.js';
import { startTestApp } from '../support/app.js';
import { eventually } from '../support/daemon.js';

let app: App;
let admin: string;
const req = (method: 'GET' | 'POST' | 'PATCH' | 'DELETE', url: string, body?: unknown) =>
  app.http.inject({ method, url, headers: { authorization: `Bearer ${admin}` }, ...(body === undefined ? {} : { payload: body as object }) });

beforeAll(async () => {
  app = await startTestApp();
  admin = (await new AuthService(app.db).createToken(CLI_ACTOR, { username: 'ext-admin', name: 'it', ttlDays: 1, ensureRole: 'admin' })).token;
});
afterAll(async () => {
  await app?.stop();
});

describe('extensions API', () => {
  it('creates the extension and its PJSIP realtime rows in one go, password shown once', async () => {
    const res = await req('POST', '/api/v1/extensions', { number: '3101', displayName: 'Anna Berg', voicemailPin: '4821' });
    expect(res.statusCode).toBe(201);
    const { secret: sipPassword, ...extension } = res.json();
    expect(sipPassword).toMatch(/^[A-Za-z2-9]{24}$/);
    expect(extension).toMatchObject({ number: '3101', displayName: 'Anna Berg', permissionClass: 'national', voicemailPinSet: true, registration: { registered: false } });
    const auth = await app.db.selectFrom('ps_auths').selectAll().where('id', '=', '3101').executeTakeFirstOrThrow();
    // Asterisk's row holds the digest, never the password (src/extensions/sip-credentials.ts)
    expect(auth).toMatchObject({ username: '3101', password: null, auth_type: 'digest', realm: 'pbx', password_digest: sipPasswordDigest('3101', sipPassword) });
    const ep = await app.db.selectFrom('ps_endpoints').selectAll().where('id', '=', '3101').executeTakeFirstOrThrow();
    expect(ep).toMatchObject({ aors: '3101', auth: '3101', context: 'pbx-inbound', callerid: '"Anna Berg" <3101>', dtmf_mode: 'rfc4733' });
    expect(await app.db.selectFrom('ps_aors').selectAll().where('id', '=', '3101').executeTakeFirst()).toBeDefined();
    // never returned again
    expect(JSON.stringify((await req('GET', '/api/v1/extensions/3101')).json())).not.toContain(sipPassword);
  });

  it('rotates the SIP password', async () => {
    const res = await req('POST', '/api/v1/extensions/3101/rotate-password');
    const { secret: sipPassword, ...extension } = res.json();
    expect(res.statusCode).toBe(200);
    expect(extension).toMatchObject({ number: '3101', displayName: 'Anna Berg' });
    const auth = await app.db.selectFrom('ps_auths').select(['password', 'password_digest']).where('id', '=', '3101').executeTakeFirstOrThrow();
    expect(auth).toEqual({ password: null, password_digest: sipPasswordDigest('3101', sipPassword) });
    // and the sealed copy provisioning opens is the new password
    expect(await provisionedSipPassword(app.db, testSecretBox(), '3101')).toBe(sipPassword);
  });

  it('shows registration from ps_contacts (as Asterisk writes it), and announces the change (NOTIFY pbx_contacts)', async () => {
    const s = inject('db');
    const listener = new pg.Client({ host: s.host, port: s.port, user: s.user, password: s.password, database: s.name });
    await listener.connect();
    const notices: string[] = [];
    listener.on('notification', (n) => notices.push(n.payload ?? ''));
    await listener.query('LISTEN pbx_contacts');
    try {
      expect(await registeredExtensions(app.db, ['3101'])).toEqual(new Map([['3101', false]]));
      await app.db.insertInto('ps_contacts').values({
        id: '3101^3B@abc', uri: 'sip:3101@10.0.0.5:5062', expiration_time: String(Math.floor(Date.now() / 1000) + 300),
        user_agent: 'Yealink SIP-T46U', endpoint: '3101', via_addr: '10.0.0.5', via_port: 5062, reg_server: null,
      }).execute();
      const ext = (await req('GET', '/api/v1/extensions/3101')).json();
      expect(ext.registration).toMatchObject({ registered: true, contacts: [{ userAgent: 'Yealink SIP-T46U', address: '10.0.0.5:5062' }] });
      // The BLF lamp's half (src/extensions/lamps.ts): registered; a number asked for but not an extension: not.
      expect(await registeredExtensions(app.db, ['3101', '3999'])).toEqual(new Map([['3101', true], ['3999', false]]));
      await eventually(async () => (notices.includes('insert:3101') ? true : undefined), 5_000, 'NOTIFY insert:3101');
      expect(notices).toContain('insert:3101');
    } finally {
      await listener.end();
    }
  });

  it('updates name, DND and forwards; caller id follows into the endpoint', async () => {
    await req('POST', '/api/v1/extensions', { number: '3102', displayName: 'Ben' });
    const res = await req('PATCH', '/api/v1/extensions/3101', { displayName: 'Anna B.', dnd: true, forwardBusy: '3102' });
    expect(res.statusCode).toBe(200);
    expect(res.json()).toMatchObject({ displayName: 'Anna B.', dnd: true, forwardBusy: '3102' });
    const ep = await app.db.selectFrom('ps_endpoints').select('callerid').where('id', '=', '3101').executeTakeFirstOrThrow();
    expect(ep.callerid).toBe('"Anna B." <3101>');
  });

  it('refuses to delete an extension in use and says by what', async () => {
    const res = await req('DELETE', '/api/v1/extensions/3102');
    expect(res.statusCode).toBe(409);
    expect(res.json().error).toMatchObject({ code: 'extension-in-use', details: { usedBy: ['forward of extension 3101'] } });
  });

  it('deletes an unused extension with all its realtime rows, and audits it', async () => {
    await req('PATCH', '/api/v1/extensions/3101', { forwardBusy: null });
    expect((await req('DELETE', '/api/v1/extensions/3101')).statusCode).toBe(204);
    for (const t of ['ps_endpoints', 'ps_auths', 'ps_aors'] as const) {
      expect(await app.db.selectFrom(t).select('id').where('id', '=', '3101').executeTakeFirst()).toBeUndefined();
    }
    expect(await app.db.selectFrom('ps_contacts').select('id').where('endpoint', '=', '3101').executeTakeFirst()).toBeUndefined();
    expect(await registeredExtensions(app.db, ['3101'])).toEqual(new Map([['3101', false]])); // its lamp goes unavailable
    const audit = await app.db.selectFrom('audit_log').select(['action']).where('entity_id', '=', '3101').orderBy('id').execute();
    expect(audit.map((a) => a.action)).toEqual(['extension.create', 'extension.rotate-password', 'extension.update', 'extension.update', 'extension.delete']);
    expect((await req('GET', '/api/v1/extensions/3101')).json().error.code).toBe('extension-not-found');
  });

  it.each([
    [{ number: '3103', displayName: 'X' }, 201, null],
    [{ number: '3103', displayName: 'X again' }, 409, 'extension-exists'],
    [{ number: '112', displayName: 'Nope' }, 400, 'body.number'],
    [{ number: '*97', displayName: 'Nope' }, 400, 'body.number'],
    [{ number: '3104', displayName: 'Evil" <sip:x@y>' }, 400, 'body.displayName'],
    [{ number: '3104', displayName: 'PIN', voicemailPin: '1111' }, 400, 'body.voicemailPin'],
    [{ number: '3104', displayName: 'Class', permissionClass: 'galactic' }, 400, 'body.permissionClass'],
    [{ number: '3104', displayName: 'Extra', sipPassword: 'mine' }, 400, 'body.sipPassword'],
  ])('POST %j -> %i %s', async (body, status, named) => {
    const res = await req('POST', '/api/v1/extensions', body);
    expect(res.statusCode).toBe(status);
    if (named) expect(JSON.stringify(res.json().error)).toContain(named);
  });

  it('refuses forwards to itself or to non-numbers, naming the field', async () => {
    const self = await req('PATCH', '/api/v1/extensions/3103', { forwardAlways: '3103' });
    expect(self.statusCode).toBe(400);
    expect(self.json().error.details.field).toBe('body.forwardAlways');
    const evil = await req('PATCH', '/api/v1/extensions/3103', { forwardNoAnswer: '12&PJSIP/x' });
    expect(evil.statusCode).toBe(400);
    expect((await req('PATCH', '/api/v1/extensions/3103', {})).statusCode).toBe(400);
  });

  it('a failed create leaves nothing behind', async () => {
    // An endpoint with this id already exists (e.g. a trunk): the whole create is refused.
    await app.db.insertInto('ps_endpoints').values({ id: '3105' } as never).execute();
    const res = await req('POST', '/api/v1/extensions', { number: '3105', displayName: 'Clash' });
    expect(res.statusCode).toBe(409);
    expect(await app.db.selectFrom('extensions').select('id').where('number', '=', '3105').executeTakeFirst()).toBeUndefined();
    expect(await app.db.selectFrom('ps_auths').select('id').where('id', '=', '3105').executeTakeFirst()).toBeUndefined();
  });
});
