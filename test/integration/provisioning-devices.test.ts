/**
 * Devices API and the phone-facing /provision/ endpoint against the run's real PostgreSQL.
 * The feature's plugins are mounted on the daemon's server (src/http/server.ts: ajv options, error
 * handlers, body parser, auth limits), with a logger we can read.
 */
import { Writable } from 'node:stream';
import type { FastifyInstance } from 'fastify';
import { sql } from 'kysely';
import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import type { Db } from '../../src/db/database.js';
import { AuthService, CLI_ACTOR } from '../../src/auth/service.js';
import { buildHttp } from '../../src/http/server.js';
import { devicesPlugin, phoneProvisioningPlugin } from '../../src/provisioning/plugin.js';
import { deviceUsages } from '../../src/provisioning/usages.js';
import { ExtensionService } from '../../src/extensions/service.js';
import { sipCredentials } from '../../src/extensions/sip-credentials.js';
import { openDb } from '../support/db.js';
import { testConfig } from '../support/app.js';
import { testSecretBox } from '../support/env.js';

let db: Db;
let http: FastifyInstance;
let admin: string;
let viewer: string;
const logLines: Record<string, unknown>[] = [];

// Numbers and MACs unlikely to collide with other test files sharing the run's database.
const EXT = { alice: '77101', bob: '77102', carol: '77103', hostile: '77104', noauth: '77105' };
const SIP_PW = { alice: 'alice-sip-Pw1', bob: 'bob-sip-Pw2', carol: 'carol-sip-Pw3', hostile: 'h&<"pw', noauth: null };
const HOSTILE_NAME = 'Tom & "Jerry" <boss>\r\naccount.1.password = stolen';

const basic = (user: string, pass: string) => `Basic ${Buffer.from(`${user}:${pass}`).toString('base64')}`;
const api = (method: 'GET' | 'POST' | 'PATCH' | 'DELETE', url: string, token: string | null, body?: unknown) =>
  http.inject({ method, url: `/api/v1${url}`, headers: token ? { authorization: `Bearer ${token}` } : {}, ...(body === undefined ? {} : { payload: body as object }) });
const fetchFile = (file: string, opts: { auth?: string; ip?: string } = {}) =>
  http.inject({ method: 'GET', url: `/provision/${file}`, headers: opts.auth ? { authorization: opts.auth } : {}, remoteAddress: opts.ip ?? '192.0.2.10' });
const logsSince = (n: number) => logLines.slice(n);

async function addExtension(number: string, name: string, password: string | null): Promise<void> {
  await sql`insert into extensions (number, display_name) values (${number}, ${name})`.execute(db);
  if (password === null) return;
  // as the extensions feature stores it: the digest for Asterisk, the password sealed for provisioning
  const { digest, sealed } = sipCredentials(testSecretBox(), number, password);
  await sql`insert into ps_auths (id, auth_type, username, realm, password_digest) values (${number}, 'digest', ${number}, 'pbx', ${digest})`.execute(db);
  await sql`insert into sip_secrets (extension_number, sealed_password) values (${number}, ${sealed})`.execute(db);
}

beforeAll(async () => {
  db = openDb(inject('db'));
  const log = pino(
    { level: 'info' },
    new Writable({
      write: (chunk, _enc, cb) => {
        for (const line of String(chunk).split('\n').filter(Boolean)) logLines.push(JSON.parse(line) as Record<string, unknown>);
        cb();
      },
    }),
  );
  http = await buildHttp({ log, version: 'test', authFailures: testConfig().http.authFailures });
  const auth = new AuthService(db);
  await http.register(phoneProvisioningPlugin, { db, site: { address: 'pbx.site.test', timezone: 'Europe/Berlin' }, sipPort: 5062, sipTlsPort: 5063, secrets: testSecretBox(), plainHttpAllowed: true });
  await http.register(devicesPlugin, { db, auth, prefix: '/api/v1' });
  await http.ready();

  admin = (await auth.createToken(CLI_ACTOR, { username: 'prov-it-admin', name: 'it', ttlDays: 1, ensureRole: 'admin' })).token;
  viewer = (await auth.createToken(CLI_ACTOR, { username: 'prov-it-viewer', name: 'it', ttlDays: 1, ensureRole: 'viewer' })).token;
  await addExtension(EXT.alice, 'Alice Adams', SIP_PW.alice);
  await addExtension(EXT.bob, 'Bob Brown', SIP_PW.bob);
  await addExtension(EXT.carol, 'Carol Clark', SIP_PW.carol);
  await addExtension(EXT.hostile, HOSTILE_NAME, SIP_PW.hostile);
  await addExtension(EXT.noauth, 'No Account', SIP_PW.noauth);
});

