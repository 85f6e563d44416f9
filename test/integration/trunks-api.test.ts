/**
 * Trunks API against a real Postgres: CRUD, bad input, realtime rows written and removed in the
 * trunk's transaction, password masking, and what Asterisk is told (a recording fake AMI).
 * The routes are mounted on the real server (error handler, schemas, auth) under /it/api/v1 with
 * that fake AMI, so this file does not depend on how src/app.ts wires the production mount.
 */
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { sql } from 'kysely';
import type { App } from '../../src/app.js';
import { createApp } from '../../src/app.js';
import { createLogger } from '../../src/logger.js';
import { AuthService, CLI_ACTOR } from '../../src/auth/service.js';
import { trunkRoutes } from '../../src/trunks/routes.js';
import { TrunkService } from '../../src/trunks/service.js';
import { RouteService } from '../../src/trunks/route-service.js';
import { Registrar, type AmiLike } from '../../src/trunks/registrar.js';
import { testConfig } from '../support/app.js';

class FakeAmi implements AmiLike {
  readonly actions: Record<string, string>[] = [];
  down = false;
  async action(fields: Record<string, string>) {
    if (this.down) throw new Error('AMI not connected');
    this.actions.push(fields);
    return { response: 'Success', message: fields['action'] === 'ModuleLoad' ? 'Module reloaded.' : 'ok' };
  }
  /** "reload", "register trunk-x", "unregister trunk-x" */
  steps(): string[] {
    return this.actions.map((a) => (a['action'] === 'ModuleLoad' ? 'reload' : `${a['action'] === 'PJSIPRegister' ? 'register' : 'unregister'} ${a['registration']}`));
  }
}

let app: App;
let admin: string;
let viewer: string;
const ami = new FakeAmi();
const BASE = '/it/api/v1';

const req = (method: 'GET' | 'POST' | 'PATCH' | 'PUT' | 'DELETE', url: string, body?: unknown, token = admin) =>
  app.http.inject({ method, url: BASE + url, headers: { authorization: `Bearer ${token}` }, ...(body === undefined ? {} : { payload: body as object }) });
const rows = async (table: string, id: string) =>
  (await sql<Record<string, unknown>>`select * from ${sql.table(table)} where id = ${id}`.execute(app.db)).rows;
const fieldsOf = (res: { json(): { error: { details?: { problems?: { field: string }[] } } } }) =>
  (res.json().error.details?.problems ?? []).map((p) => p.field);

const registrationTrunk = (name: string, more: Record<string, unknown> = {}) => ({
  name, kind: 'registration', host: '127.0.0.1', port: 25070, username: 'provuser', password: 'S3cret-pass!', codecs: ['alaw', 'ulaw'], ...more,
});

beforeAll(async () => {
  const config = testConfig();
  app = await createApp(config, createLogger(config.log.level));
  const log = createLogger('silent');
  const trunks = new TrunkService(app.db, new Registrar(ami, log));
  const routing = new RouteService(app.db);
  await app.http.register(async (api) => api.register(trunkRoutes({ db: app.db, auth: new AuthService(app.db), trunks, routing })), { prefix: BASE });
  await app.start();
  const auth = new AuthService(app.db);
  admin = (await auth.createToken(CLI_ACTOR, { username: 'it-trunk-admin', name: 'it', ttlDays: 1, ensureRole: 'admin' })).token;
  viewer = (await auth.createToken(CLI_ACTOR, { username: 'it-trunk-viewer', name: 'it', ttlDays: 1, ensureRole: 'viewer' })).token;
});

afterAll(async () => {
  await app?.stop();
});

beforeEach(() => {
  ami.actions.length = 0;
  ami.down = false;
});

