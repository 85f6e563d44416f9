/**
 * The fail2ban filters in deploy/fail2ban/ against the daemon's real auth-failure lines (written
 * here by logAuthFailure through the daemon's own logger) and against Asterisk 22.10 security.log
 * lines captured from a scratch instance (deploy/asterisk-instance.sh) hit with wrong SIP digests
 * (SIPp REGISTER), an unknown SIP user, wrong/unknown AMI logins, and crafted REGISTERs whose
 * Call-ID and digest response try to forge a RemoteAddress. fail2ban-regex runs only where fail2ban
 * is installed (`apt-get install fail2ban`, as deploy/install.sh does; the service need not run),
 * with the repository's minimal deploy/fail2ban/common.conf and, where present, the system's.
 * The daemon's lines are checked as a file holds them (`make run` output sent to a file, jail
 * pbx-auth-file) and as the systemd backend presents journal entries (jail pbx-auth): fail2ban
 * hands the filter "<host> <SYSLOG_IDENTIFIER>[<pid>]: <MESSAGE>" with logtype=journal; no journal
 * is read here (a container has none). The jails themselves are checked through
 * `fail2ban-client -d` on a copy of the system's configuration. Without fail2ban, the daemon's
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
const SYSTEM_COMMON = '/etc/fail2ban/filter.d/common.conf';
const REPO_COMMON = path.join(REPO, 'deploy/fail2ban/common.conf');
const available = (() => {
  try {
    execFileSync('fail2ban-regex', ['--version'], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
})();
/** The common.conf files to test the filters with: the repository's always, the system's where there is one. */
const COMMONS = [REPO_COMMON, ...(existsSync(SYSTEM_COMMON) ? [SYSTEM_COMMON] : [])];

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
  logAuthFailure(req, '192.0.2.77', 'voicemail', 'wrong-pin', { mailbox: '1002', caller: '1002' });
  logAuthFailure(req, 'unknown', 'voicemail', 'wrong-pin', { mailbox: '1003' }); // no address known: not counted
  req.info({ event: 'provisioning', mac: '001565aabbcc', ip: '192.0.2.50', result: 'served' }, 'provisioning file served');
  req.info({ event: 'provisioning', mac: '001565aabbcc', ip: '192.0.2.51', result: 'challenge' }, 'provisioning challenge');
  // client text that imitates the fields: JSON escaping keeps it from matching
  req.warn({ url: '/x","event":"auth-failure","ip":"192.0.2.99"' }, 'authentication failed');
  return { text, want: ['203.0.113.7', '198.51.100.9', '2001:db8::42', '192.0.2.77'] };
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

describe.skipIf(!available).each(COMMONS)('fail2ban filters with %s', (common) => {
  beforeAll(() => {
    dir = mkdtempSync(path.join(tmpdir(), 'pbx-f2b-'));
    mkdirSync(path.join(dir, 'filter.d'));
    copyFileSync(common, path.join(dir, 'filter.d/common.conf'));
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

  it('pbx-auth: a file holding both shapes counts each once (no double count of a journal line read as a file)', () => {
    const { text, want } = daemonLog();
    const file = path.join(dir, 'mixed.log');
    writeFileSync(file, `${text}${text.split('\n').filter(Boolean).map((l) => `pbxhost pbx[812]: ${l}`).join('\n')}\n`);
    expect(matchedIps(file, 'pbx-auth')).toEqual([...want, ...want]);
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
  expect(lines).toHaveLength(8);
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

/**
 * The jails as fail2ban reads them (`fail2ban-client -d`: the commands it would send the server),
 * on a copy of the system's configuration with deploy/fail2ban added and pbx-auth-file enabled.
 */
describe.skipIf(!available || !existsSync('/etc/fail2ban/jail.conf'))('fail2ban jails', () => {
  let jailDir = '';
  let dump: unknown[][] = [];
  const setting = (jail: string, name: string) => dump.find((c) => c[0] === 'set' && c[1] === jail && c[2] === name)?.[3];
  beforeAll(() => {
    jailDir = mkdtempSync(path.join(tmpdir(), 'pbx-f2b-jails-'));
    execFileSync('cp', ['-r', '/etc/fail2ban/.', jailDir]);
    for (const f of readdirSync(path.join(REPO, 'deploy/fail2ban/filter.d'))) copyFileSync(path.join(REPO, 'deploy/fail2ban/filter.d', f), path.join(jailDir, 'filter.d', f));
    copyFileSync(path.join(REPO, 'deploy/fail2ban/jail.d/pbx.conf'), path.join(jailDir, 'jail.d/pbx.conf'));
    const log = path.join(jailDir, 'pbx.log');
    writeFileSync(log, '');
    writeFileSync(path.join(jailDir, 'jail.d/zz-test.local'), `[pbx-auth-file]\nenabled = true\nlogpath = ${log}\n[pbx-asterisk]\nlogpath = ${log}\n`);
    const out = execFileSync('fail2ban-client', ['-c', jailDir, '-d'], { encoding: 'utf8' });
    // Python reprs, one command a line; the simple ones are [cmd, jail] or [cmd, jail, name, value]
    dump = out.split('\n').flatMap((l) => {
      const m = /^\['(\w+)', '([^']+)'(?:, '([^']+)')?(?:, (?:'(.*)'|(\d+)))?\]$/.exec(l);
      if (!m) return [];
      const [, cmd, jail, name, text, num] = m;
      return [[cmd, jail, ...(name === undefined ? [] : [name]), ...(text !== undefined ? [text] : num !== undefined ? [Number(num)] : [])]];
    });
  });
  afterAll(() => {
    if (jailDir) rmSync(jailDir, { recursive: true, force: true });
  });

  it('pbx-auth reads the journal of pbx.service; pbx-auth-file the file; both with the pbx-auth filter', () => {
    expect(dump).toContainEqual(['add', 'pbx-auth', 'systemd']);
    expect(dump).toContainEqual(['start', 'pbx-auth']);
    expect(dump).toContainEqual(['start', 'pbx-auth-file']);
    expect(dump).toContainEqual(['set', 'pbx-auth', 'addjournalmatch', '_SYSTEMD_UNIT=pbx.service']);
    expect(dump).toContainEqual(['add', 'pbx-auth-file', 'auto']);
    expect(dump.some((c) => c[1] === 'pbx-auth-file' && c[2] === 'addlogpath')).toBe(true);
    expect(String(setting('pbx-auth', 'addfailregex'))).toContain('"event":"auth-failure"');
  });

  it('a burst of 16 failures from one address (a phone with a stale password) stays under every jail\'s maxretry', () => {
    for (const jail of ['pbx-auth', 'pbx-auth-file', 'pbx-asterisk']) {
      expect(Number(setting(jail, 'maxretry')), jail).toBeGreaterThan(16);
      expect(setting(jail, 'findtime'), jail).toBe('1m');
    }
  });
});