afterAll(async () => {
  await http?.close();
  await db?.destroy();
});

describe('devices API', () => {
  it('needs a token, and admin for changes', async () => {
    expect((await api('GET', '/devices', null)).statusCode).toBe(401);
    const res = await api('POST', '/devices', viewer, { mac: 'aa7700000001', vendor: 'yealink', extension: EXT.alice });
    expect(res.statusCode).toBe(403);
    expect(res.json().error.code).toBe('forbidden');
  });

  it('registers a device: normalized MAC, credentials shown once, audited', async () => {
    const res = await api('POST', '/devices', admin, { mac: 'AA-77-00-00-00-01', vendor: 'yealink', model: 'T54W', extension: EXT.alice, blfKeys: [EXT.bob, EXT.carol], label: 'Reception' });
    expect(res.statusCode).toBe(201);
    const d = res.json();
    expect(d).toMatchObject({ mac: 'aa7700000001', vendor: 'yealink', model: 'T54W', extension: EXT.alice, blfKeys: [EXT.bob, EXT.carol], label: 'Reception', lastProvisionedAt: null });
    expect(d.provisioning).toMatchObject({ username: 'prov-aa7700000001', credentials: true, allowedNetworks: [], files: ['/provision/aa7700000001.cfg'] });
    expect(d.secret).toMatch(/^[A-Za-z0-9_-]{24}$/);

    const again = await api('GET', `/devices/${d.id}`, viewer);
    expect(again.statusCode).toBe(200);
    expect(again.json().secret).toBeUndefined();
    expect((await api('GET', '/devices', viewer)).json().items.some((x: { id: string }) => x.id === d.id)).toBe(true);

    const audit = await sql<{ action: string; actor_label: string; details: Record<string, unknown> }>`select action, actor_label, details from audit_log where entity = 'device' and entity_id = ${d.id}`.execute(db);
    expect(audit.rows).toEqual([expect.objectContaining({ action: 'device.create', actor_label: 'user:prov-it-admin' })]);
    expect(JSON.stringify(audit.rows[0]!.details)).not.toContain(d.secret);
    expect(audit.rows[0]!.details).toMatchObject({ mac: 'aa7700000001', extension: EXT.alice });
  });

  it.each([
    [{ mac: '00:15:65:AA:BB', vendor: 'yealink', extension: EXT.alice }, 'body.mac'],
    [{ mac: '00:15-65:aa:bb:cc', vendor: 'yealink', extension: EXT.alice }, 'body.mac'],
    [{ mac: 'aa7700000099', vendor: 'cisco', extension: EXT.alice }, 'body.vendor'],
    [{ mac: 'aa7700000099', vendor: 'yealink', extension: '99999' }, 'body.extension'],
    [{ mac: 'aa7700000099', vendor: 'yealink', extension: EXT.alice, blfKeys: [EXT.bob, '99998'] }, 'body.blfKeys.1'],
    [{ mac: 'aa7700000099', vendor: 'yealink', extension: EXT.alice, blfKeys: [EXT.bob, EXT.bob] }, 'body.blfKeys.1'],
    [{ mac: 'aa7700000099', vendor: 'yealink', extension: EXT.alice, blfKeys: Array.from({ length: 31 }, () => EXT.bob) }, 'body.blfKeys'],
    [{ mac: 'aa7700000099', vendor: 'yealink', extension: EXT.alice, allowedNetworks: ['10.0.0.0/24', '0.0.0.0/0'] }, 'body.allowedNetworks.1'],
    [{ mac: 'aa7700000099', vendor: 'yealink', extension: EXT.alice, credentials: false }, 'body.credentials'],
    [{ mac: 'aa7700000099', vendor: 'yealink', extension: EXT.alice, label: 'a\nb' }, 'body.label'],
    [{ mac: 'aa7700000099', vendor: 'yealink', extension: EXT.alice, password: 'x' }, 'body.password'],
  ])('refuses %j naming %s, writing nothing', async (body, field) => {
    const res = await api('POST', '/devices', admin, body);
    expect(res.statusCode).toBe(400);
    expect(res.json().error.code).toBe('validation-failed');
    expect(res.json().error.message.startsWith(`${field}`)).toBe(true);
    const rows = await sql`select 1 from devices where mac = 'aa7700000099'`.execute(db);
    expect(rows.rows).toHaveLength(0);
  });

  it('refuses a MAC that is already registered, in any spelling', async () => {
    const first = await api('POST', '/devices', admin, { mac: 'aa7700000002', vendor: 'polycom', extension: EXT.bob });
    expect(first.statusCode).toBe(201);
    const dup = await api('POST', '/devices', admin, { mac: 'AA:77:00:00:00:02', vendor: 'yealink', extension: EXT.carol });
    expect(dup.statusCode).toBe(409);
    expect(dup.json().error).toMatchObject({ code: 'device-exists', details: { field: 'body.mac' } });
  });

  it('changes only what is sent, audits the change, and switches credentials off and on', async () => {
    const created = (await api('POST', '/devices', admin, { mac: 'aa7700000003', vendor: 'grandstream', extension: EXT.carol })).json();
    const patched = await api('PATCH', `/devices/${created.id}`, admin, { label: 'Lab', blfKeys: [EXT.alice], credentials: false, allowedNetworks: ['10.9.8.0/24'] });
    expect(patched.statusCode).toBe(200);
    expect(patched.json()).toMatchObject({ label: 'Lab', blfKeys: [EXT.alice], extension: EXT.carol, provisioning: { credentials: false, allowedNetworks: ['10.9.8.0/24'] } });
    expect(patched.json().secret).toBeUndefined();

    // without credentials and without networks there would be no way in
    const none = await api('PATCH', `/devices/${created.id}`, admin, { allowedNetworks: [] });
    expect(none.statusCode).toBe(400);
    expect(none.json().error.message).toMatch(/^body\.credentials/);

    const on = await api('PATCH', `/devices/${created.id}`, admin, { credentials: true });
    expect(on.json().provisioning).toMatchObject({ credentials: true });
    expect(on.json().secret).toMatch(/^[A-Za-z0-9_-]{24}$/);

    expect((await api('PATCH', `/devices/${created.id}`, admin, { extension: '99997' })).json().error.message).toMatch(/^body\.extension/);
    expect((await api('PATCH', `/devices/${created.id}`, admin, { mac: 'aa7700000002' })).statusCode).toBe(409);
    expect((await api('PATCH', `/devices/${created.id}`, admin, {})).statusCode).toBe(400);
    expect((await api('PATCH', '/devices/999999999', admin, { label: 'x' })).json().error.code).toBe('device-not-found');

    const audit = await sql<{ action: string; details: { changed: Record<string, unknown> } }>`select action, details from audit_log where entity = 'device' and entity_id = ${created.id} order by id`.execute(db);
    expect(audit.rows.map((r) => r.action)).toEqual(['device.create', 'device.update', 'device.update']);
    expect(audit.rows[1]!.details.changed).toEqual({ label: 'Lab', blfKeys: [EXT.alice], allowedNetworks: ['10.9.8.0/24'], credentials: false });
    expect(audit.rows[2]!.details.changed).toEqual({ credentials: true });
  });

  it('an extension with a phone on it (or on its BLF keys) cannot be deleted from under it', async () => {
    await expect(sql`delete from extensions where number = ${EXT.alice}`.execute(db)).rejects.toMatchObject({ code: '23503' });
    expect(await deviceUsages(db, EXT.alice)).toEqual(['desk phone aa:77:00:00:00:01', 'BLF key on desk phone aa:77:00:00:00:03']);
    expect(await deviceUsages(db, EXT.carol)).toEqual(['BLF key on desk phone aa:77:00:00:00:01', 'desk phone aa:77:00:00:00:03']);
    expect(await deviceUsages(db, EXT.noauth)).toEqual([]);
    // wired into the extensions feature, deleting gives its typed 409 instead of a foreign-key error
    const extensions = new ExtensionService(db, testSecretBox(), [deviceUsages]);
    await expect(extensions.remove(CLI_ACTOR, EXT.carol)).rejects.toMatchObject({ code: 'extension-in-use', status: 409 });
  });

  it('deletes a device (audited); it is gone for the API and for the phone', async () => {
    const created = (await api('POST', '/devices', admin, { mac: 'aa7700000004', vendor: 'yealink', extension: EXT.bob })).json();
    const del = await api('DELETE', `/devices/${created.id}`, admin);
    expect(del.statusCode).toBe(204);
    expect((await api('GET', `/devices/${created.id}`, viewer)).json().error.code).toBe('device-not-found');
    expect((await api('DELETE', `/devices/${created.id}`, admin)).statusCode).toBe(404);
    // refused like any unknown MAC (401, not 404: the endpoint does not tell which MACs exist)
    expect((await fetchFile('aa7700000004.cfg', { auth: basic('prov-aa7700000004', created.secret) })).statusCode).toBe(401);
    const audit = await sql<{ action: string }>`select action from audit_log where entity = 'device' and entity_id = ${created.id} order by id`.execute(db);
    expect(audit.rows.map((r) => r.action)).toEqual(['device.create', 'device.delete']);
  });
});

