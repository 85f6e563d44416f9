import type { TestProject } from 'vitest/node';
import { Redis } from 'ioredis';
import { rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { baseDbSettings, REDIS_OPTIONS, REDIS_URL, runId, type DbSettings } from '../support/env.js';
import { createTestDatabase, dropTestDatabase } from '../support/db.js';

declare module 'vitest' {
  export interface ProvidedContext {
    db: DbSettings;
    redisPrefix: string;
  }
}

export default async function setup(project: TestProject): Promise<() => Promise<void>> {
  const id = runId();
  const db: DbSettings = { ...baseDbSettings(), name: `pbx_it_${id}` };
  const redisPrefix = `pbx-it-${id}`;
  await createTestDatabase(db);
  project.provide('db', db);
  project.provide('redisPrefix', redisPrefix);
  return async () => {
    await dropTestDatabase(db);
    await rm(path.join(tmpdir(), `pbx-it-data-${redisPrefix}`), { recursive: true, force: true });
    const redis = new Redis(REDIS_URL(), REDIS_OPTIONS());
    const keys = await redis.keys(`${redisPrefix}:*`);
    if (keys.length) await redis.del(...keys);
    redis.disconnect();
  };
}
