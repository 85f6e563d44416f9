/**
 * Log rotation (deploy/logrotate.sh, deploy/logrotate/pbx.conf.in) run by the real logrotate on
 * files of the three kinds, with real Postgres for the spool file's check:
 *  - `logrotate -d` accepts the rendered configuration and considers every file;
 *  - the daemon's log is copied and truncated in place (its writer keeps appending to it);
 *  - Asterisk's logs are moved, new files made with the same mode, and Asterisk told once to
 *    reopen them;
 *  - the unserved spool file is kept while the daemon has not read it to its end, and moved once
 *    it has; the daemon then reads the new file from its start (src/calls/unserved-file.ts), so
 *    no line is lost or read twice.
 * Skipped where logrotate is not installed (deploy/install.sh does not install it; Debian has it).
 */
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { appendFile, chmod, mkdir, mkdtemp, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { importUnservedFile } from '../../src/calls/unserved-file.js';
import type { Db } from '../../src/db/database.js';
import { REPO } from '../support/asterisk.js';
import { createTestDatabase, dropTestDatabase, openDb } from '../support/db.js';
import { runId } from '../support/env.js';

const run = promisify(execFile);
const LOGROTATE = ['/usr/sbin/logrotate', '/usr/bin/logrotate'].find((p) => existsSync(p));
// Its own database: other files empty unserved_calls while they run.
const settings = { ...inject('db'), name: `pbx_it_logrotate_${runId()}` };
let db: Db;
let dir: string;
let conf: string;
const file = (rel: string) => path.join(dir, rel);
const rotate = (...args: string[]) =>
  run(LOGROTATE!, [...args, '-s', file('state'), conf]).then(
    (r) => ({ code: 0, out: r.stdout + r.stderr }),
    (err: { code: number; stdout: string; stderr: string }) => ({ code: err.code, out: err.stdout + err.stderr }),
  );
const start = (id: string) => `start|1795475957.250|logrotate-${id}|PJSIP/trunk-0000002a|4930123456|4930999221\n`;
const end = (id: string) => `end|1795475961.750|logrotate-${id}|41\n`;

beforeAll(async () => {
  if (!LOGROTATE) return;
  await createTestDatabase(settings);
  db = openDb(settings);
  dir = await mkdtemp(path.join(tmpdir(), 'pbx-it-logrotate-'));
  await mkdir(file('ast'));
  await mkdir(file('daemon'));
  await writeFile(file('ast/messages.log'), '[2026-12-06 10:00:00.000] NOTICE[1] pbx: a line\n');
  await writeFile(file('ast/security.log'), '[2026-12-06 10:00:00.000] SECURITY[1] res_security_log.c: a line\n');
  await chmod(file('ast/security.log'), 0o640);
  await writeFile(file('daemon/pbx.log'), '{"level":30,"msg":"daemon line"}\n');
  await writeFile(file('unserved.log'), start('a') + end('a'));
  await chmod(file('unserved.log'), 0o640);
  await writeFile(file('pbx.env'), Object.entries({ PBX_DB_HOST: settings.host, PBX_DB_PORT: settings.port, PBX_DB_USER: settings.user, PBX_DB_PASSWORD: settings.password, PBX_DB_NAME: settings.name })
    .map(([k, v]) => `${k}=${v}\n`).join(''), { mode: 0o600 });
  const { stdout } = await run('bash', [path.join(REPO, 'deploy/logrotate.sh'), 'render'], {
    env: {
      PATH: process.env['PATH'] ?? '',
      PBX_ENV_FILE: file('pbx.env'),
      PBX_UNSERVED_FILE: file('unserved.log'),
      PBX_LOGROTATE_AST_LOG_DIR: file('ast'),
      PBX_LOGROTATE_DAEMON_LOG_DIR: file('daemon'),
      PBX_LOGROTATE_RELOAD: `sh -c 'echo reload >>${file('reloads')}'`, // the config sends its output to /dev/null
    },
  });
  conf = file('pbx.conf');
  await writeFile(conf, stdout);
});

afterAll(async () => {
  await db?.destroy();
  if (LOGROTATE) await dropTestDatabase(settings);
  if (dir) await rm(dir, { recursive: true, force: true });
});

describe.skipIf(!LOGROTATE)('logrotate with deploy/logrotate', () => {
  it('logrotate -d accepts the rendered configuration and considers each file', async () => {
    const { code, out } = await rotate('-d');
    expect(out).not.toMatch(/error/i);
    expect(code).toBe(0);
    for (const f of ['daemon/pbx.log', 'ast/messages.log', 'ast/security.log', 'unserved.log']) expect(out).toContain(`considering log ${file(f)}`);
  });

  it('rotates the daemon log in place and Asterisk\'s logs to new files; keeps the spool file the daemon has not read', async () => {
    const daemonInode = (await stat(file('daemon/pbx.log'))).ino;
    const spoolInode = (await stat(file('unserved.log'))).ino;
    const { code, out } = await rotate('-f');
    expect(out).toContain(`pbx: ${file('unserved.log')} is not read to its end by the daemon yet (0 of ${start('a').length + end('a').length} bytes): not rotated`);
    expect(code).not.toBe(0); // logrotate reports the kept file
    // copytruncate: the same file, empty, the lines in .1
    expect((await stat(file('daemon/pbx.log'))).ino).toBe(daemonInode);
    expect((await stat(file('daemon/pbx.log'))).size).toBe(0);
    expect(await readFile(file('daemon/pbx.log.1'), 'utf8')).toContain('daemon line');
    // create: new empty files with the old mode, Asterisk told once
    expect(await readFile(file('ast/security.log.1'), 'utf8')).toContain('SECURITY');
    expect((await stat(file('ast/security.log'))).size).toBe(0);
    expect((await stat(file('ast/security.log'))).mode & 0o777).toBe(0o640);
    expect(await readFile(file('reloads'), 'utf8')).toBe('reload\n');
    // the spool file: untouched
    expect((await stat(file('unserved.log'))).ino).toBe(spoolInode);
    expect(existsSync(file('unserved.log.1'))).toBe(false);
  });

  it('moves the spool file once the daemon has read it; the daemon reads the new file from its start, each line once', async () => {
    expect(await importUnservedFile(db, file('unserved.log'))).toEqual({ taken: 2, skipped: 0 });
    const before = (await stat(file('unserved.log'))).ino;
    const { out } = await rotate('-f');
    expect(out).not.toContain('not read to its end');
    expect(await readFile(file('unserved.log.1'), 'utf8')).toBe(start('a') + end('a'));
    const now = await stat(file('unserved.log'));
    expect(now.ino).not.toBe(before);
    expect([now.size, now.mode & 0o777]).toEqual([0, 0o640]);
    // Asterisk appends the next unserved call to the new file.
    await appendFile(file('unserved.log'), start('b') + end('b'));
    expect(await importUnservedFile(db, file('unserved.log'))).toEqual({ taken: 2, skipped: 0 });
    expect(await importUnservedFile(db, file('unserved.log'))).toEqual({ taken: 0, skipped: 0 });
    const rows = await db.selectFrom('unserved_calls').select(['uniqueid', 'cause']).orderBy('uniqueid').execute();
    expect(rows).toEqual([{ uniqueid: 'logrotate-a', cause: '41' }, { uniqueid: 'logrotate-b', cause: '41' }]);
  });
});