describe('trunks', () => {
  it('creates a registration trunk: realtime rows, masked password, audit without it, and Asterisk reloads', async () => {
    const res = await req('POST', '/trunks', registrationTrunk('acme', { fromUser: '4930123', fromDomain: 'sip.acme.example' }));
    expect(res.statusCode).toBe(201);
    const { asteriskSync, ...trunk } = res.json();
    expect(asteriskSync).toBe('done');
    expect(trunk).toMatchObject({ name: 'acme', endpoint: 'trunk-acme', kind: 'registration', port: 25070, transport: 'udp', password: '********', codecs: ['alaw', 'ulaw'], maxChannels: 30, enabled: true });
    expect(res.body).not.toContain('S3cret-pass!');
    expect(ami.steps()).toEqual(['reload']);

    expect(await rows('ps_endpoints', 'trunk-acme')).toEqual([expect.objectContaining({
      context: 'pbx-inbound', aors: 'trunk-acme', outbound_auth: 'trunk-acme', transport: 'transport-udp', disallow: 'all', allow: 'alaw,ulaw',
      from_user: '4930123', from_domain: 'sip.acme.example', dtmf_mode: 'rfc4733', direct_media: 'no', rtp_symmetric: 'yes', force_rport: 'yes',
      rewrite_contact: 'yes', device_state_busy_at: 30, auth: null,
    })]);
    expect(await rows('ps_aors', 'trunk-acme')).toEqual([expect.objectContaining({ contact: 'sip:127.0.0.1:25070', qualify_frequency: 60 })]);
    expect(await rows('ps_auths', 'trunk-acme')).toEqual([expect.objectContaining({ auth_type: 'userpass', username: 'provuser', password: 'S3cret-pass!' })]);
    expect(await rows('ps_endpoint_id_ips', 'trunk-acme')).toEqual([expect.objectContaining({ endpoint: 'trunk-acme', match: '127.0.0.1' })]);
    expect(await rows('ps_registrations', 'trunk-acme')).toEqual([expect.objectContaining({
      server_uri: 'sip:127.0.0.1:25070', client_uri: 'sip:provuser@sip.acme.example', outbound_auth: 'trunk-acme', line: 'yes', endpoint: 'trunk-acme',
    })]);

    const audit = (await sql`select * from audit_log where entity = 'trunk' and entity_id = ${trunk.id}`.execute(app.db)).rows;
    expect(audit).toEqual([expect.objectContaining({ action: 'trunk.create', actor_label: 'user:it-trunk-admin', details: expect.objectContaining({ name: 'acme', hasPassword: true }) })]);
    expect(JSON.stringify(audit)).not.toContain('S3cret-pass!');
  });

  it('never returns the password: list, one, update', async () => {
    const trunk = (await req('POST', '/trunks', registrationTrunk('masked'))).json();
    const list = await req('GET', '/trunks', undefined, viewer);
    expect(list.statusCode).toBe(200);
    expect(list.json().items.find((t: { name: string }) => t.name === 'masked').password).toBe('********');
    const one = await req('GET', `/trunks/${trunk.id}`, undefined, viewer);
    const patched = await req('PATCH', `/trunks/${trunk.id}`, { password: 'N3w-secret' });
    for (const r of [list, one, patched]) {
      expect(r.body).not.toContain('S3cret-pass!');
      expect(r.body).not.toContain('N3w-secret');
    }
    expect(one.json().password).toBe('********');
    expect(await rows('ps_auths', 'trunk-masked')).toEqual([expect.objectContaining({ password: 'N3w-secret' })]);
  });

  it('creates an IP trunk: identify row, no registration, no auth, nothing for Asterisk to do', async () => {
    const res = await req('POST', '/trunks', { name: 'carrier-ip', kind: 'ip', host: 'sbc.carrier.example', transport: 'tcp', port: 5080, codecs: ['g722', 'ulaw'], maxChannels: 120 });
    expect(res.statusCode).toBe(201);
    expect(res.json()).toMatchObject({ asteriskSync: 'not-needed', password: null, username: null });
    expect(ami.actions).toEqual([]);
    expect(await rows('ps_endpoints', 'trunk-carrier-ip')).toEqual([expect.objectContaining({ outbound_auth: null, transport: 'transport-tcp', allow: 'g722,ulaw', device_state_busy_at: 120 })]);
    // Realtime-encoded (src/shared/realtime.ts): Asterisk reads `^3B` as `;`; a raw `;` cut the contact in two.
    expect(await rows('ps_aors', 'trunk-carrier-ip')).toEqual([expect.objectContaining({ contact: 'sip:sbc.carrier.example:5080^3Btransport=tcp' })]);
    expect(await rows('ps_endpoint_id_ips', 'trunk-carrier-ip')).toEqual([expect.objectContaining({ match: 'sbc.carrier.example' })]);
    expect(await rows('ps_auths', 'trunk-carrier-ip')).toEqual([]);
    expect(await rows('ps_registrations', 'trunk-carrier-ip')).toEqual([]);
  });

  it('refuses a duplicate name with 409 trunk-exists', async () => {
    await req('POST', '/trunks', registrationTrunk('dup'));
    const res = await req('POST', '/trunks', registrationTrunk('dup', { host: '10.0.0.1' }));
    expect(res.statusCode).toBe(409);
    expect(res.json().error).toMatchObject({ code: 'trunk-exists', details: { field: 'body.name' } });
  });

  it.each([
    [{ name: 'Bad Name' }, 'body.name'],
    [{ name: 'x'.repeat(33) }, 'body.name'],
    [{ kind: 'sip' }, 'body.kind'],
    [{ host: 'evil host;x' }, 'body.host'],
    [{ port: 70000 }, 'body.port'],
    [{ transport: 'tls' }, 'body.transport'],
    [{ codecs: ['ulaw', 'speex'] }, 'body.codecs.1'],
    [{ codecs: [] }, 'body.codecs'],
    [{ codecs: ['ulaw', 'ulaw'] }, 'body.codecs'],
    [{ maxChannels: 0 }, 'body.maxChannels'],
    [{ maxChannels: 1001 }, 'body.maxChannels'],
    [{ password: 'has space' }, 'body.password'],
    [{ password: null }, 'body.password'],
    [{ username: null }, 'body.username'],
    [{ secret: 'x' }, 'body.secret'],
  ])('POST /trunks %j -> 400 naming %s', async (change, field) => {
    const res = await req('POST', '/trunks', registrationTrunk('badinput', change));
    expect(res.statusCode).toBe(400);
    expect(res.json().error.code).toBe('validation-failed');
    expect(fieldsOf(res)).toContain(field);
  });

  it('an IP trunk with a password needs a username', async () => {
    const res = await req('POST', '/trunks', { name: 'ipauth', kind: 'ip', host: '192.0.2.7', password: 'pw' });
    expect(res.statusCode).toBe(400);
    expect(fieldsOf(res)).toEqual(['body.username']);
  });

  it('writes nothing when the transaction fails half-way (trunk, realtime rows, audit)', async () => {
    await sql`create or replace function it_boom() returns trigger language plpgsql as $$ begin
      if new.id = 'trunk-boom' then raise exception 'boom'; end if; return new; end $$`.execute(app.db);
    await sql`create trigger it_boom before insert on ps_registrations for each row execute function it_boom()`.execute(app.db);
    try {
      const res = await req('POST', '/trunks', registrationTrunk('boom'));
      expect(res.statusCode).toBe(500);
      expect(res.json().error.code).toBe('internal-error');
    } finally {
      await sql`drop trigger it_boom on ps_registrations`.execute(app.db);
    }
    expect((await sql`select 1 from trunks where name = 'boom'`.execute(app.db)).rows).toEqual([]);
    for (const t of ['ps_endpoints', 'ps_aors', 'ps_auths', 'ps_endpoint_id_ips', 'ps_registrations']) expect(await rows(t, 'trunk-boom')).toEqual([]);
    expect((await sql`select 1 from audit_log where action = 'trunk.create' and details->>'name' = 'boom'`.execute(app.db)).rows).toEqual([]);
    expect(ami.actions).toEqual([]);
    expect((await req('POST', '/trunks', registrationTrunk('boom'))).statusCode).toBe(201);
  });

  it('PATCH rewrites the rows; disabling unregisters first and removes them, enabling brings them back', async () => {
    const trunk = (await req('POST', '/trunks', registrationTrunk('cycle'))).json();
    ami.actions.length = 0;

    const codecs = await req('PATCH', `/trunks/${trunk.id}`, { codecs: ['g722'] });
    expect(codecs.json()).toMatchObject({ asteriskSync: 'not-needed', codecs: ['g722'] });
    expect(await rows('ps_endpoints', 'trunk-cycle')).toEqual([expect.objectContaining({ allow: 'g722' })]);
    expect(ami.steps()).toEqual([]);

    await req('PATCH', `/trunks/${trunk.id}`, { password: 'Other-pass' });
    expect(ami.steps()).toEqual(['reload', 'register trunk-cycle']);

    ami.actions.length = 0;
    const off = await req('PATCH', `/trunks/${trunk.id}`, { enabled: false });
    expect(off.json()).toMatchObject({ asteriskSync: 'done', enabled: false });
    expect(ami.steps()).toEqual(['unregister trunk-cycle', 'reload']);
    for (const t of ['ps_endpoints', 'ps_aors', 'ps_auths', 'ps_endpoint_id_ips', 'ps_registrations']) expect(await rows(t, 'trunk-cycle')).toEqual([]);

    ami.actions.length = 0;
    await req('PATCH', `/trunks/${trunk.id}`, { enabled: true });
    expect(ami.steps()).toEqual(['reload']);
    expect(await rows('ps_registrations', 'trunk-cycle')).toHaveLength(1);

    ami.actions.length = 0;
    const toIp = await req('PATCH', `/trunks/${trunk.id}`, { kind: 'ip' });
    expect(toIp.statusCode).toBe(200);
    expect(ami.steps()).toEqual(['unregister trunk-cycle', 'reload']);
    expect(await rows('ps_registrations', 'trunk-cycle')).toEqual([]);
    expect(await rows('ps_auths', 'trunk-cycle')).toHaveLength(1); // IP trunk keeps outbound credentials
  });

  it('PATCH refuses the name, unknown ids, an empty body and a registration trunk without password', async () => {
    const trunk = (await req('POST', '/trunks', { name: 'patchy', kind: 'ip', host: '192.0.2.9' })).json();
    expect(fieldsOf(await req('PATCH', `/trunks/${trunk.id}`, { name: 'other' }))).toContain('body.name');
    expect((await req('PATCH', `/trunks/${trunk.id}`, {})).statusCode).toBe(400);
    expect(fieldsOf(await req('PATCH', `/trunks/${trunk.id}`, { kind: 'registration' }))).toEqual(['body.username']);
    expect(fieldsOf(await req('PATCH', `/trunks/${trunk.id}`, { kind: 'registration', username: 'u' }))).toEqual(['body.password']);
    const missing = await req('PATCH', '/trunks/999999', { enabled: false });
    expect(missing.statusCode).toBe(404);
    expect(missing.json().error.code).toBe('trunk-not-found');
    expect((await req('GET', '/trunks/999999')).json().error.code).toBe('trunk-not-found');
    expect(fieldsOf(await req('GET', '/trunks/abc'))).toContain('params.id');
  });

  it('still saves when Asterisk is unreachable, and says so', async () => {
    ami.down = true;
    const res = await req('POST', '/trunks', registrationTrunk('offline'));
    expect(res.statusCode).toBe(201);
    expect(res.json().asteriskSync).toBe('failed');
    expect(await rows('ps_registrations', 'trunk-offline')).toHaveLength(1);
  });

  it('delete: 409 trunk-in-use naming the routes, then removes trunk and rows after they are gone', async () => {
    const trunk = (await req('POST', '/trunks', registrationTrunk('busy'))).json();
    const r1 = (await req('POST', '/outbound-routes', { name: 'busy-national', pattern: '_0Z.', trunkId: trunk.id })).json();
    const r2 = (await req('POST', '/outbound-routes', { name: 'busy-intl', pattern: '_00.', trunkId: trunk.id, requiredClass: 'international' })).json();
    ami.actions.length = 0;

    const refused = await req('DELETE', `/trunks/${trunk.id}`);
    expect(refused.statusCode).toBe(409);
    const err = refused.json().error;
    expect(err.code).toBe('trunk-in-use');
    expect(err.message).toContain('busy-national');
    expect(err.message).toContain('busy-intl');
    expect(err.details.routes).toEqual([{ id: r1.id, name: 'busy-national' }, { id: r2.id, name: 'busy-intl' }]);
    expect(ami.actions).toEqual([]);
    expect(await rows('ps_endpoints', 'trunk-busy')).toHaveLength(1);

    expect((await req('DELETE', `/outbound-routes/${r1.id}`)).statusCode).toBe(204);
    expect((await req('DELETE', `/outbound-routes/${r2.id}`)).statusCode).toBe(204);
    expect((await req('DELETE', `/trunks/${trunk.id}`)).statusCode).toBe(204);
    expect(ami.steps()).toEqual(['unregister trunk-busy', 'reload']);
    for (const t of ['ps_endpoints', 'ps_aors', 'ps_auths', 'ps_endpoint_id_ips', 'ps_registrations']) expect(await rows(t, 'trunk-busy')).toEqual([]);
    expect((await req('GET', `/trunks/${trunk.id}`)).statusCode).toBe(404);
    expect((await req('DELETE', `/trunks/${trunk.id}`)).json().error.code).toBe('trunk-not-found');
  });

  it('viewers read, only admins write', async () => {
    expect((await req('GET', '/trunks', undefined, viewer)).statusCode).toBe(200);
    const res = await req('POST', '/trunks', registrationTrunk('byviewer'), viewer);
    expect(res.statusCode).toBe(403);
    expect(res.json().error.code).toBe('forbidden');
    expect((await req('PUT', '/emergency-numbers', { numbers: ['112'] }, viewer)).statusCode).toBe(403);
    expect((await app.http.inject({ method: 'GET', url: `${BASE}/trunks` })).statusCode).toBe(401);
  });

  it('shows up in the OpenAPI document', async () => {
    const res = await app.http.inject({ method: 'GET', url: '/docs/json' });
    expect(res.statusCode).toBe(200);
    const paths = Object.keys(res.json().paths);
    for (const p of ['/trunks', '/trunks/{id}', '/outbound-routes', '/inbound-routes/{id}', '/emergency-numbers']) expect(paths).toContain(`${BASE}${p}`);
  });

  it('is mounted under /api/v1 by the production app (src/app.ts registers src/trunks/plugin.ts), with its auth', async () => {
    const trunk = (await req('POST', '/trunks', { name: 'mounted', kind: 'ip', host: '192.0.2.11' })).json();
    for (const url of ['/api/v1/trunks', '/api/v1/trunks/:id', '/api/v1/outbound-routes', '/api/v1/inbound-routes', '/api/v1/emergency-numbers']) {
      expect(app.http.hasRoute({ method: 'GET', url }), url).toBe(true);
    }
    const res = await app.http.inject({ method: 'GET', url: '/api/v1/trunks', headers: { authorization: `Bearer ${viewer}` } });
    expect(res.statusCode).toBe(200);
    expect(res.json().items.find((t: { name: string }) => t.name === 'mounted')).toMatchObject({ id: trunk.id, endpoint: 'trunk-mounted' });
    expect((await app.http.inject({ method: 'GET', url: '/api/v1/trunks' })).statusCode).toBe(401);
    const byViewer = await app.http.inject({ method: 'POST', url: '/api/v1/trunks', headers: { authorization: `Bearer ${viewer}` }, payload: { name: 'viewer-prod', kind: 'ip', host: '192.0.2.12' } });
    expect(byViewer.statusCode).toBe(403);
  });
});
