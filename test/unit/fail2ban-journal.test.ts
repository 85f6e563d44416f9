/**
 * The fail2ban jails with systemd's journal (issue #21): the daemon's auth-failure lines as the
 * journal holds them, read by fail2ban itself.
 *  - A real journal file: written with systemd-journal-remote from entries of the units
 *    pbx.service (SyslogIdentifier pbx) and another unit, and read by `fail2ban-regex
 *    systemd-journal[journalfiles=...] pbx-auth`, i.e. fail2ban's systemd backend (python3-systemd)
 *    with the filter's journalmatch, as the pbx-auth jail reads the site's journal. This machine
 *    has no journald (PID 1 is not systemd), so the file is written directly; the backend's reading
 *    is the same.
 *  - The journal's text forms in a file, as the pbx-auth-file jail may meet them:
 *    `journalctl -u pbx -o short` output and rsyslog's /var/log/syslog lines (a syslog date, host,
 *    `pbx[pid]:`), beside `make run`'s bare lines.
 *  - Asterisk: its security events never reach the journal (asterisk/logger.conf writes them to
 *    security.log; pbx-asterisk.service forks, so its journal has only the start script's output),
 *    so the pbx-asterisk jail reads that file under systemd too.
 * deploy/install.sh installs fail2ban, python3-systemd and systemd-journal-remote; without them the
 * cases that need them are skipped.
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
const JOURNAL_REMOTE = ['/lib/systemd/systemd-journal-remote', '/usr/lib/systemd/systemd-journal-remote'].find((p) => existsSync(p));
const runs = (cmd: string, args: string[]) => {
  try {
    execFileSync(cmd, args, { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
};
const fail2ban = runs('fail2ban-regex', ['--version']);
// fail2ban runs under the system's python3; its systemd backend needs python3-systemd there
const systemdBackend = fail2ban && runs('/usr/bin/python3', ['-c', 'import systemd.journal']);

/** The daemon's own lines (pino JSON, through logAuthFailure): three failures and two other lines; `want`: the addresses to count. */
function daemonLines(): { lines: string[]; want: string[] } {
  let text = '';
  const log = pino({ name: 'pbx', base: { pid: 812 }, timestamp: pino.stdTimeFunctions.isoTime }, new Writable({ write: (c, _e, cb) => ((text += String(c)), cb()) }));
  logAuthFailure(log, '203.0.113.7', 'provisioning', 'bad-credentials', { mac: '001565aabbcc' });
  log.info({ event: 'provisioning', mac: '001565aabbcc', ip: '192.0.2.50', result: 'served' }, 'provisioning file served');
  logAuthFailure(log, '2001:db8::42', 'api', 'token-expired');
  log.warn({ url: '/x","event":"auth-failure","ip":"192.0.2.99"' }, 'authentication failed');
  logAuthFailure(log, '192.0.2.77', 'voicemail', 'wrong-pin', { mailbox: '1002' });
  return { lines: text.split('\n').filter(Boolean), want: ['203.0.113.7', '2001:db8::42', '192.0.2.77'] };
}

let dir = '';
const counted = (log: string, filter: string) =>
  execFileSync('fail2ban-regex', ['-c', dir, '-o', 'ip', log, filter], { encoding: 'utf8' }).split('\n').map((l) => l.trim()).filter(Boolean);

