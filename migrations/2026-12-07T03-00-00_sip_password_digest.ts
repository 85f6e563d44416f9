import { createCipheriv, createDecipheriv, createHash, randomBytes } from 'node:crypto';
import { sql, type Kysely } from 'kysely';

// Frozen in time: never import from src/.
//
// Extensions' SIP passwords leave the table Asterisk reads (issue #21). Until now ps_auths held
// each extension's password in plaintext (auth_type=userpass), readable by anyone with the
// database login in Asterisk's res_pgsql.conf. From now on:
//  - ps_auths: auth_type=digest, realm=pbx, password_digest=md5:<MD5(username:pbx:password)>,
//    password NULL (Asterisk 22.2+ form; auth_type=md5 + md5_cred are deprecated in 22);
//  - sip_secrets: the password sealed with AES-256-GCM under PBX_SECRET_KEY (the env file; the
//    process running the migration has it), for the phones' provisioning files. Sealed text:
//    v1:<iv>:<tag>:<ciphertext> (base64), additional data `sip-password:<number>`; the daemon's
//    src/shared/secret-box.ts reads this format.
// Only extensions' rows change; trunks keep their plaintext (registering to a carrier needs it).
// Stored values are realtime-encoded (`^XX`); the hash and the sealed copy are of the decoded
// password, as Asterisk read it.

const REALM = 'pbx';

function secretKey(): Buffer {
  const text = (process.env['PBX_SECRET_KEY'] ?? '').trim();
  const key = Buffer.from(text, 'base64');
  if (!/^[A-Za-z0-9+/]{43}=$/.test(text) || key.length !== 32) {
    throw new Error('PBX_SECRET_KEY (32 bytes in base64) is needed to move the extensions\' SIP passwords out of ps_auths: run `make setup` (it adds one to the env file), then migrate again');
  }
  return key;
}

const context = (number: string): string => `sip-password:${number}`;

function seal(key: Buffer, plaintext: string, number: string): string {
  const iv = randomBytes(12);
  const cipher = createCipheriv('aes-256-gcm', key, iv);
  cipher.setAAD(Buffer.from(context(number), 'utf8'));
  const data = Buffer.concat([cipher.update(plaintext, 'utf8'), cipher.final()]);
  return ['v1', iv.toString('base64'), cipher.getAuthTag().toString('base64'), data.toString('base64')].join(':');
}

function open(key: Buffer, sealed: string, number: string): string {
  const [, iv, tag, data] = sealed.split(':');
  const decipher = createDecipheriv('aes-256-gcm', key, Buffer.from(iv ?? '', 'base64'));
  decipher.setAAD(Buffer.from(context(number), 'utf8'));
  decipher.setAuthTag(Buffer.from(tag ?? '', 'base64'));
  return Buffer.concat([decipher.update(Buffer.from(data ?? '', 'base64')), decipher.final()]).toString('utf8');
}

/** `^XX` decoded byte-wise, as Asterisk reads a realtime value. */
function decode(text: string): string {
  const bytes = Buffer.from(text, 'utf8');
  const out: number[] = [];
  for (let i = 0; i < bytes.length; i++) {
    const hex = bytes[i] === 0x5e ? bytes.subarray(i + 1, i + 3).toString('latin1') : '';
    if (/^[0-9A-Fa-f]{2}$/.test(hex)) {
      out.push(parseInt(hex, 16));
      i += 2;
    } else {
      out.push(bytes[i]!);
    }
  }
  return Buffer.from(out).toString('utf8');
}

const encode = (value: string): string => value.replace(/[\^;]/g, (c) => (c === '^' ? '^5E' : '^3B'));

export async function up(db: Kysely<any>): Promise<void> {
  await sql`create table sip_secrets (
    extension_number varchar(16) primary key references extensions(number) on delete cascade,
    sealed_password text not null,
    updated_at timestamptz not null default now()
  )`.execute(db);
  const rows = await sql<{ id: string; username: string | null; password: string }>`
    select a.id, a.username, a.password from ps_auths a join extensions e on e.number = a.id
    where a.password is not null`.execute(db);
  if (rows.rows.length === 0) return;
  const key = secretKey();
  for (const r of rows.rows) {
    const password = decode(r.password);
    const username = decode(r.username ?? r.id);
    const digest = `md5:${createHash('md5').update(`${username}:${REALM}:${password}`, 'utf8').digest('hex')}`;
    await sql`insert into sip_secrets (extension_number, sealed_password) values (${r.id}, ${seal(key, password, r.id)})`.execute(db);
    await sql`update ps_auths set auth_type = 'digest', realm = ${REALM}, password_digest = ${digest}, password = null where id = ${r.id}`.execute(db);
  }
}

// Back to plaintext in ps_auths (auth_type=userpass), from the sealed copies.
export async function down(db: Kysely<any>): Promise<void> {
  const rows = await sql<{ extension_number: string; sealed_password: string }>`select extension_number, sealed_password from sip_secrets`.execute(db);
  const key = rows.rows.length > 0 ? secretKey() : null;
  for (const r of rows.rows) {
    const password = open(key!, r.sealed_password, r.extension_number);
    await sql`update ps_auths set auth_type = 'userpass', password = ${encode(password)}, realm = null, password_digest = null where id = ${r.extension_number}`.execute(db);
  }
  await sql`drop table sip_secrets`.execute(db);
}
