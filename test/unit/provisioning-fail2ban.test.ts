/**
 * The fail2ban filters in deploy/fail2ban/ against the daemon's real auth-failure lines (written
 * here by logAuthFailure through the daemon's own logger) and against Asterisk 22.10 security.log
 * lines captured from a scratch instance (deploy/asterisk-instance.sh) hit with wrong SIP digests
 * (SIPp REGISTER), an unknown SIP user, wrong/unknown AMI logins, and crafted REGISTERs whose
 * Call-ID and digest response try to forge a RemoteAddress. Runs only where fail2ban is installed
 * (`apt-get install fail2ban`; the service need not run).
 */
import { execFileSync } from 'node:child_process';
import { copyFileSync, existsSync, mkdirSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { Writable } from 'node:stream';
import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { logAuthFailure } from '../../src/provisioning/security.js';

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
    const want = ['203.0.113.7', '198.51.100.9', '2001:db8::42'];

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

it.runIf(!available)('fail2ban filters: skipped, fail2ban is not installed', () => undefined);
