/**
 * `pbx doctor`'s Redis settings check (src/doctor.ts, docs/operations.md#redis) against real
 * redis-servers: the site's own Redis (this test machine runs it with `appendonly no`: a WARN
 * naming the redis.conf line), and three throwaway servers started here with known settings: an
 * evicting one without AOF (FAIL + WARN), one as deploy/install.sh configures it (both ok), and
 * one with CONFIG renamed away (cannot tell, not a failure).
 */
import { afterAll, describe, expect, it } from 'vitest';
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { Redis } from 'ioredis';
import { checkRedisQueueSettings } from '../../src/doctor.js';
import { REDIS_PASSWORD_ENV, REDIS_URL } from '../support/env.js';
import { freePort } from '../support/ports.js';
import { eventually } from '../support/wait.js';

const servers: ChildProcess[] = [];
const dirs: string[] = [];
const clients: Redis[] = [];

afterAll(() => {
  for (const c of clients) c.disconnect();
  for (const s of servers) s.kill('SIGTERM');
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

async function connected(url: string, password?: string): Promise<Redis> {
  const redis = new Redis(url, { ...(password ? { password } : {}), lazyConnect: true, retryStrategy: () => null, maxRetriesPerRequest: 0 });
  redis.on('error', () => undefined);
  await redis.connect();
  clients.push(redis);
  return redis;
}

/** A redis-server on a free port with `config` (redis.conf lines, on stdin), in its own folder. */
async function throwaway(config: string): Promise<Redis> {
  const port = await freePort();
  const dir = mkdtempSync(path.join(tmpdir(), 'pbx-doctor-redis-'));
  dirs.push(dir);
  const server = spawn('redis-server', ['-'], { stdio: ['pipe', 'ignore', 'ignore'] });
  servers.push(server);
  server.stdin!.end(`port ${port}\nbind 127.0.0.1\nsave ""\ndir ${dir}\n${config}\n`);
  const url = `redis://127.0.0.1:${port}`;
  return eventually(async () => {
    try {
      return await connected(url);
    } catch {
      return undefined;
    }
  }, 10_000, `redis-server on ${port}`);
}

describe('pbx doctor: Redis settings for the job queues', () => {
  it("the site's Redis: each line says what CONFIG GET says (this machine: appendonly no, a WARN naming `appendonly yes`)", async () => {
    const redis = await connected(REDIS_URL(), REDIS_PASSWORD_ENV()['PBX_REDIS_PASSWORD']);
    const [, appendonly] = (await redis.call('CONFIG', 'GET', 'appendonly')) as string[];
    const [, policy] = (await redis.call('CONFIG', 'GET', 'maxmemory-policy')) as string[];
    const result = await checkRedisQueueSettings(redis);
    if (appendonly === 'yes') expect(result.lines).toContain('ok    redis appendonly yes (queued jobs survive a Redis restart)');
    else {
      const i = result.lines.findIndex((l) => l.startsWith(`WARN  redis appendonly ${appendonly}:`));
      expect(i).toBeGreaterThanOrEqual(0);
      expect(result.lines[i + 1]).toContain('`appendonly yes` in redis.conf');
    }
    expect(result.ok).toBe(policy === 'noeviction');
  });

  it('an evicting Redis without AOF: FAIL for the policy (names noeviction), WARN for appendonly', async () => {
    const redis = await throwaway('appendonly no\nmaxmemory 100mb\nmaxmemory-policy allkeys-lru');
    const result = await checkRedisQueueSettings(redis);
    expect(result.ok).toBe(false);
    expect(result.lines).toEqual([
      'FAIL  redis maxmemory-policy allkeys-lru: BullMQ loses jobs and their locks when Redis evicts keys',
      '      fix: `maxmemory-policy noeviction` in redis.conf (now: redis-cli CONFIG SET maxmemory-policy noeviction; CONFIG REWRITE)',
      'WARN  redis appendonly no: a Redis restart forgets the queued jobs (campaign attempts, webhook deliveries and imports are queued again from Postgres, later)',
      '      fix: `appendonly yes` in redis.conf (now: redis-cli CONFIG SET appendonly yes; CONFIG REWRITE)',
    ]);
  });

  it('a Redis configured as deploy/install.sh starts it (appendonly yes, noeviction): both ok', async () => {
    const redis = await throwaway('appendonly yes\nmaxmemory-policy noeviction');
    const result = await checkRedisQueueSettings(redis);
    expect(result).toEqual({
      ok: true,
      lines: ['ok    redis maxmemory-policy noeviction (job keys are never evicted)', 'ok    redis appendonly yes (queued jobs survive a Redis restart)'],
    });
  });

  it('CONFIG renamed away: "cannot tell", a warning, not a failure', async () => {
    const redis = await throwaway('rename-command CONFIG ""');
    const result = await checkRedisQueueSettings(redis);
    expect(result.ok).toBe(true);
    expect(result.lines[0]).toBe('WARN  redis: cannot tell appendonly and maxmemory-policy (CONFIG GET is disabled or not allowed here)');
    expect(result.lines[1]).toContain('`appendonly yes` and `maxmemory-policy noeviction`');
  });
});
