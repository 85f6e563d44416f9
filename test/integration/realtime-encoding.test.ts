/**
 * Realtime encoding (src/shared/realtime.ts) at the database: what the API writes to the PJSIP
 * realtime tables, what it reads back, and the migration that encodes rows written before.
 */
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { sql } from 'kysely';
import type { App } from '../../src/app.js';
import { AuthService, CLI_ACTOR } from '../../src/auth/service.js';
import { startTestApp } from '../support/app.js';
import { dropTestDatabase } from '../support/db.js';
import { runId } from '../support/env.js';
import { databaseBefore } from '../support/migrations.js';

let app: App;
let admin: string;
const req = (method: 'GET' | 'POST' | 'PATCH', url: string, body?: unknown) =>
  app.http.inject({ method, url, headers: { authorization: `Bearer ${admin}` }, ...(body === undefined ? {} : { payload: body as object }) });

beforeAll(async () => {
  app = await startTestApp();
  admin = (await new AuthService(app.db).createToken(CLI_ACTOR, { username: 'rt-admin', name: 'it', ttlDays: 1, ensureRole: 'admin' })).token;
});
afterAll(async () => {
  await app?.stop();
});

describe('realtime rows are written encoded, read back decoded', () => {
  it("an extension's display name: encoded in callerid, as given in the API", async () => {
    const res = await req('POST', '/api/v1/extensions', { number: '3901', displayName: 'A;B ^22' });
    expect(res.statusCode).toBe(201);
    expect(res.json().displayName).toBe('A;B ^22');
    const ep = await app.db.selectFrom('ps_endpoints').select('callerid').where('id', '=', '3901').executeTakeFirstOrThrow();
    expect(ep.callerid).toBe('"A^3BB ^5E22" <3901>');
    expect((await req('PATCH', '/api/v1/extensions/3901', { displayName: 'x;y' })).json().displayName).toBe('x;y');
    expect((await app.db.selectFrom('ps_endpoints').select('callerid').where('id', '=', '3901').executeTakeFirstOrThrow()).callerid).toBe('"x^3By" <3901>');
    expect((await req('GET', '/api/v1/extensions/3901')).json().displayName).toBe('x;y');
  });

  it('a display name with CR/LF is refused, naming the field, and nothing is written', async () => {
    const res = await req('POST', '/api/v1/extensions', { number: '3902', displayName: 'A\r\nB' });
    expect(res.statusCode).toBe(400);
    expect(res.json().error.details.field).toBe('body.displayName');
    expect(await app.db.selectFrom('ps_endpoints').select('id').where('id', '=', '3902').executeTakeFirst()).toBeUndefined();
  });

  it("a trunk's password and a TCP URI: encoded in the realtime rows; the trunk row keeps the password as given", async () => {
    const res = await req('POST', '/api/v1/trunks', { name: 'semi', kind: 'registration', host: '127.0.0.1', port: 25071, transport: 'tcp', username: 'u1', password: 'p;w^x' });
    expect(res.statusCode).toBe(201);
    const auth = await app.db.selectFrom('ps_auths').select('password').where('id', '=', 'trunk-semi').executeTakeFirstOrThrow();
    expect(auth.password).toBe('p^3Bw^5Ex');
    const aor = await app.db.selectFrom('ps_aors').select('contact').where('id', '=', 'trunk-semi').executeTakeFirstOrThrow();
    expect(aor.contact).toBe('sip:127.0.0.1:25071^3Btransport=tcp');
    const reg = await app.db.selectFrom('ps_registrations').select('server_uri').where('id', '=', 'trunk-semi').executeTakeFirstOrThrow();
    expect(reg.server_uri).toBe('sip:127.0.0.1:25071^3Btransport=tcp');
    expect((await app.db.selectFrom('trunks').select('password').where('name', '=', 'semi').executeTakeFirstOrThrow()).password).toBe('p;w^x');
  });

  it('reads decode: a contact URI Asterisk wrote', async () => {
    await app.db.insertInto('ps_contacts').values({
      id: '3901^3B@rt', uri: 'sip:3901@10.0.0.9:5062^3Btransport=udp', expiration_time: String(Math.floor(Date.now() / 1000) + 300),
      user_agent: 'Phone^3B v1', endpoint: '3901', via_addr: '10.0.0.9', via_port: 5062, reg_server: null,
    }).execute();
    const ext = (await req('GET', '/api/v1/extensions/3901')).json();
    expect(ext.registration.contacts[0]).toMatchObject({ uri: 'sip:3901@10.0.0.9:5062;transport=udp', userAgent: 'Phone; v1' });
  });
});