describe.skipIf(!fail2ban)('pbx-auth and the journal', () => {
  beforeAll(() => {
    dir = mkdtempSync(path.join(tmpdir(), 'pbx-f2b-journal-'));
    mkdirSync(path.join(dir, 'filter.d'));
    copyFileSync(path.join(REPO, 'deploy/fail2ban/common.conf'), path.join(dir, 'filter.d/common.conf'));
    for (const f of readdirSync(path.join(REPO, 'deploy/fail2ban/filter.d'))) copyFileSync(path.join(REPO, 'deploy/fail2ban/filter.d', f), path.join(dir, 'filter.d', f));
  });
  afterAll(() => {
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  it.skipIf(!systemdBackend || !JOURNAL_REMOTE)('a real journal: the systemd backend counts the auth failures of pbx.service only, by the journalmatch', () => {
    const { lines, want } = daemonLines();
    const start = Date.now() * 1000;
    const entry = (i: number, unit: string, identifier: string, message: string) =>
      [`__REALTIME_TIMESTAMP=${start + i}`, `__MONOTONIC_TIMESTAMP=${1_000_000 + i}`, '_BOOT_ID=4f2b1c0d9e8a7b6c5d4e3f2a1b0c9d8e', '_HOSTNAME=pbxhost',
        `_SYSTEMD_UNIT=${unit}`, `SYSLOG_IDENTIFIER=${identifier}`, '_PID=812', '_COMM=node', 'PRIORITY=4', `MESSAGE=${message}`].join('\n');
    const entries = [
      ...lines.map((l, i) => entry(i, 'pbx.service', 'pbx', l)),
      // the same failure line from another unit: not the daemon, not counted
      entry(lines.length, 'other.service', 'other', lines[0]!.replace('203.0.113.7', '198.51.100.1')),
    ];
    const exported = path.join(dir, 'entries.export');
    writeFileSync(exported, `${entries.join('\n\n')}\n\n`);
    const journal = path.join(dir, 'pbx.journal');
    execFileSync(JOURNAL_REMOTE!, ['-o', journal, exported], { stdio: 'ignore' });
    // what the site's journal shows (journalctl reads the same file)
    expect(execFileSync('journalctl', ['--file', journal, '-u', 'pbx.service', '-o', 'cat'], { encoding: 'utf8' }).trim().split('\n')).toEqual(lines);
    expect(counted(`systemd-journal[journalfiles=${journal}]`, 'pbx-auth')).toEqual(want);
  });

  it('journal text in a file: `journalctl -o short` output and rsyslog lines count like the bare lines of `make run`', () => {
    const { lines, want } = daemonLines();
    const forms: Record<string, (l: string) => string> = {
      bare: (l) => l,
      'journalctl -o short': (l) => `Dec 06 05:00:01 pbxhost pbx[812]: ${l}`,
      'rsyslog (Debian 12, RFC 3339)': (l) => `2026-12-06T05:00:01.123456+00:00 pbxhost pbx[812]: ${l}`,
      'rsyslog (traditional)': (l) => `Dec  6 05:00:01 pbxhost pbx[812]: ${l}`,
    };
    for (const [name, form] of Object.entries(forms)) {
      const file = path.join(dir, `${name.replace(/\W+/g, '-')}.log`);
      writeFileSync(file, `${lines.map(form).join('\n')}\n`);
      expect(counted(file, 'pbx-auth'), name).toEqual(want);
    }
    // another program's line in the same syslog file is not the daemon's
    const syslog = path.join(dir, 'syslog-other.log');
    writeFileSync(syslog, `Dec 06 05:00:01 pbxhost sshd[99]: ${lines[0]}\n`);
    expect(counted(syslog, 'pbx-auth')).toEqual([]);
  });
});

it("Asterisk's security events go to security.log, not the journal, so pbx-asterisk reads that file under systemd too", () => {
  const logger = readFileSync(path.join(REPO, 'asterisk/logger.conf'), 'utf8');
  expect(logger).toMatch(/^security\.log\s*=>\s*security\s*$/m);
  expect(logger).not.toMatch(/^syslog\.[^=]*=>.*security/m);
  const unit = readFileSync(path.join(REPO, 'deploy/systemd/pbx-asterisk.service'), 'utf8');
  expect(unit).toMatch(/^Type=forking$/m);
  const jails = readFileSync(path.join(REPO, 'deploy/fail2ban/jail.d/pbx.conf'), 'utf8');
  const jail = /^\[pbx-asterisk\]\n([\s\S]*?)(?=^\[|(?![\s\S]))/m.exec(jails)?.[1] ?? '';
  expect(jail).toMatch(/^backend\s*=\s*auto$/m);
  expect(jail).toMatch(/^logpath\s*=\s*\S*\/log\/security\.log$/m);
});
