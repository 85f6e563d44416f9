/**
 * Admin text that Asterisk reads through PJSIP realtime reaches it exactly (issue #21, finding 2):
 * Asterisk splits realtime text at `;` and decodes `^XX`, so the daemon writes it encoded
 * (src/shared/realtime.ts). Each field is read back from Asterisk itself (`pjsip show ...`).
 */
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import path from 'node:path';
import { tmpdir } from 'node:os';
import { Daemon, eventually } from '../support/daemon.js';
import { asteriskInstance, REPO } from '../support/asterisk.js';
import { registerPhone } from '../support/sipp.js';
import { freePort } from '../support/ports.js';
import { apiClient, startReadyDaemon } from '../support/pbx.js';
import { openDb } from '../support/db.js';
import { sipPasswordDigest } from '../../src/extensions/sip-credentials.js';
import { spawn } from 'node:child_process';

const world = inject('e2e');
const PROVIDER_IP = '127.0.0.3'; // not 127.0.0.1: an identify on the phones' address would take their calls
let daemon: Daemon;
let admin: ReturnType<typeof apiClient>;
const trunkIds: string[] = [];

const rx = (command: string) => asteriskInstance('rx', world.asteriskEnv, command);
/** One `name : value` line of a `pjsip show ...` object, as Asterisk holds it. */
async function shown(command: string, field: string): Promise<string | undefined> {
  const out = await rx(command);
  const line = out.split('\n').find((l) => new RegExp(`^\\s*${field}\\s+:`).test(l));
  return line?.replace(/^\s*\S+\s+: /, '');
}

beforeAll(async () => {
  ({ daemon, admin } = await startReadyDaemon(world.daemonEnv));
});

afterAll(async () => {
  for (const id of trunkIds) await admin('DELETE', `/api/v1/trunks/${id}`).catch(() => undefined);
  await daemon?.stop();
});

describe('realtime values reach Asterisk as given', () => {
  it("an extension's display name with ^XX, ; and ^ is Asterisk's caller ID name, exactly; the API returns it as given", async () => {
    const name = '^22^3C^0D^0A Ann;comment ^';
    const made = await admin('POST', '/api/v1/extensions', { number: '4001', displayName: name });
    expect(made.status, JSON.stringify(made.body)).toBe(201);
    expect(await shown('pjsip show endpoint 4001', 'callerid')).toBe(`"${name}" <4001>`);
    expect((await admin('GET', '/api/v1/extensions/4001')).body.displayName).toBe(name);

    const renamed = 'R;D ^3b^';
    expect((await admin('PATCH', '/api/v1/extensions/4001', { displayName: renamed })).status).toBe(200);
    expect(await shown('pjsip show endpoint 4001', 'callerid')).toBe(`"${renamed}" <4001>`);
    expect((await admin('GET', '/api/v1/extensions/4001')).body.displayName).toBe(renamed);

    // Asterisk holds the digest of the rotated password (never the password: sip-credentials.ts),
    // and a phone registers with the password.
    const { secret: sipPassword } = (await admin('POST', '/api/v1/extensions/4001/rotate-password')).body as { secret: string };
    expect(await shown('pjsip show auth 4001', 'password_digest')).toBe(`MD5:${sipPasswordDigest('4001', sipPassword).slice('md5:'.length)}`);
    expect(await rx('pjsip show auth 4001')).not.toContain(sipPassword);
    const reg = await registerPhone({ sipPort: world.sipPort, ext: '4001', password: sipPassword, port: await freePort(true) });
    expect(reg.code, reg.output).toBe(0);
    const ext = await eventually(async () => {
      const res = await admin('GET', '/api/v1/extensions/4001');
      return res.body.registration.registered ? res.body : undefined;
    }, 10_000, 'registered');
    expect(ext.registration.contacts[0].uri).toMatch(/^sip:4001@127\.0\.0\.1:\d+$/);
    // Asterisk writes its own rows encoded as well (the contact id `4001;@<hash>` as `4001^3B@<hash>`),
    // which is why the daemon decodes what it reads from ps_contacts.
    const db = openDb(world.db);
    try {
      const contact = await db.selectFrom('ps_contacts').select('id').where('endpoint', '=', '4001').executeTakeFirstOrThrow();
      expect(contact.id).toMatch(/^4001\^3B@[0-9a-f]+$/);
    } finally {
      await db.destroy();
    }
  });

  it('a display name with a line break or another control character is refused, naming the field', async () => {
    for (const displayName of ['Ann\r\nX-Evil: 1', 'tab\there']) {
      const res = await admin('POST', '/api/v1/extensions', { number: '4002', displayName });
      expect(res.status).toBe(400);
      expect(JSON.stringify(res.body)).toContain('displayName');
    }
  });

  it("a registration trunk's password with ; and ^ is Asterisk's password, and the provider accepts the registration", async () => {
    const password = 'pa;ss^wo^3Brd;';
    const port = await freePort(true);
    const logFile = path.join(tmpdir(), `pbx-e2e-registrar-${port}.log`);
    // A registrar that accepts only that user and password (digest checked by SIPp's verifyauth).
    const registrar = spawn('sipp', [
      '-sf', path.join(REPO, 'test/e2e/sipp/uas-register.xml'), '-i', PROVIDER_IP, '-p', String(port),
      '-set', 'user', 'provuser', '-set', 'pass', password, '-m', '1000', '-timeout', '60s', '-nostdin',
      '-trace_msg', '-message_file', logFile,
    ], { stdio: 'ignore' });
    try {
      const res = await admin('POST', '/api/v1/trunks', { name: 'semi', kind: 'registration', host: PROVIDER_IP, port, username: 'provuser', password });
      expect(res.status, JSON.stringify(res.body)).toBe(201);
      trunkIds.push(res.body.id);
      expect(await shown('pjsip show auth trunk-semi', 'password')).toBe(password);
      const status = await eventually(async () => {
        const line = (await rx('pjsip show registrations')).split('\n').find((l) => l.includes('trunk-semi/'));
        return line && /\bRegistered\b/.test(line) ? line : undefined;
      }, 15_000, `trunk-semi registered (SIPp messages: ${logFile})`);
      expect(status).toContain('Registered');
    } finally {
      registrar.kill('SIGKILL');
    }
  });

  it("a TCP trunk's URI (;transport=tcp) reaches Asterisk whole: its AOR loads with that contact", async () => {
    const res = await admin('POST', '/api/v1/trunks', { name: 'tcp', kind: 'ip', host: '127.0.0.4', port: 5099, transport: 'tcp' });
    expect(res.status, JSON.stringify(res.body)).toBe(201);
    trunkIds.push(res.body.id);
    expect(await shown('pjsip show aor trunk-tcp', 'contact')).toBe('sip:127.0.0.4:5099;transport=tcp');
  });
});