describe('migration 2026-12-03T00-00-00_realtime_encoding', () => {
  const settings = { ...inject('db'), name: `pbx_it_rtmig_${runId()}` };
  const MIGRATION = '2026-12-03T00-00-00_realtime_encoding';

  afterAll(async () => {
    await dropTestDatabase(settings);
  });

  it("encodes the values written before in the daemon's own rows (only those), and down decodes them", async () => {
    const { db, migrator, before } = await databaseBefore(settings, MIGRATION);
    try {

      await sql`insert into extensions (number, display_name) values ('5001', 'A;B ^22')`.execute(db);
      await sql`insert into trunks (name, kind, host, port, transport, username, password) values ('old', 'registration', 'h.example', 5060, 'tcp', 'u', 'p;w^x')`.execute(db);
      await sql`insert into ps_endpoints (id, callerid) values ('5001', '"A;B ^22" <5001>'), ('trunk-old', null), ('manual', '"m;x" <9>')`.execute(db);
      await sql`insert into ps_auths (id, username, password) values ('5001', '5001', 'Abc23'), ('trunk-old', 'u', 'p;w^x')`.execute(db);
      await sql`insert into ps_aors (id, contact) values ('5001', null), ('trunk-old', 'sip:h.example:5060;transport=tcp')`.execute(db);
      await sql`insert into ps_registrations (id, server_uri, client_uri, contact_user) values ('trunk-old', 'sip:h.example:5060;transport=tcp', 'sip:u@h.example:5060', 'u')`.execute(db);

      expect((await migrator.migrateTo(MIGRATION)).error).toBeUndefined();
      const one = async (table: string, column: string, id: string) =>
        (await sql<{ v: string | null }>`select ${sql.ref(column)} as v from ${sql.table(table)} where id = ${id}`.execute(db)).rows[0]?.v;
      expect(await one('ps_endpoints', 'callerid', '5001')).toBe('"A^3BB ^5E22" <5001>');
      expect(await one('ps_endpoints', 'callerid', 'manual')).toBe('"m;x" <9>'); // not the daemon's: left alone
      expect(await one('ps_auths', 'password', '5001')).toBe('Abc23');
      expect(await one('ps_auths', 'password', 'trunk-old')).toBe('p^3Bw^5Ex');
      expect(await one('ps_aors', 'contact', 'trunk-old')).toBe('sip:h.example:5060^3Btransport=tcp');
      expect(await one('ps_registrations', 'server_uri', 'trunk-old')).toBe('sip:h.example:5060^3Btransport=tcp');
      // Room for an 80-character trunk password of semicolons, encoded.
      await sql`update ps_auths set password = ${'^3B'.repeat(80)} where id = 'trunk-old'`.execute(db);

      await sql`update ps_auths set password = 'p^3Bw^5Ex' where id = 'trunk-old'`.execute(db);
      expect((await migrator.migrateTo(before)).error).toBeUndefined();
      expect(await one('ps_endpoints', 'callerid', '5001')).toBe('"A;B ^22" <5001>');
      expect(await one('ps_auths', 'password', 'trunk-old')).toBe('p;w^x');
      expect(await one('ps_aors', 'contact', 'trunk-old')).toBe('sip:h.example:5060;transport=tcp');
    } finally {
      await db.destroy();
    }
  });
});
