/**
 * Upgrades (issue #22): a database of the previous release's schema, holding a site
 * (test/fixtures/site-2026-12-08T09-30-00.sql: extensions, desk phone, trunk, agent, queue, prompt,
 * published flow, inbound route, webhook, CDRs, a recording, a voicemail message), migrates to the
 * current schema with every row kept and the daemon serves it; and a backup taken at that schema
 * restores onto a fresh machine and is upgraded by `pbx restore`.
 */
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import pg from 'pg';
import { Migrator } from 'kysely';
import { createApp } from '../../src/app.js';
import { AuthService, CLI_ACTOR } from '../../src/auth/service.js';
import { compareCounts } from '../../src/backup/archive.js';
import { createBackup } from '../../src/backup/backup.js';
import { restoreBackup } from '../../src/backup/restore.js';
import { lastMigration, tableCounts } from '../../src/backup/site.js';
import type { Db } from '../../src/db/database.js';
import { createLogger } from '../../src/logger.js';
import { appConfig } from '../support/app-config.js';
import { REPO } from '../support/asterisk.js';
import { createTestDatabase, dropTestDatabase, openDb } from '../support/db.js';
import { runId, testSecretBox } from '../support/env.js';
import { migrationsFolder } from '../support/migrations.js';

/** The last migration of the previous release, and the site the fixture holds at it. */
const RELEASE = '2026-12-08T09-30-00_handset_screen_pop';
const FIXTURE = path.join(REPO, 'test/fixtures/site-2026-12-08T09-30-00.sql');

const id = runId();
const old = { ...inject('db'), name: `pbx_it_upgrade_${id}` };
const fresh = { ...inject('db'), name: `pbx_it_upgrade_fresh_${id}` };
const prefix = `${inject('redisPrefix')}:upgrade`;
let db: Db;
let root: string;
let fixtureCounts: Record<string, number>;

/** The current code's migrations after RELEASE. */
async function laterMigrations(): Promise<string[]> {
  const names = Object.keys(await migrationsFolder.getMigrations()).sort();
  return names.slice(names.indexOf(RELEASE) + 1);
}

beforeAll(async () => {
  root = await mkdtemp(path.join(tmpdir(), 'pbx-it-upgrade-'));
  const admin = new pg.Client({ ...old, database: 'postgres' });
  await admin.connect();
  await admin.query(`CREATE DATABASE ${old.name}`).finally(() => admin.end());
  db = openDb(old);
  const { error } = await new Migrator({ db, provider: migrationsFolder }).migrateTo(RELEASE);
  expect(error).toBeUndefined();
  // The fixture sets search_path to '' for its session: a client of its own.
  const client = new pg.Client({ ...old, database: old.name });
  await client.connect();
  await client.query(await readFile(FIXTURE, 'utf8')).finally(() => client.end());
  fixtureCounts = await tableCounts(db);
}, 60_000);

afterAll(async () => {
  await db?.destroy();
  await dropTestDatabase(old);
  await dropTestDatabase(fresh);
  if (root) await rm(root, { recursive: true, force: true });
});

describe(`upgrade from the release at ${RELEASE}`, () => {
  it('the fixture is a site at that schema', async () => {
    expect(await lastMigration(db)).toBe(RELEASE);
    expect(fixtureCounts).toMatchObject({ extensions: 2, devices: 1, trunks: 1, agents: 1, queues: 1, queue_members: 1, prompts: 1, flows: 1, flow_versions: 1, inbound_routes: 1, webhooks: 1, cdrs: 3, recordings: 1, voicemail_messages: 1 });
    expect(await laterMigrations()).not.toEqual([]);
  });

  it('a backup taken at that schema restores onto a fresh machine and is upgraded by pbx restore', async () => {
    const dirs = (side: string) => ({ PBX_DATA_DIR: `${root}/${side}/data`, PBX_RECORDINGS_DIR: `${root}/${side}/recordings`, PBX_PROMPTS_DIR: `${root}/${side}/prompts` });
    const archive = path.join(root, 'old-site.tar.gz');
    const { manifest } = await createBackup(appConfig(old, prefix, dirs('old')), db, { out: archive, withEnv: false, envFile: null }, () => undefined);
    expect(manifest.database.migration).toBe(RELEASE);
    await createTestDatabase(fresh); // the new machine, migrated to the current schema by make setup
    const target = openDb(fresh);
    try {
      const report = await restoreBackup(appConfig(fresh, prefix, dirs('new')), target, { file: archive, force: false, envFile: null }, () => undefined);
      expect(report.migrationsApplied).toEqual(await laterMigrations());
      expect(report.counts.filter((r) => r.backup !== null && r.backup !== r.now)).toEqual([]);
      expect(await lastMigration(target)).toBe((await laterMigrations()).at(-1));
      expect(report.sipSecretsOpen).toBe(true);
    } finally {
      await target.destroy();
    }
  });

  it('migrating it in place keeps every row and value, and the daemon serves the site', async () => {
    const { error, results } = await new Migrator({ db, provider: migrationsFolder }).migrateToLatest();
    expect(error).toBeUndefined();
    expect(results!.map((r) => r.migrationName)).toEqual(await laterMigrations());
    expect(compareCounts(fixtureCounts, await tableCounts(db)).filter((r) => r.backup !== null && r.backup !== r.now)).toEqual([]);
    const ext = await db.selectFrom('extensions').select(['number', 'display_name']).orderBy('number').execute();
    expect(ext).toEqual([{ number: '2201', display_name: 'Front Desk' }, { number: '2202', display_name: 'Back Office' }]);
    const secret = await db.selectFrom('sip_secrets').select(['extension_number', 'sealed_password']).where('extension_number', '=', '2201').executeTakeFirstOrThrow();
    expect(testSecretBox().open(secret.sealed_password, 'sip-password:2201')).toMatch(/^.{20,}$/);

    const app = await createApp(appConfig(old, prefix, { PBX_DATA_DIR: `${root}/in-place` }), createLogger('silent'));
    await app.start();
    try {
      const token = (await new AuthService(app.db).createToken(CLI_ACTOR, { username: 'it-upgrade', name: 'it', ttlDays: 1, ensureRole: 'admin' })).token;
      const get = async (url: string) => (await app.http.inject({ method: 'GET', url: `/api/v1${url}`, headers: { authorization: `Bearer ${token}` } })).json();
      expect((await get('/extensions')).items.map((e: { number: string }) => e.number)).toEqual(['2201', '2202']);
      expect(await get('/flows/main')).toMatchObject({ publishedVersion: 1, published: { definition: { start: 'menu' } } });
      expect((await get('/queues')).items).toEqual([expect.objectContaining({ name: 'support', callerIdTemplate: 'SUP:{caller}' })]);
      expect((await get('/inbound-routes')).items).toEqual([expect.objectContaining({ didPattern: '4930222000', target: { kind: 'flow', flow: 'main' } })]);
      expect((await get('/cdrs?limit=10')).items).toHaveLength(3);
      expect((await get('/recordings?limit=10')).items).toEqual([expect.objectContaining({ callId: 'up-call-1', queue: 'support' })]);
      expect((await get('/webhooks')).items).toEqual([expect.objectContaining({ url: 'https://crm.example.com/pbx-hook' })]);
    } finally {
      await app.stop();
    }
  });
});
