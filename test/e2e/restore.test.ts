/**
 * Restore onto a fresh machine, end to end with the real Asterisk (issue #22): a world of its own
 * (database, Asterisk instance reading PJSIP realtime from that database, the built daemon) gets
 * a site through the API and a real call (`pbx test-call`), and is backed up with the CLI. Then
 * the machine is made fresh: the database dropped and made again by `pbx migrate`'s migrations,
 * the prompts and voicemail folders emptied. `pbx restore` brings the site back; with the daemon
 * started again, `pbx doctor` passes (Asterisk, realtime and recordings included) and
 * `pbx test-call` places a call through the restored realtime tables, and the counts are
 * compared: the restored CDR and the new one.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { execFile } from 'node:child_process';
import { mkdtemp, readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { Api, cliToken } from '../support/api.js';
import { REPO } from '../support/asterisk.js';
import { Daemon, eventually } from '../support/daemon.js';
import { createTestDatabase, dropTestDatabase } from '../support/db.js';
import { createWorld, type World } from '../support/world.js';

let world: World & { teardown: () => Promise<void> };
let env: Record<string, string>;
let daemon: Daemon | undefined;
let dir: string;
let token: string;

/** The built CLI with the world's settings: exit code and output. */
function cli(args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(process.execPath, [path.join(REPO, 'dist/src/cli.js'), ...args], { cwd: dir, env: { PATH: process.env['PATH'] ?? '', ...env }, timeout: 90_000 }, (err, stdout, stderr) => {
      resolve({ code: err ? Number((err as { code?: number }).code ?? 1) : 0, stdout, stderr });
    });
  });
}

async function startDaemon(): Promise<Api> {
  daemon = Daemon.start(env);
  token = await cliToken(env, 'admin');
  const api = Api.for(env, token);
  await eventually(async () => ((await api.ready()) === 200 ? true : undefined), 30_000, 'daemon ready');
  return api;
}

async function post(url: string, body: unknown): Promise<number> {
  const res = await fetch(`http://127.0.0.1:${env['PBX_HTTP_PORT']}/api/v1${url}`, {
    method: 'POST', headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' }, body: JSON.stringify(body), signal: AbortSignal.timeout(10_000),
  });
  return res.status;
}

/** Empty a folder, keeping it (its owner and mode are the instance's). */
async function empty(folder: string): Promise<void> {
  for (const e of await readdir(folder).catch(() => [])) await rm(path.join(folder, e), { recursive: true, force: true });
}

beforeAll(async () => {
  dir = await mkdtemp(path.join(tmpdir(), 'pbx-e2e-restore-'));
  world = await createWorld('e2e', { PBX_LOG_LEVEL: process.env['PBX_TEST_DAEMON_LOG_LEVEL'] ?? 'info' });
  env = { ...world.daemonEnv, PBX_SIP_PORT: String(world.sipPort) };
});

afterAll(async () => {
  await daemon?.stop();
  await world?.teardown();
  if (dir) await rm(dir, { recursive: true, force: true });
});

describe('pbx restore onto a fresh machine', () => {
  it('brings the site back: pbx doctor passes, pbx test-call places a call, counts as in the backup', async () => {
    let api = await startDaemon();
    expect(await post('/extensions', { number: '2301', displayName: 'Restored Desk' })).toBe(201);
    expect(await post('/queues', { name: 'restore-support' })).toBe(201);
    expect(await post('/prompts/tts', { name: 'restore-welcome', text: 'Welcome back.', language: 'en' })).toBe(201);
    const first = await cli(['test-call']);
    expect(first.code, first.stdout + first.stderr).toBe(0);
    expect((await api.cdrs('dialed=*99')).length).toBe(1);

    const backup = await cli(['backup', '--out', path.join(dir, 'site.tar.gz')]);
    expect(backup.code, backup.stdout + backup.stderr).toBe(0);
    await daemon!.stop();
    daemon = undefined;

    // The fresh machine: an empty migrated database of the same name, empty folders.
    await dropTestDatabase(world.db);
    await createTestDatabase(world.db);
    await empty(env['PBX_PROMPTS_DIR']!);
    await empty(path.join(env['PBX_DATA_DIR']!, 'voicemail'));

    const restore = await cli(['restore', path.join(dir, 'site.tar.gz')]);
    expect(restore.code, restore.stdout + restore.stderr).toBe(0);
    expect(restore.stdout).toContain('counts: every table as in the backup');
    expect(restore.stdout).toMatch(/prompts: 2 files in .* \(backup: 2\)/);
    expect(restore.stdout).toContain('ok    SIP passwords open with this PBX_SECRET_KEY');

    api = await startDaemon();
    const doctor = await cli(['doctor']);
    expect(doctor.code, doctor.stdout).toBe(0);
    expect(doctor.stdout).toContain('ok    res_config_pgsql running');
    expect(doctor.stdout).toContain('ok    recordings: every file has its row and every row its file');

    const second = await cli(['test-call']);
    expect(second.code, second.stdout + second.stderr).toBe(0);
    expect((await api.cdrs('dialed=*99')).length).toBe(2);
    const ext = await api.get<{ items: Array<{ number: string }> }>('/api/v1/extensions');
    expect(ext.body.items.map((e) => e.number)).toContain('2301');
  }, 240_000);
});
