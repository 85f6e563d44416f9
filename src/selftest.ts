/**
 * `pbx test-call`: place one real SIP call into the local Asterisk and show its CDR.
 * A temporary phone (PJSIP realtime rows) is created for the call and removed afterwards.
 * Needs SIPp (deploy/install.sh installs it) and a running daemon.
 */
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import path from 'node:path';
import { sql } from 'kysely';
import type { Config } from './config.js';
import type { Db } from './db/database.js';
import { searchCdrs } from './calls/repository.js';
import { ROOT } from './paths.js';
import { encodeRealtime } from './shared/realtime.js';
import { SIP_REALM, sipPasswordDigest } from './extensions/sip-credentials.js';

export async function testCall(config: Config, db: Db, dialed: string, out: (line: string) => void): Promise<boolean> {
  if (!/^[0-9*#+]{1,32}$/.test(dialed)) throw new Error('--number must be digits, * # or +');
  const password = randomBytes(18).toString('base64url');
  // A new id each run: Asterisk caches endpoints, auths and AORs for up to 60 s (asterisk/sorcery.conf),
  // and this CLI does not expire them, so an earlier run's phone (another password) must not be reused.
  const phone = `pbx-selftest-${randomBytes(4).toString('hex')}`;
  await db.transaction().execute(async (tx) => {
    // Like an extension's: the digest only, never the password (src/extensions/sip-credentials.ts).
    await sql`insert into ps_auths (id, auth_type, username, realm, password_digest)
              values (${phone}, 'digest', ${phone}, ${SIP_REALM}, ${encodeRealtime(sipPasswordDigest(phone, password))})`.execute(tx);
    await sql`insert into ps_aors (id, max_contacts) values (${phone}, 1)`.execute(tx);
    await sql`insert into ps_endpoints (id, transport, aors, auth, context, disallow, allow, dtmf_mode, callerid)
              values (${phone}, 'transport-udp', ${phone}, ${phone}, 'pbx-inbound', 'all', 'ulaw', 'rfc4733', '"Self test" <0000>')`.execute(tx);
  });
  const since = new Date(Date.now() - 1000);
  try {
    out(`calling ${dialed} through Asterisk at 127.0.0.1:${config.sip.port} (SIPp sends DTMF 1 2 3 #) ...`);
    const code = await new Promise<number | null>((resolve) => {
      const proc = spawn('sipp', [
        `127.0.0.1:${config.sip.port}`, '-sf', path.join(ROOT, 'test/e2e/sipp/uac-dtmf-wait-bye.xml'), '-s', dialed,
        '-key', 'caller', phone, '-au', phone, '-ap', password, '-m', '1', '-l', '1', '-i', '127.0.0.1',
        '-timeout', '40s', '-timeout_error', '-nostdin',
      ], { stdio: 'ignore' });
      proc.once('error', () => resolve(null));
      proc.once('exit', resolve);
    });
    if (code === null) {
      out('FAIL  could not run sipp: install it with deploy/install.sh (package sip-tester)');
      return false;
    }
    if (code !== 0) out(`WARN  SIPp exited ${code}: the call did not go as scripted (is the daemon running? see its log)`);
    // The CDR is written when the call's last channel is gone; on a busy site (or right after
    // Asterisk started) that can take a few seconds, and a write that failed is retried.
    for (let i = 0; i < 60; i++) {
      const [cdr] = await searchCdrs(db, { from: since, dialed, caller: '0000', limit: 1 });
      if (cdr) {
        out(`ok    CDR ${cdr.id}: ${cdr.disposition}, ${cdr.duration_seconds}s (billable ${cdr.billable_seconds}s), digits "${cdr.digits}", ended by ${cdr.ended_by}`);
        out(`      see it with: curl${config.http.tls ? ` --cacert ${config.http.tls.certFile}` : ''} -H "Authorization: Bearer $TOKEN" ${config.http.tls ? 'https' : 'http'}://127.0.0.1:${config.http.port}/api/v1/cdrs?dialed=${encodeURIComponent(dialed)}`);
        return code === 0;
      }
      await new Promise((r) => setTimeout(r, 250));
    }
    out('FAIL  no CDR was written: is `pbx serve` running and connected (GET /health/ready)?');
    return false;
  } finally {
    await db.transaction().execute(async (tx) => {
      await sql`delete from ps_endpoints where id = ${phone}`.execute(tx);
      await sql`delete from ps_auths where id = ${phone}`.execute(tx);
      await sql`delete from ps_aors where id = ${phone}`.execute(tx);
      await sql`delete from ps_contacts where endpoint = ${phone}`.execute(tx);
    });
  }
}
