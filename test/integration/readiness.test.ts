import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { inject } from 'vitest';
import { Redis } from 'ioredis';
import { checkReadiness } from '../../src/health/checks.js';
import type { Db } from '../../src/db/database.js';
import { openDb } from '../support/db.js';
import { REDIS_URL } from '../support/env.js';

let db: Db;
beforeAll(() => {
  db = openDb(inject('db'));
});
afterAll(async () => {
  await db.destroy();
});

const asteriskUp = () => ({ ari: true, ami: true });

/** Redis as the daemon makes it: connected in the background, no queueing while not connected. */
const daemonRedis = (url: string): Redis =>
  new Redis(url, { lazyConnect: true, enableOfflineQueue: false, maxRetriesPerRequest: 1, retryStrategy: () => 100 });

describe('readiness', () => {
  it('counts Redis ready when asked while its connection is still being made (as right after start)', async () => {
    const redis = daemonRedis(REDIS_URL());
    try {
      const connecting = redis.connect();
      expect(redis.status).not.toBe('ready');
      const report = await checkReadiness({ db, redis, asterisk: asteriskUp });
      expect(report.checks.redis).toMatchObject({ ok: true });
      expect(report.ready).toBe(true);
      await connecting;
    } finally {
      redis.disconnect();
    }
  });

  it('reports Redis down, naming the connection state, when nothing answers', async () => {
    const redis = daemonRedis('redis://127.0.0.1:1');
    redis.on('error', () => undefined);
    try {
      redis.connect().catch(() => undefined); // it fails: the report below says so
      const report = await checkReadiness({ db, redis, asterisk: asteriskUp });
      expect(report.ready).toBe(false);
      expect(report.checks.postgres.ok).toBe(true);
      expect(report.checks.redis.ok).toBe(false);
      expect(report.checks.redis.error).toMatch(/not connected \((connecting|reconnecting|connect|wait)\)/);
    } finally {
      redis.disconnect();
    }
  });
});
