/**
 * Migration 2026-12-07T03-00-00_sip_password_digest: extensions' SIP passwords leave ps_auths (the
 * table Asterisk reads) for their digest, and go sealed under PBX_SECRET_KEY into sip_secrets,
 * where provisioning opens them (src/provisioning/repository.ts sipPassword). Trunks' rows keep their
 * plaintext. Without the key, the migration stops and changes nothing.
 */
import { createHash } from 'node:crypto';
import { afterAll, afterEach, describe, expect, inject, it } from 'vitest';
import { sql } from 'kysely';
import { sipPassword } from '../../src/provisioning/repository.js';
import { dropTestDatabase } from '../support/db.js';
import { runId, TEST_SECRET_KEY, testSecretBox } from '../support/env.js';
import { databaseBefore } from '../support/migrations.js';

const MIGRATION = '2026-12-07T03-00-00_sip_password_digest';
const settings = { ...inject('db'), name: `pbx_it_sipdigest_${runId()}` };
const keyBefore = process.env['PBX_SECRET_KEY'];
const md5 = (text: string) => createHash('md5').update(text, 'utf8').digest('hex');

afterEach(() => {
  if (keyBefore === undefined) delete process.env['PBX_SECRET_KEY'];
  else process.env['PBX_SECRET_KEY'] = keyBefore;
});
afterAll(async () => {
  await dropTestDatabase(settings);
});

describe(`migration ${MIGRATION}`, () => {
  it('moves each extension\'s password to its digest and a sealed copy; trunks keep theirs; down puts it back', async () => {
    const { db, migrator, before } = await databaseBefore(settings, MIGRATION);
    try {
      for (const n of ['4101', '4102', '4103']) await sql`insert into extensions (number, display_name) values (${n}, ${`Ext ${n}`})`.execute(db);
      // as the daemon wrote them before: userpass, realtime-encoded (4102's password is `a;b^c`)
      await sql`insert into ps_auths (id, auth_type, username, password) values
        ('4101', 'userpass', '4101', 'Plain4101pw'), ('4102', 'userpass', '4102', 'a^3Bb^5Ec'),
        ('trunk-acme', 'userpass', 'acmeuser', 'trunk^3Bpw')`.execute(db);
      // 4103 has no SIP password (no auth row): nothing to move

      // without PBX_SECRET_KEY: refused, naming the setting, and nothing changed (one transaction)
      delete process.env['PBX_SECRET_KEY'];
      const refused = await migrator.migrateTo(MIGRATION);
      expect(String(refused.error)).toMatch(/PBX_SECRET_KEY/);
      expect((await sql<{ n: number }>`select count(*)::int as n from ps_auths where password is not null`.execute(db)).rows[0]!.n).toBe(3);

      process.env['PBX_SECRET_KEY'] = TEST_SECRET_KEY;
      expect((await migrator.migrateTo(MIGRATION)).error).toBeUndefined();
      const auths = await db.selectFrom('ps_auths').select(['id', 'auth_type', 'username', 'realm', 'password', 'password_digest']).orderBy('id').execute();
      expect(auths).toEqual([
        { id: '4101', auth_type: 'digest', username: '4101', realm: 'pbx', password: null, password_digest: `md5:${md5('4101:pbx:Plain4101pw')}` },
        { id: '4102', auth_type: 'digest', username: '4102', realm: 'pbx', password: null, password_digest: `md5:${md5('4102:pbx:a;b^c')}` },
        { id: 'trunk-acme', auth_type: 'userpass', username: 'acmeuser', realm: null, password: 'trunk^3Bpw', password_digest: null },
      ]);
      const sealed = await db.selectFrom('sip_secrets').select(['extension_number', 'sealed_password']).orderBy('extension_number').execute();
      expect(sealed.map((r) => r.extension_number)).toEqual(['4101', '4102']);
      for (const r of sealed) expect(r.sealed_password).toMatch(/^v1:[A-Za-z0-9+/=]+:[A-Za-z0-9+/=]+:[A-Za-z0-9+/=]+$/);
      expect(JSON.stringify(sealed)).not.toContain('Plain4101pw');
      // the daemon opens them with the same key, and only for their own extension
      const box = testSecretBox();
      expect(await sipPassword(db, box, '4101')).toBe('Plain4101pw');
      expect(await sipPassword(db, box, '4102')).toBe('a;b^c');
      expect(await sipPassword(db, box, '4103')).toBeUndefined();
      await sql`update sip_secrets set sealed_password = ${sealed[0]!.sealed_password} where extension_number = '4102'`.execute(db);
      await expect(sipPassword(db, box, '4102')).rejects.toThrow(/does not open/);
      await sql`update sip_secrets set sealed_password = ${sealed[1]!.sealed_password} where extension_number = '4102'`.execute(db);
      // deleting an extension takes its sealed password with it
      await sql`delete from ps_auths where id = '4101'`.execute(db);
      await sql`delete from extensions where number = '4101'`.execute(db);
      expect(await sipPassword(db, box, '4101')).toBeUndefined();

      expect((await migrator.migrateTo(before)).error).toBeUndefined();
      expect(await db.selectFrom('ps_auths').select(['id', 'auth_type', 'realm', 'password', 'password_digest']).orderBy('id').execute()).toEqual([
        { id: '4102', auth_type: 'userpass', realm: null, password: 'a^3Bb^5Ec', password_digest: null },
        { id: 'trunk-acme', auth_type: 'userpass', realm: null, password: 'trunk^3Bpw', password_digest: null },
      ]);
      expect((await sql<{ t: string | null }>`select to_regclass('sip_secrets')::text as t`.execute(db)).rows[0]!.t).toBeNull();
    } finally {
      await db.destroy();
    }
  });
});
