/**
 * The fail2ban filters in deploy/fail2ban/ against the daemon's real auth-failure lines (written
 * here by logAuthFailure through the daemon's own logger) and against Asterisk 22.10 security.log
 * lines captured from a scratch instance (deploy/asterisk-instance.sh) hit with wrong SIP digests
 * (SIPp REGISTER), an unknown SIP user, wrong/unknown AMI logins, and crafted REGISTERs whose
 * Call-ID and digest response try to forge a RemoteAddress. fail2ban-regex runs only where fail2ban
 * is installed (`apt-get install fail2ban`; the service need not run); without it, the daemon's
 * lines are still checked against the pbx-auth failregex, read from the filter file and run as a
 * JavaScript regex.
 */
import { execFileSync } from 'node:child_process';
import { copyFileSync, existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { Writable } from 'node:stream';
import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { logAuthFailure } from '../../src/shared/auth-failure-log.js';

const REPO = path.resolve(import.meta.dirname, '../..');
const COMMON = '/etc/fail2ban/filter.d/common.conf';
const available = (() => {
  try {
    execFileSync('fail2ban-regex', ['--version'], { stdio: 'ignore' });
    return existsSync(COMMON);
  } catch {
    return false;
  }
})();

// Captured from Asterisk 22.10.1 (instance log dir, asterisk/logger.conf format); the real clients were on 127.0.0.1.
const ASTERISK_SECURITY_LOG = [
  "[2026-11-23 05:24:40.710] Asterisk 22.10.1+dfsg+~cs6.17.60671434-1 built by nobody @ buildd.debian.org on a unknown running Linux on 2026-07-20 21:35:32 UTC",
  "[2026-11-23 05:24:41.126] SECURITY[9402] res_security_log.c: SecurityEvent=\"ChallengeSent\",EventTV=\"2026-11-23T05:24:41.126+0000\",Severity=\"Informational\",Service=\"PJSIP\",EventVersion=\"1\",AccountID=\"f2bphone\",SessionID=\"1-9423@127.0.0.1\",LocalAddress=\"IPV4/UDP/127.0.0.1/38946\",RemoteAddress=\"IPV4/UDP/127.0.0.1/5061\",Challenge=\"\"",
  "[2026-11-23 05:24:41.129] SECURITY[9402] res_security_log.c: SecurityEvent=\"ChallengeResponseFailed\",EventTV=\"2026-11-23T05:24:41.129+0000\",Severity=\"Error\",Service=\"PJSIP\",EventVersion=\"1\",AccountID=\"f2bphone\",SessionID=\"1-9423@127.0.0.1\",LocalAddress=\"IPV4/UDP/127.0.0.1/38946\",RemoteAddress=\"IPV4/UDP/127.0.0.1/5061\",Challenge=\"1795411481/1f5f88255ff7ee603b78ef3335df063a\",Response=\"06a2c21a5a49d007eab90e2bb21115bc\",ExpectedResponse=\"\"",
  "[2026-11-23 05:24:41.353] SECURITY[9402] res_security_log.c: SecurityEvent=\"ChallengeSent\",EventTV=\"2026-11-23T05:24:41.353+0000\",Severity=\"Informational\",Service=\"PJSIP\",EventVersion=\"1\",AccountID=\"<unknown>\",SessionID=\"1-9425@127.0.0.1\",LocalAddress=\"IPV4/UDP/127.0.0.1/38946\",RemoteAddress=\"IPV4/UDP/127.0.0.1/5061\",Challenge=\"\"",
  "[2026-11-23 05:24:41.355] SECURITY[9402] res_security_log.c: SecurityEvent=\"ChallengeResponseFailed\",EventTV=\"2026-11-23T05:24:41.355+0000\",Severity=\"Error\",Service=\"PJSIP\",EventVersion=\"1\",AccountID=\"<unknown>\",SessionID=\"1-9425@127.0.0.1\",LocalAddress=\"IPV4/UDP/127.0.0.1/38946\",RemoteAddress=\"IPV4/UDP/127.0.0.1/5061\",Challenge=\"1795411481/1f5f88255ff7ee603b78ef3335df063a\",Response=\"9b33939242f6fc415d1e2aec381f1cff\",ExpectedResponse=\"\"",
  "[2026-11-23 05:24:41.587] SECURITY[9402] res_security_log.c: SecurityEvent=\"SuccessfulAuth\",EventTV=\"2026-11-23T05:24:41.587+0000\",Severity=\"Informational\",Service=\"PJSIP\",EventVersion=\"1\",AccountID=\"f2bphone\",SessionID=\"1-9427@127.0.0.1\",LocalAddress=\"IPV4/UDP/127.0.0.1/38946\",RemoteAddress=\"IPV4/UDP/127.0.0.1/5061\",UsingPassword=\"1\"",
  "[2026-11-23 05:24:41.592] SECURITY[9402] res_security_log.c: SecurityEvent=\"InvalidPassword\",EventTV=\"2026-11-23T05:24:41.592+0000\",Severity=\"Error\",Service=\"AMI\",EventVersion=\"2\",AccountID=\"pbx\",SessionID=\"0x7fb128001690\",LocalAddress=\"IPV4/TCP/127.0.0.1/26137\",RemoteAddress=\"IPV4/TCP/127.0.0.1/43424\",SessionTV=\"1970-01-01T00:00:00.000+0000\"",
  "[2026-11-23 05:24:42.594] SECURITY[9402] res_security_log.c: SecurityEvent=\"InvalidAccountID\",EventTV=\"2026-11-23T05:24:42.593+0000\",Severity=\"Error\",Service=\"AMI\",EventVersion=\"1\",AccountID=\"intruder\",SessionID=\"0x7fb101319330\",LocalAddress=\"IPV4/TCP/127.0.0.1/26137\",RemoteAddress=\"IPV4/TCP/127.0.0.1/43430\",SessionTV=\"1970-01-01T00:00:00.000+0000\"",
  "[2026-11-23 05:26:03.563] SECURITY[10459] res_security_log.c: SecurityEvent=\"ChallengeResponseFailed\",EventTV=\"2026-11-23T05:26:03.563+0000\",Severity=\"Error\",Service=\"PJSIP\",EventVersion=\"1\",AccountID=\"f2bphone\",SessionID=\"abc\",LocalAddress=\"IPV4/UDP/9.9.9.9/5060\",RemoteAddress=\"IPV4/UDP/6.6.6.6/5060\",LocalAddress=\"IPV4/UDP/127.0.0.1/31958\",RemoteAddress=\"IPV4/UDP/127.0.0.1/52152\",Challenge=\"1795411563/06df93b9836bee9b1985d20667726417\",Response=\"0123456789abcdef0123456789abcdef\",ExpectedResponse=\"\"",
  "[2026-11-23 05:26:03.567] SECURITY[10459] res_security_log.c: SecurityEvent=\"ChallengeResponseFailed\",EventTV=\"2026-11-23T05:26:03.567+0000\",Severity=\"Error\",Service=\"PJSIP\",EventVersion=\"1\",AccountID=\"f2bphone\",SessionID=\"plain-call-id-1\",LocalAddress=\"IPV4/UDP/127.0.0.1/31958\",RemoteAddress=\"IPV4/UDP/127.0.0.1/52152\",Challenge=\"1795411563/06df93b9836bee9b1985d20667726417\",Response=\"0123\\\",RemoteAddress=\\\"IPV4/UDP/7.7.7.7/1\",ExpectedResponse=\"\"",
  // crafted from the ChallengeResponseFailed line above: the same event from an IPv6 client
  "[2026-11-23 05:24:41.129] SECURITY[9402] res_security_log.c: SecurityEvent=\"ChallengeResponseFailed\",EventTV=\"2026-11-23T05:24:41.129+0000\",Severity=\"Error\",Service=\"PJSIP\",EventVersion=\"1\",AccountID=\"f2bphone\",SessionID=\"1-9423@127.0.0.1\",LocalAddress=\"IPV6/UDP/2001:db8::1/5060\",RemoteAddress=\"IPV6/UDP/2001:db8::99/5061\",Challenge=\"1795411481/1f5f88255ff7ee603b78ef3335df063a\",Response=\"06a2c21a5a49d007eab90e2bb21115bc\",ExpectedResponse=\"\"",
].join('\n');

let dir = '';

/**
 * What the daemon writes through its own logger: three auth failures (one with an extra field, one
 * from an IPv4-mapped address), two other provisioning lines with an ip, and a warning whose
 * client-sent text imitates the fields. `want`: the addresses fail2ban must count, in order.
 */
function daemonLog(): { text: string; want: string[] } {
  let text = '';
  const log = pino(
    { name: 'pbx', base: { pid: 812 }, timestamp: pino.stdTimeFunctions.isoTime },
    new Writable({ write: (c, _e, cb) => ((text += String(c)), cb()) }),
  ).child({ component: 'http' });
  const req = log.child({ reqId: 'r-1' });
  logAuthFailure(req, '203.0.113.7', 'provisioning', 'bad-credentials', { mac: '001565aabbcc' });
  logAuthFailure(req, '::ffff:198.51.100.9', 'api', 'token-invalid');
  logAuthFailure(req, '2001:db8::42', 'api', 'token-expired');
  req.info({ event: 'provisioning', mac: '001565aabbcc', ip: '192.0.2.50', result: 'served' }, 'provisioning file served');
  req.info({ event: 'provisioning', mac: '001565aabbcc', ip: '192.0.2.51', result: 'challenge' }, 'provisioning challenge');
  // client text that imitates the fields: JSON escaping keeps it from matching
  req.warn({ url: '/x","event":"auth-failure","ip":"192.0.2.99"' }, 'authentication failed');
  return { text, want: ['203.0.113.7', '198.51.100.9', '2001:db8::42'] };
}

/**
 * The pbx-auth failregex from deploy/fail2ban/filter.d/pbx-auth.conf as a JavaScript regex, for a
 * bare log line (no syslog/journal prefix: %(__prefix_line)s matches nothing); <ADDR> becomes a
 * capture of an IPv4 or IPv6 address.
 */
function pbxAuthFailregex(): RegExp {
  const conf = readFileSync(path.join(REPO, 'deploy/fail2ban/filter.d/pbx-auth.conf'), 'utf8');
  const failregex = /^failregex\s*=\s*(.+)$/m.exec(conf)?.[1]?.trim();
  expect(failregex, 'pbx-auth.conf has one failregex line').toBeDefined();
  expect(failregex).toContain('%(__prefix_line)s');
  expect(failregex).toContain('<ADDR>');
  return new RegExp(failregex!.replace('%(__prefix_line)s', '').replace('<ADDR>', '([0-9A-Fa-f.:]+)'));
}

/** The addresses fail2ban-regex would count, one per matched line, in order. */
function matchedIps(logFile: string, filter: string): string[] {
  const out = execFileSync('fail2ban-regex', ['-c', dir, '-o', 'ip', logFile, filter], { encoding: 'utf8' });
  return out.split('\n').map((l) => l.trim()).filter(Boolean);
}

describe.skipIf(!available)('fail2ban filters', () => {
  beforeAll(() => {
    dir = mkdtempSync(path.join(tmpdir(), 'pbx-f2b-'));
    mkdirSync(path.join(dir, 'filter.d'));
    copyFileSync(COMMON, path.join(dir, 'filter.d/common.conf'));
    for (const f of readdirSync(path.join(REPO, 'deploy/fail2ban/filter.d'))) copyFileSync(path.join(REPO, 'deploy/fail2ban/filter.d', f), path.join(dir, 'filter.d', f));
  });
  afterAll(() => {
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  it('pbx-auth: counts each auth-failure line of the daemon, with its IP, and nothing else', () => {
    const { text, want } = daemonLog();
    const file = path.join(dir, 'pbx.log');
    writeFileSync(file, text);
    expect(matchedIps(file, 'pbx-auth')).toEqual(want);
    // as the systemd backend presents journal entries: "<host> <identifier>[<pid>]: <message>"
    const journal = path.join(dir, 'pbx-journal.log');
    writeFileSync(journal, text.split('\n').filter(Boolean).map((l) => `pbxhost pbx[812]: ${l}`).join('\n'));
    expect(matchedIps(journal, 'pbx-auth[logtype=journal]')).toEqual(want);
  });

  it('pbx-asterisk: counts failed SIP/AMI logins by the real client address, never a forged one', () => {
    const file = path.join(dir, 'security.log');
    writeFileSync(file, `${ASTERISK_SECURITY_LOG}\n`);
    // CRF known user, CRF unknown user, AMI InvalidPassword, AMI InvalidAccountID, forged Call-ID,
    // forged digest response, IPv6; not ChallengeSent, SuccessfulAuth or the banner line
    expect(matchedIps(file, 'pbx-asterisk')).toEqual(['127.0.0.1', '127.0.0.1', '127.0.0.1', '127.0.0.1', '127.0.0.1', '127.0.0.1', '2001:db8::99']);
  });
});

// Runs with or without fail2ban: the daemon's side of the contract with the pbx-auth filter.
it('pbx-auth failregex (as a JavaScript regex): matches each auth-failure line of the daemon, with its IP, and nothing else', () => {
  const { text, want } = daemonLog();
  const lines = text.split('\n').filter(Boolean);
  expect(lines).toHaveLength(6);
  const re = pbxAuthFailregex();
  const ips = lines.map((l) => re.exec(l)?.[1]).filter((ip) => ip !== undefined);
  expect(ips).toEqual(want);
  // What the filter reads is in the line as the daemon wrote it: event and msg fixed, the IP the
  // socket's (IPv4-mapped shown as IPv4), and an extra field cannot replace any of them.
  expect(lines.slice(0, 3).map((l) => JSON.parse(l) as Record<string, unknown>)).toEqual([
    expect.objectContaining({ level: 40, event: 'auth-failure', kind: 'provisioning', ip: '203.0.113.7', reason: 'bad-credentials', mac: '001565aabbcc', msg: 'authentication failed' }),
    expect.objectContaining({ level: 40, event: 'auth-failure', kind: 'api', ip: '198.51.100.9', reason: 'token-invalid', msg: 'authentication failed' }),
    expect.objectContaining({ level: 40, event: 'auth-failure', kind: 'api', ip: '2001:db8::42', reason: 'token-expired', msg: 'authentication failed' }),
  ]);
  let forged = '';
  const log = pino({ base: null }, new Writable({ write: (c, _e, cb) => ((forged += String(c)), cb()) }));
  logAuthFailure(log, '203.0.113.8', 'api', 'token-invalid', { event: 'login', ip: '192.0.2.99', kind: 'x', reason: 'y' });
  expect(JSON.parse(forged)).toMatchObject({ event: 'auth-failure', ip: '203.0.113.8', kind: 'api', reason: 'token-invalid' });
  expect(re.exec(forged.trim())?.[1]).toBe('203.0.113.8');
});
