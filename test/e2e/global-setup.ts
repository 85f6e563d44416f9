/**
 * e2e world for one run: a fresh database, a unique Redis prefix, a built daemon, and a real
 * Asterisk 22 instance of its own (own ports and dirs) reading PJSIP endpoints from that database.
 */
import type { TestProject } from 'vitest/node';
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { randomBytes } from 'node:crypto';
import { rm } from 'node:fs/promises';
import { Redis } from 'ioredis';
import { baseDbSettings, REDIS_URL, runId, type DbSettings } from '../support/env.js';
import { createTestDatabase, dropTestDatabase, openDb } from '../support/db.js';
import { asteriskInstance, REPO } from '../support/asterisk.js';
import { freePort } from '../support/ports.js';
import { insertPhone } from '../support/endpoints.js';

export interface E2eWorld {
  db: DbSettings;
  redisPrefix: string;
  asteriskEnv: Record<string, string>;
  daemonEnv: Record<string, string>;
  sipPort: number;
  phone: { id: string; password: string; number: string; name: string };
}

declare module 'vitest' {
  export interface ProvidedContext {
    e2e: E2eWorld;
  }
}

const secret = () => randomBytes(18).toString('base64url');

export default async function setup(project: TestProject): Promise<() => Promise<void>> {
  const id = runId();
  const t0 = Date.now();
  const step = (what: string) => process.stderr.write(`[e2e setup +${((Date.now() - t0) / 1000).toFixed(1)}s] ${what}\n`);

  step('building the daemon');
  await promisify(execFile)('npx', ['tsc', '-p', 'tsconfig.build.json'], { cwd: REPO, timeout: 180_000 });

  const db: DbSettings = { ...baseDbSettings(), name: `pbx_e2e_${id}` };
  const redisPrefix = `pbx-e2e-${id}`;
  step(`creating database ${db.name}`);
  await createTestDatabase(db);

  const [sipPort, ariPort, amiPort] = [await freePort(true), await freePort(), await freePort()];
  const common = {
    PBX_ARI_PORT: String(ariPort),
    PBX_AMI_PORT: String(amiPort),
    PBX_ARI_USER: 'pbx',
    PBX_ARI_PASSWORD: secret(),
    PBX_AMI_USER: 'pbx',
    PBX_AMI_PASSWORD: secret(),
    PBX_ARI_APP: `pbx-e2e-${id}`,
    PBX_DB_HOST: db.host,
    PBX_DB_PORT: String(db.port),
    PBX_DB_NAME: db.name,
    PBX_DB_USER: db.user,
    PBX_DB_PASSWORD: db.password,
  };
  const asteriskEnv = { ...common, PBX_AST_INSTANCE: `e2e-${id}`, PBX_SIP_PORT: String(sipPort), PBX_SIP_BIND: '127.0.0.1' };
  step(`starting Asterisk instance e2e-${id} (SIP ${sipPort}, ARI ${ariPort}, AMI ${amiPort})`);
  await asteriskInstance('start', asteriskEnv);

  const phone = { id: `e2e${id.slice(-6)}`, password: secret(), number: '2001', name: 'E2E Caller' };
  const conn = openDb(db);
  try {
    await insertPhone(conn, phone.id, phone.password, `"${phone.name}" <${phone.number}>`);
  } finally {
    await conn.destroy();
  }

  const daemonEnv = {
    ...common,
    PBX_HTTP_HOST: '127.0.0.1',
    PBX_HTTP_PORT: String(await freePort()),
    PBX_REDIS_URL: REDIS_URL(),
    PBX_REDIS_PREFIX: redisPrefix,
    PBX_LOG_LEVEL: process.env['PBX_TEST_DAEMON_LOG_LEVEL'] ?? 'debug',
    PBX_RECONNECT_BASE_MS: '200',
    PBX_RECONNECT_MAX_MS: '2000',
    PBX_DIGIT_TIMEOUT_MS: '3000',
    PBX_SHUTDOWN_GRACE_MS: '5000',
  };
  project.provide('e2e', { db, redisPrefix, asteriskEnv, daemonEnv, sipPort, phone });
  step('ready');

  return async () => {
    let dir = '';
    try {
      dir = (await asteriskInstance('path', asteriskEnv)).trim();
      await asteriskInstance('stop', asteriskEnv);
    } finally {
      if (dir.includes('pbx-instances/e2e-')) await rm(dir, { recursive: true, force: true });
      await dropTestDatabase(db);
      const redis = new Redis(REDIS_URL());
      const keys = await redis.keys(`${redisPrefix}:*`);
      if (keys.length) await redis.del(...keys);
      redis.disconnect();
    }
  };
}