describe('provisioning endpoint', () => {
  // A: Yealink on alice with BLF bob, carol. B: Grandstream on bob. C: Polycom on carol, allowlist only.
  let a: { id: string; mac: string; password: string };
  let b: { id: string; mac: string; password: string };
  let c: { id: string; mac: string };

  beforeAll(async () => {
    const mk = async (body: Record<string, unknown>) => {
      const res = await api('POST', '/devices', admin, body);
      expect(res.statusCode).toBe(201);
      const d = res.json();
      return { id: d.id as string, mac: d.mac as string, password: d.secret as string };
    };
    a = await mk({ mac: 'aa:77:00:00:01:0a', vendor: 'yealink', extension: EXT.alice, blfKeys: [EXT.bob, EXT.carol] });
    b = await mk({ mac: 'aa:77:00:00:01:0b', vendor: 'grandstream', extension: EXT.bob, blfKeys: [EXT.alice] });
    c = await mk({ mac: 'aa:77:00:00:01:0c', vendor: 'polycom', extension: EXT.carol, blfKeys: [EXT.alice, EXT.bob], credentials: false, allowedNetworks: ['10.20.30.0/24'] });
  });

  it('challenges a phone without credentials (401 + Basic), which is not an auth failure', async () => {
    const mark = logLines.length;
    const res = await fetchFile(`${a.mac}.cfg`);
    expect(res.statusCode).toBe(401);
    expect(res.headers['www-authenticate']).toBe('Basic realm="pbx provisioning", charset="UTF-8"');
    expect(res.body).not.toContain(SIP_PW.alice);
    expect(logsSince(mark).filter((l) => l['event'] === 'auth-failure')).toHaveLength(0);
    expect(logsSince(mark)).toContainEqual(expect.objectContaining({ event: 'provisioning', mac: a.mac, ip: '192.0.2.10', result: 'challenge', status: 401 }));
  });

  it('serves the Yealink file with the device credentials and records when and from where', async () => {
    const mark = logLines.length;
    const res = await fetchFile(`${a.mac.toUpperCase()}.cfg`, { auth: basic(`prov-${a.mac}`, a.password), ip: '198.51.100.23' });
    expect(res.statusCode).toBe(200);
    expect(res.headers['content-type']).toMatch(/^text\/plain/);
    expect(res.headers['cache-control']).toBe('no-store');
    const body = res.body;
    expect(body.startsWith('#!version:1.0.0.1\n')).toBe(true);
    for (const line of [
      'account.1.enable = 1',
      'account.1.label = 77101',
      'account.1.display_name = Alice Adams',
      'account.1.auth_name = 77101',
      'account.1.user_name = 77101',
      `account.1.password = ${SIP_PW.alice}`,
      'account.1.sip_server.1.address = pbx.site.test',
      'account.1.sip_server.1.port = 5062',
      'local_time.time_zone = +1',
      'linekey.2.type = 16',
      `linekey.2.value = ${EXT.bob}`,
      'linekey.2.label = Bob Brown',
      `linekey.3.value = ${EXT.carol}`,
      'linekey.3.label = Carol Clark',
    ]) {
      expect(body.split('\n')).toContain(line);
    }
    const device = (await api('GET', `/devices/${a.id}`, viewer)).json();
    expect(device.lastProvisionedIp).toBe('198.51.100.23');
    expect(Date.now() - Date.parse(device.lastProvisionedAt)).toBeLessThan(60_000);
    expect(logsSince(mark)).toContainEqual(expect.objectContaining({ event: 'provisioning', mac: a.mac, ip: '198.51.100.23', vendor: 'yealink', result: 'served', via: 'credentials' }));
  });

  it('an extension with sipSecurity tls-srtp gets the TLS transport, PBX_SIP_TLS_PORT and compulsory SRTP in its file', async () => {
    await sql`update extensions set sip_security = 'tls-srtp' where number = ${EXT.alice}`.execute(db);
    try {
      const res = await fetchFile(`${a.mac}.cfg`, { auth: basic(`prov-${a.mac}`, a.password) });
      expect(res.statusCode).toBe(200);
      const lines = res.body.split('\n');
      for (const line of ['account.1.sip_server.1.port = 5063', 'account.1.sip_server.1.transport_type = 2', 'account.1.srtp_encryption = 2']) expect(lines).toContain(line);
    } finally {
      await sql`update extensions set sip_security = 'none' where number = ${EXT.alice}`.execute(db);
    }
    const plain = (await fetchFile(`${a.mac}.cfg`, { auth: basic(`prov-${a.mac}`, a.password) })).body.split('\n');
    for (const line of ['account.1.sip_server.1.port = 5062', 'account.1.sip_server.1.transport_type = 0', 'account.1.srtp_encryption = 0']) expect(plain).toContain(line);
  });

  it('NEVER serves another phone: A’s valid credentials on B’s files get 401 and none of B’s data', async () => {
    const mark = logLines.length;
    const aCreds = basic(`prov-${a.mac}`, a.password);
    for (const file of [`cfg${b.mac}.xml`, `${b.mac}.cfg`, `${b.mac}-phone.cfg`]) {
      const res = await fetchFile(file, { auth: aCreds, ip: '198.51.100.23' });
      expect(res.statusCode).toBe(401);
      expect(res.body).not.toContain(SIP_PW.bob);
      expect(res.body).not.toContain('Bob Brown');
      expect(res.body).not.toContain(EXT.bob);
    }
    // and B's own password with A's user name does not open B either
    expect((await fetchFile(`cfg${b.mac}.xml`, { auth: basic(`prov-${a.mac}`, b.password) })).statusCode).toBe(401);
    const failures = logsSince(mark).filter((l) => l['event'] === 'auth-failure');
    expect(failures.length).toBeGreaterThanOrEqual(3);
    expect(failures[0]).toMatchObject({ msg: 'authentication failed', kind: 'provisioning', ip: '198.51.100.23', reason: 'wrong-device', mac: b.mac, level: 40 });
  });

  it('a wrong password is one auth-failure line with the client IP', async () => {
    const mark = logLines.length;
    const res = await fetchFile(`cfg${b.mac}.xml`, { auth: basic(`prov-${b.mac}`, 'guess'), ip: '203.0.113.99' });
    expect(res.statusCode).toBe(401);
    expect(res.headers['www-authenticate']).toMatch(/^Basic /);
    const failures = logsSince(mark).filter((l) => l['event'] === 'auth-failure');
    expect(failures).toEqual([expect.objectContaining({ kind: 'provisioning', ip: '203.0.113.99', reason: 'bad-credentials', mac: b.mac })]);
  });

  it('serves the Grandstream file to its own device', async () => {
    const res = await fetchFile(`cfg${b.mac}.xml`, { auth: basic(`prov-${b.mac}`, b.password) });
    expect(res.statusCode).toBe(200);
    expect(res.headers['content-type']).toMatch(/xml/);
    for (const frag of ['<P271>1</P271>', `<P35>${EXT.bob}</P35>`, `<P36>${EXT.bob}</P36>`, `<P34>${SIP_PW.bob}</P34>`, '<P3>Bob Brown</P3>', '<P47>pbx.site.test:5062</P47>', '<P64>customize</P64>', '<P246>STD-1DST-2,M3.5.0/2:00,M10.5.0/3:00</P246>', `<P303>${EXT.alice}</P303>`, '<P302>Alice Adams</P302>']) {
      expect(res.body).toContain(frag);
    }
  });

  it("each vendor's file maps the queues' Alert-Info to a ring tone and lets the phone auto-answer (docs/acd.md#distinctive-ring)", async () => {
    // Names starting with 0 sort before every other test file's queues, so these are rules 1 and 2.
    const run = Date.now().toString(36);
    const sales = { name: `0prov-ring-a-${run}`, alertInfo: `<http://127.0.0.1>;info=prov-sales-${run}` };
    const vip = { name: `0prov-ring-b-${run}`, alertInfo: '<http://127.0.0.1/Bellcore-dr4>' };
    await sql`insert into queues (name, alert_info) values (${sales.name}, ${sales.alertInfo}), (${vip.name}, ${vip.alertInfo})`.execute(db);
    await sql`insert into agents (number, name, pin_hash, auto_answer) values ('77190', 'Prov Headset', 'x', true)`.execute(db);
    try {
      const yealink = (await fetchFile(`${a.mac}.cfg`, { auth: basic(`prov-${a.mac}`, a.password) })).body.split('\n');
      expect(yealink).toContain(`distinctive_ring_tones.alert_info.1.text = prov-sales-${run}`);
      expect(yealink).toContain('distinctive_ring_tones.alert_info.1.ringer = 2');
      expect(yealink.filter((l) => l.startsWith('distinctive_ring_tones.alert_info.2.'))).toEqual([]); // Bellcore-dr4 is built in
      expect(yealink).toContain('features.auto_answer_tone.enable = 1');

      const grandstream = (await fetchFile(`cfg${b.mac}.xml`, { auth: basic(`prov-${b.mac}`, b.password) })).body;
      for (const frag of [`<P1488>prov-sales-${run}</P1488>`, '<P1489>1</P1489>', '<P1490></P1490>', '<P1491>0</P1491>', '<P298>1</P298>']) expect(grandstream).toContain(frag);

      const polycom = (await fetchFile(`${c.mac}-phone.cfg`, { ip: '10.20.30.40' })).body;
      for (const frag of [
        `voIpProt.SIP.alertInfo.1.value="&lt;http://127.0.0.1&gt;;info=prov-sales-${run}"`,
        'voIpProt.SIP.alertInfo.1.class="custom1"',
        `se.rt.custom1.name="${sales.name}"`,
        'se.rt.custom1.type="ring"',
        'se.rt.custom1.ringer="ringer2"',
        'voIpProt.SIP.alertInfo.2.value="&lt;http://127.0.0.1/Bellcore-dr4&gt;"',
        'voIpProt.SIP.alertInfo.2.class="custom2"',
        'se.rt.custom2.ringer="ringer3"',
        'voIpProt.SIP.alertInfo.11.value="&lt;http://127.0.0.1&gt;;info=alert-autoanswer"',
        'voIpProt.SIP.alertInfo.11.class="ringAutoAnswer"',
      ]) expect(polycom).toContain(frag);
    } finally {
      await sql`delete from agents where number = '77190'`.execute(db);
      await sql`delete from queues where name in (${sales.name}, ${vip.name})`.execute(db);
    }
    // the queue's ring gone, its rule leaves the files
    expect((await fetchFile(`cfg${b.mac}.xml`, { auth: basic(`prov-${b.mac}`, b.password) })).body).not.toContain(`prov-sales-${run}`);
  });

  it('a file of another vendor is not there, even for the right device', async () => {
    const res = await fetchFile(`cfg${a.mac}.xml`, { auth: basic(`prov-${a.mac}`, a.password) });
    expect(res.statusCode).toBe(404);
  });

  it('Polycom: public master file, then per-phone files by IP allowlist; outside it, refused', async () => {
    const master = await fetchFile('000000000000.cfg');
    expect(master.statusCode).toBe(200);
    expect(master.body).toContain('CONFIG_FILES="[MACADDRESS]-phone.cfg"');

    const perMac = await fetchFile(`${c.mac}.cfg`, { ip: '10.20.30.40' });
    expect(perMac.statusCode).toBe(200);
    expect(perMac.body).toContain('<APPLICATION ');

    const phone = await fetchFile(`${c.mac}-phone.cfg`, { ip: '10.20.30.40' });
    expect(phone.statusCode).toBe(200);
    for (const frag of [
      `reg.1.address="${EXT.carol}"`,
      `reg.1.auth.userId="${EXT.carol}"`,
      `reg.1.auth.password="${SIP_PW.carol}"`,
      'reg.1.displayName="Carol Clark"',
      'reg.1.server.1.address="pbx.site.test"',
      'reg.1.server.1.port="5062"',
      'tcpIpApp.sntp.gmtOffset="3600"',
      `attendant.resourceList.1.address="${EXT.alice}"`,
      'attendant.resourceList.2.label="Bob Brown"',
    ]) {
      expect(phone.body).toContain(frag);
    }

    const mark = logLines.length;
    const outside = await fetchFile(`${c.mac}-phone.cfg`, { ip: '10.20.31.40' });
    expect(outside.statusCode).toBe(401);
    expect(outside.body).not.toContain(SIP_PW.carol);
    expect(logsSince(mark)).toContainEqual(expect.objectContaining({ event: 'auth-failure', kind: 'provisioning', ip: '10.20.31.40', reason: 'ip-not-allowed' }));
    expect((await api('GET', `/devices/${c.id}`, viewer)).json().lastProvisionedIp).toBe('10.20.30.40');
  });

  it('an unknown MAC looks exactly like a known one refused (status, body, headers), and both are auth failures', async () => {
    const unknown = 'aa77000001ff';
    const same = (r: Awaited<ReturnType<typeof fetchFile>>) => {
      const headers = { ...r.headers };
      for (const h of ['date', 'x-request-id', 'content-length']) delete headers[h];
      const body = r.json() as { error: Record<string, unknown> };
      delete body.error['requestId'];
      return { status: r.statusCode, headers, body };
    };
    const mark = logLines.length;
    // with credentials: the right user name for the MAC and a wrong password, or another device's credentials
    const wrongPassword = await fetchFile(`${a.mac}.cfg`, { auth: basic(`prov-${a.mac}`, 'guess'), ip: '203.0.113.60' });
    const unknownMac = await fetchFile(`${unknown}.cfg`, { auth: basic(`prov-${unknown}`, 'guess'), ip: '203.0.113.60' });
    const othersCredentials = await fetchFile(`${unknown}.cfg`, { auth: basic(`prov-${a.mac}`, a.password), ip: '203.0.113.60' });
    expect(wrongPassword.statusCode).toBe(401);
    expect(same(unknownMac)).toEqual(same(wrongPassword));
    expect(same(othersCredentials)).toEqual(same(wrongPassword));
    expect(othersCredentials.body).not.toContain(SIP_PW.alice);
    // without credentials: the same challenge, which is no failure for either
    expect(same(await fetchFile(`cfg${unknown}.xml`))).toEqual(same(await fetchFile(`cfg${b.mac}.xml`)));

    const failures = logsSince(mark).filter((l) => l['event'] === 'auth-failure');
    expect(failures).toEqual([
      expect.objectContaining({ kind: 'provisioning', ip: '203.0.113.60', reason: 'bad-credentials', mac: a.mac }),
      expect.objectContaining({ kind: 'provisioning', ip: '203.0.113.60', reason: 'unknown-device', mac: unknown }),
      expect.objectContaining({ kind: 'provisioning', ip: '203.0.113.60', reason: 'unknown-device', mac: unknown }),
    ]);
    // the admin still sees which it was
    expect(logsSince(mark)).toContainEqual(expect.objectContaining({ level: 40, event: 'provisioning', mac: unknown, result: 'denied', reason: 'unknown-device' }));
    // a file name that is no provisioning file at all is simply not there
    expect((await fetchFile('y000000000028.cfg')).statusCode).toBe(404);
  });

  it('rotating credentials stops the old password at once', async () => {
    const rotated = await api('POST', `/devices/${a.id}/rotate-credentials`, admin);
    expect(rotated.statusCode).toBe(200);
    const fresh = rotated.json().secret as string;
    expect(fresh).not.toBe(a.password);
    expect((await fetchFile(`${a.mac}.cfg`, { auth: basic(`prov-${a.mac}`, a.password) })).statusCode).toBe(401);
    expect((await fetchFile(`${a.mac}.cfg`, { auth: basic(`prov-${a.mac}`, fresh) })).statusCode).toBe(200);
    expect((await api('POST', '/devices/999999999/rotate-credentials', admin)).json().error.code).toBe('device-not-found');
    a = { ...a, password: fresh };
  });

  it('hostile display names and passwords cannot break or extend the files', async () => {
    const yl = (await api('POST', '/devices', admin, { mac: 'aa770000010d', vendor: 'yealink', extension: EXT.hostile })).json();
    const gs = (await api('POST', '/devices', admin, { mac: 'aa770000010e', vendor: 'grandstream', extension: EXT.hostile })).json();
    const pc = (await api('POST', '/devices', admin, { mac: 'aa770000010f', vendor: 'polycom', extension: EXT.hostile })).json();

    const ylBody = (await fetchFile(`${yl.mac}.cfg`, { auth: basic(yl.provisioning.username, yl.secret) })).body;
    expect(ylBody.match(/^account\.1\.password = /gm)).toEqual(['account.1.password = ']);
    expect(ylBody).toContain('account.1.display_name = Tom & "Jerry" <boss>account.1.password = stolen\n');
    expect(ylBody).not.toContain('\r');

    const gsBody = (await fetchFile(`cfg${gs.mac}.xml`, { auth: basic(gs.provisioning.username, gs.secret) })).body;
    expect(gsBody).toContain('<P3>Tom &amp; &quot;Jerry&quot; &lt;boss&gt;account.1.password = stolen</P3>');
    expect(gsBody).toContain('<P34>h&amp;&lt;&quot;pw</P34>');
    expect(gsBody.match(/</g)!.length).toBe(gsBody.match(/>/g)!.length);

    const pcBody = (await fetchFile(`${pc.mac}-phone.cfg`, { auth: basic(pc.provisioning.username, pc.secret) })).body;
    expect(pcBody).toContain('reg.1.displayName="Tom &amp; &quot;Jerry&quot; &lt;boss&gt;account.1.password = stolen"');
    expect(pcBody).toContain('reg.1.auth.password="h&amp;&lt;&quot;pw"');
  });

  it('an extension without a SIP account gets 503, not a file with an empty password', async () => {
    const d = (await api('POST', '/devices', admin, { mac: 'aa7700000110', vendor: 'yealink', extension: EXT.noauth })).json();
    const res = await fetchFile(`${d.mac}.cfg`, { auth: basic(d.provisioning.username, d.secret) });
    expect(res.statusCode).toBe(503);
  });

  it('logs every provisioning request with mac, ip and result', () => {
    const requests = logLines.filter((l) => l['event'] === 'provisioning');
    expect(requests.length).toBeGreaterThan(15);
    for (const r of requests) {
      expect(r).toHaveProperty('ip');
      expect(r).toHaveProperty('result');
      expect(r).toHaveProperty('mac');
    }
  });
});
