/**
 * `pbx backup` and `pbx restore` end to end on real Postgres, files and tar (issue #22): a site is
 * built through the daemon's API in its own database and folders (extensions, a published flow,
 * a queue, a text-to-speech prompt, CDRs, a stored recording, a voicemail message), backed up with
 * its env file, and restored into ANOTHER fresh database (migrated, as `make setup` leaves it) and
 * fresh folders. Then: `pbx doctor`'s checks that need no Asterisk pass, every table's count is
 * the backup's, every file has the same sha256, the restored daemon serves the site, and a second
 * restore is refused without --force (through the real CLI: exit 1 and why).
 */
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { execFile } from 'node:child_process';
import { createHash, randomUUID } from 'node:crypto';
import { mkdir, mkdtemp, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { sql } from 'kysely';
import { createApp, type App } from '../../src/app.js';
import { AuthService, CLI_ACTOR } from '../../src/auth/service.js';
import { createBackup } from '../../src/backup/backup.js';
import { restoreBackup, type RestoreReport } from '../../src/backup/restore.js';
import { FOLDERS, type Manifest } from '../../src/backup/archive.js';
import { siteFolders } from '../../src/backup/site.js';
import type { Config } from '../../src/config.js';
import { runDoctor } from '../../src/doctor.js';
import { createLogger } from '../../src/logger.js';
import { walkFiles } from '../../src/recordings/disk.js';
import { RecordingStore } from '../../src/recordings/service.js';
import { appConfig, appEnv } from '../support/app-config.js';
import { REPO } from '../support/asterisk.js';
import { createTestDatabase, dropTestDatabase, openDb } from '../support/db.js';
import { runId } from '../support/env.js';

const run = promisify(execFile);
const id = runId();
const source = { ...inject('db'), name: `pbx_it_backup_src_${id}` };
const target = { ...inject('db'), name: `pbx_it_backup_dst_${id}` };
let root: string;
let targetEnv: Record<string, string>;
let sourceConfig: Config;
let targetConfig: Config;
let archive: string;
let manifest: Manifest;
let report: RestoreReport;
const lines: string[] = [];

/** The folders of one side (data dir with voicemail, recordings, prompts), under the test's root. */
function folders(side: string): Record<string, string> {
  const base = path.join(root, side);
  return { PBX_DATA_DIR: `${base}/data`, PBX_RECORDINGS_DIR: `${base}/recordings`, PBX_PROMPTS_DIR: `${base}/prompts`, PBX_RECORDING_FORMAT: 'wav' };
}

/** sha256 of every file under each of a site's folders, by folder and relative path. */
async function checksums(config: Config): Promise<Record<string, string>> {
  const out: Record<string, string> = {};
  const dirs = siteFolders(config);
  for (const name of FOLDERS) {
    for (const f of await walkFiles(dirs[name])) out[`${name}/${f}`] = createHash('sha256').update(await readFile(path.join(dirs[name], f))).digest('hex');
  }
  return out;
}

async function startApp(config: Config): Promise<{ app: App; token: string; req: (method: 'GET' | 'POST' | 'PUT', url: string, body?: unknown) => Promise<{ statusCode: number; json: () => any }> }> { // eslint-disable-line @typescript-eslint/no-explicit-any
  const app = await createApp(config, createLogger('silent'));
  await app.start();
  const token = (await new AuthService(app.db).createToken(CLI_ACTOR, { username: `it-backup-${randomUUID().slice(0, 6)}`, name: 'it', ttlDays: 1, ensureRole: 'admin' })).token;
  const req = (method: 'GET' | 'POST' | 'PUT', url: string, body?: unknown) =>
    app.http.inject({ method, url: `/api/v1${url}`, headers: { authorization: `Bearer ${token}` }, ...(body === undefined ? {} : { payload: body as object }) });
  return { app, token, req };
}

/** The site: what an admin would have after a week, through the API where there is one. */
async function buildSite(): Promise<void> {
  const { app, req } = await startApp(sourceConfig);
  try {
    expect((await req('POST', '/extensions', { number: '2201', displayName: 'Front Desk', voicemailPin: '4711' })).statusCode).toBe(201);
    expect((await req('POST', '/extensions', { number: '2202', displayName: 'Back Office' })).statusCode).toBe(201);
    expect((await req('POST', '/queues', { name: 'backup-support' })).statusCode).toBe(201);
    const prompt = await req('POST', '/prompts/tts', { name: 'backup-welcome', text: 'Welcome to the backup test.', language: 'en' });
    expect(prompt.statusCode).toBe(201);
    expect((await req('POST', '/flows', { name: 'backup-main' })).statusCode).toBe(201);
    const definition = {
      language: 'en',
      start: 'menu',
      nodes: {
        menu: { kind: 'menu', prompt: { prompt: prompt.json().id }, options: { '1': 'desk' }, fallback: 'bye' },
        desk: { kind: 'transfer', target: { kind: 'extension', number: '2201' } },
        bye: { kind: 'hangup' },
      },
    };
    expect((await req('PUT', '/flows/backup-main/draft', { definition })).statusCode).toBe(200);
    expect((await req('POST', '/flows/backup-main/publish')).statusCode).toBe(200);
  } finally {
    await app.stop();
  }
  const db = openDb(source);
  try {
    const at = (s: number) => new Date(Date.parse('2026-12-01T10:00:00Z') + s * 1000).toISOString();
    for (const [i, callId] of ['bk-call-1', 'bk-call-2', 'bk-call-3'].entries()) {
      await sql`insert into cdrs (call_id, linked_id, direction, started_at, answered_at, ended_at, duration_seconds, billable_seconds, hangup_cause, hangup_cause_text, disposition, ended_by, digits, reconciled, caller_number, dialed_number)
                values (${callId}, ${callId}, 'inbound', ${at(i * 100)}, ${at(i * 100 + 2)}, ${at(i * 100 + 32)}, 32, 30, 16, 'Normal Clearing', 'ANSWERED', 'caller', '1', false, '4930111222', '2201')`.execute(db);
    }
    // A stored recording of the first call: a real WAV (sox), finalized (sha256, size) by the store.
    const store = new RecordingStore({ db, settings: sourceConfig.recordings, log: createLogger('silent') });
    await store.ensureFolder();
    const { row, file } = await store.begin({ callId: 'bk-call-1', caller: '4930111222', called: '2201', parts: ['talk'] });
    await run('sox', ['-n', '-r', '8000', '-c', '2', '-b', '16', file, 'synth', '2', 'sine', '440', 'sine', '660']);
    expect((await store.finalize(row.id)).state).toBe('stored');
    // A voicemail message, as the voicemail service leaves it: a file and its row (absolute path).
    const vmFile = path.join(sourceConfig.dataDir, 'voicemail', '2201', 'bk-msg-1.wav');
    await mkdir(path.dirname(vmFile), { recursive: true });
    await run('sox', ['-n', '-r', '8000', '-c', '1', '-b', '16', vmFile, 'synth', '1', 'sine', '550']);
    const vm = await readFile(vmFile);
    await db.insertInto('voicemail_messages').values({
      mailbox: '2201', caller_number: '4930111222', caller_name: null, call_id: 'bk-call-2', duration_ms: 1000, recording_name: 'bk-msg-1',
      file_path: vmFile, size_bytes: vm.length, sha256: createHash('sha256').update(vm).digest('hex'),
    }).execute();
  } finally {
    await db.destroy();
  }
}

beforeAll(async () => {
  root = await mkdtemp(path.join(tmpdir(), 'pbx-it-backup-'));
  const prefix = `${inject('redisPrefix')}:backup`;
  targetEnv = appEnv(target, prefix, folders('target'));
  sourceConfig = appConfig(source, prefix, folders('source'));
  targetConfig = appConfig(target, prefix, folders('target'));
  await createTestDatabase(source);
  await createTestDatabase(target); // a fresh machine: `make setup` has run `pbx migrate`
  await buildSite();
}, 120_000);

afterAll(async () => {
  await dropTestDatabase(source);
  await dropTestDatabase(target);
  if (root) await rm(root, { recursive: true, force: true });
});

describe('pbx backup', () => {
  it('writes one 0600 archive: manifest with the counts of the dump, the dump, the folders, the env file flagged secret', async () => {
    const envFile = path.join(root, 'source.env');
    await writeFile(envFile, `PBX_SECRET_KEY=${sourceConfig.secretKey}\nPBX_DB_PASSWORD=old-machine\n`, { mode: 0o600 });
    archive = path.join(root, 'site.tar.gz');
    const db = openDb(source);
    try {
      ({ manifest } = await createBackup(sourceConfig, db, { out: archive, withEnv: true, envFile }, (l) => lines.push(l)));
    } finally {
      await db.destroy();
    }
    expect((await stat(archive)).mode & 0o777).toBe(0o600);
    const { stdout } = await run('tar', ['--list', '--gzip', `--file=${archive}`]);
    const members = stdout.split('\n').filter(Boolean);
    expect(members.slice(0, 3)).toEqual(['manifest.json', 'database.pgdump', 'pbx.env']);
    expect(members.filter((m) => !m.endsWith('/'))).toEqual(expect.arrayContaining([
      expect.stringMatching(/^files\/recordings\/\d{4}\/\d{2}\/\d{2}\/bk-call-1-.+\.wav$/),
      'files/voicemail/2201/bk-msg-1.wav',
      expect.stringMatching(/^files\/prompts\/.+\.wav$/),
    ]));
    expect(manifest).toMatchObject({ env: { file: 'pbx.env', secret: true }, database: { name: source.name, dumpFormat: 'custom' } });
    expect(manifest.database.migration).toBe((await run('ls', [path.join(REPO, 'migrations')])).stdout.trim().split('\n').at(-1)!.replace(/\.ts$/, ''));
    expect(manifest.database.counts).toMatchObject({ extensions: 2, queues: 1, flows: 1, prompts: 1, cdrs: 3, recordings: 1, voicemail_messages: 1 });
    expect(manifest.folders).toMatchObject({ recordings: { present: true, files: 1 }, voicemail: { present: true, files: 1 }, prompts: { present: true, files: 2 } });
    expect(lines.some((l) => /^wrote .*site\.tar\.gz .*mode 0600.*the env file \(SECRET\)/.test(l))).toBe(true);
  });
});

describe('pbx restore into another fresh database and folders', () => {
  it('restores the dump, the folders and the env file beside this one, and counts match the manifest', async () => {
    const db = openDb(target);
    try {
      report = await restoreBackup(targetConfig, db, { file: archive, force: false, envFile: path.join(root, 'target.env') }, (l) => lines.push(l));
    } finally {
      await db.destroy();
    }
    expect(report.migrationsApplied).toEqual([]);
    const differ = report.counts.filter((r) => r.backup !== r.now);
    expect(differ).toEqual([]);
    expect(report.counts.find((r) => r.table === 'cdrs')).toEqual({ table: 'cdrs', backup: 3, now: 3 });
    expect(report.folders).toMatchObject({ recordings: { files: 1 }, voicemail: { files: 1 }, prompts: { files: 2 } });
    expect(report.envWritten).toBe(path.join(root, 'pbx.env.from-backup'));
    expect((await stat(report.envWritten!)).mode & 0o777).toBe(0o600);
    expect(await readFile(report.envWritten!, 'utf8')).toContain('PBX_DB_PASSWORD=old-machine');
    expect(report.sipSecretsOpen).toBe(true);
    expect(lines).toContain(`counts: every table as in the backup (${Object.keys(manifest.database.counts).length} tables)`);
  });

  it('every file has the sha256 it had, and belongs to pbx (as root, when the user exists), else to whoever restored', async () => {
    const before = await checksums(sourceConfig);
    expect(Object.keys(before)).toHaveLength(4);
    expect(await checksums(targetConfig)).toEqual(before);
    const pbx = process.getuid!() === 0 ? await run('id', ['-u', 'pbx']).then((r) => Number(r.stdout.trim()), () => null) : null;
    const dirs = siteFolders(targetConfig);
    for (const name of FOLDERS) {
      for (const f of await walkFiles(dirs[name])) expect((await stat(path.join(dirs[name], f))).uid, `${name}/${f}`).toBe(pbx ?? process.getuid!());
    }
  });

  it('pbx doctor: configuration, Postgres schema, recordings (every file its row), prompt tools pass; only Asterisk is missing', async () => {
    const out: string[] = [];
    await runDoctor((l) => out.push(l), targetEnv);
    expect(out).toContain('ok    configuration is valid');
    expect(out).toContain('ok    postgres schema migrated (incl. PJSIP realtime tables)');
    expect(out).toContain('ok    recordings: every file has its row and every row its file');
    const failures = out.filter((l) => l.startsWith('FAIL'));
    expect(failures.length).toBeGreaterThan(0);
    expect(failures.filter((l) => !/^FAIL {2}(ARI|AMI) /.test(l))).toEqual([]);
  });

  it('the restored daemon serves the site: extensions, flow, queue, CDRs, the recording and the voicemail audio', async () => {
    const { app, req } = await startApp(targetConfig);
    try {
      const exts = (await req('GET', '/extensions')).json();
      expect(exts.items.map((e: { number: string }) => e.number)).toEqual(expect.arrayContaining(['2201', '2202']));
      expect((await req('GET', '/flows/backup-main')).json()).toMatchObject({ publishedVersion: 1 });
      expect((await req('GET', '/queues')).json().items.map((q: { name: string }) => q.name)).toContain('backup-support');
      expect((await req('GET', '/cdrs?limit=10')).json().items).toHaveLength(3);
      const rec = (await req('GET', '/recordings?limit=10')).json().items;
      expect(rec).toHaveLength(1);
      expect((await req('GET', `/recordings/${rec[0].id}/audio`)).statusCode).toBe(200);
      const msgs = (await req('GET', '/extensions/2201/voicemail')).json().items;
      expect(msgs).toHaveLength(1);
      const audio = await req('GET', `/extensions/2201/voicemail/${msgs[0].id}/audio`);
      expect(audio.statusCode).toBe(200);
    } finally {
      await app.stop();
    }
  });

  it('a second restore is refused without --force (the CLI exits 1 and says why), and replaces the site with it', async () => {
    const cli = (args: string[]) => run(process.execPath, ['--import', 'tsx', path.join(REPO, 'src/cli.ts'), ...args], { cwd: REPO, env: { PATH: process.env['PATH'] ?? '', ...targetEnv } });
    const refused = await cli(['restore', archive]).catch((err: { code: number; stderr: string }) => err);
    expect(refused).toMatchObject({ code: 1 });
    expect((refused as { stderr: string }).stderr).toMatch(/database pbx_it_backup_dst_\w+ holds a site \(rows in extensions, .*\): restoring replaces it; add --force/);

    const db = openDb(target);
    try {
      await db.insertInto('queues').values({ name: 'made-after-restore', required_skills: '[]', widening: '[]' }).execute();
      const again = await restoreBackup(targetConfig, db, { file: archive, force: true, envFile: null }, () => undefined);
      expect(again.counts.filter((r) => r.backup !== r.now)).toEqual([]);
      expect(await db.selectFrom('queues').select('name').execute()).toEqual([{ name: 'backup-support' }]);
    } finally {
      await db.destroy();
    }
  });
});
