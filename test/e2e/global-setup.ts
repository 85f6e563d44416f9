/**
 * e2e world for one run (see test/support/world.ts), a built daemon, and one SIP phone that is
 * not an extension (it may only reach the *99 test service).
 */
import type { TestProject } from 'vitest/node';
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { openDb } from '../support/db.js';
import { REPO } from '../support/asterisk.js';
import { insertPhone } from '../support/endpoints.js';
import { createWorld, secret, type World } from '../support/world.js';

export type E2eWorld = Omit<World, 'id'> & { phone: { id: string; password: string; number: string; name: string } };

declare module 'vitest' {
  export interface ProvidedContext {
    e2e: E2eWorld;
    /** One world per worker (PBX_E2E_WORKERS, default 1); test/e2e/pick-world.ts gives each file its worker's. */
    e2eWorlds: E2eWorld[];
  }
}

export default async function setup(project: TestProject): Promise<() => Promise<void>> {
  const t0 = Date.now();
  const step = (what: string) => process.stderr.write(`[e2e setup +${((Date.now() - t0) / 1000).toFixed(1)}s] ${what}\n`);

  step('building the daemon');
  await promisify(execFile)('npx', ['tsc', '-p', 'tsconfig.build.json'], { cwd: REPO, timeout: 180_000 });

  // PBX_E2E_WORKERS=2: two worlds (own database, Redis prefix, Asterisk, ports), one per vitest
  // worker; run with file parallelism (vitest.config.ts: maxWorkers follows it).
  const workers = Math.max(1, Number(process.env['PBX_E2E_WORKERS'] ?? '1'));
  step(`creating ${workers} database(s) and starting Asterisk instance(s) of their own`);
  const made = await Promise.all(Array.from({ length: workers }, () => oneWorld(step)));
  project.provide('e2e', made[0]!.world);
  project.provide('e2eWorlds', made.map((m) => m.world));
  step('ready');
  return async () => {
    await Promise.all(made.map((m) => m.teardown()));
  };
}

async function oneWorld(step: (what: string) => void): Promise<{ world: E2eWorld; teardown: () => Promise<void> }> {
  const world = await createWorld('e2e', {
    PBX_LOG_LEVEL: process.env['PBX_TEST_DAEMON_LOG_LEVEL'] ?? 'debug',
    PBX_RECONNECT_BASE_MS: '200',
    PBX_RECONNECT_MAX_MS: '2000',
    PBX_DIGIT_TIMEOUT_MS: '3000',
    PBX_SHUTDOWN_GRACE_MS: '5000',
  });
  step(`instance ${world.asteriskEnv['PBX_AST_INSTANCE']} (SIP ${world.sipPort}, ARI ${world.asteriskEnv['PBX_ARI_PORT']}, AMI ${world.asteriskEnv['PBX_AMI_PORT']})`);

  const phone = { id: `e2e${world.id.slice(-6)}`, password: secret(), number: '2001', name: 'E2E Caller' };
  const conn = openDb(world.db);
  try {
    await insertPhone(conn, phone.id, phone.password, `"${phone.name}" <${phone.number}>`);
  } finally {
    await conn.destroy();
  }
  const { db, redisPrefix, asteriskEnv, daemonEnv, sipPort, sipTls } = world;
  return { world: { db, redisPrefix, asteriskEnv, daemonEnv, sipPort, sipTls, phone }, teardown: world.teardown };
}
