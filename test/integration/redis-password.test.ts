/**
 * The daemon's Redis connection with a password (issue #21): a throwaway redis-server with
 * `requirepass` on a free port, started here and stopped after. The daemon reaches it with
 * PBX_REDIS_PASSWORD or a password in the URL, and is not ready without one.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { Redis } from 'ioredis';
import type { App } from '../../src/app.js';
import { startTestApp } from '../support/app.js';
import { freePort } from '../support/ports.js';
import { eventually } from '../support/wait.js';

const password = randomBytes(18).toString('base64url');
let server: ChildProcess;
let url = '';

beforeAll(async () => {
  const port = await freePort();
  // The password goes in on stdin (a config read from "-"), not on the command line.
  server = spawn('redis-server', ['-', '--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no'], { stdio: ['pipe', 'ignore', 'ignore'] });
  server.stdin!.end(`requirepass ${password}\n`);
  url = `redis://127.0.0.1:${port}`;
  await eventually(async () => {
    const probe = new Redis(url, { password, lazyConnect: true, retryStrategy: () => null, maxRetriesPerRequest: 0 });
    probe.on('error', () => undefined);
    try {
      await probe.connect();
      return (await probe.ping()) === 'PONG' ? true : undefined;
    } catch {
      return undefined;
    } finally {
      probe.disconnect();
    }
  }, 10_000, 'the throwaway redis-server answering', 50);
});

afterAll(() => {
  if (server?.pid && server.exitCode === null) server.kill('SIGTERM');
});

/** Redis's readiness check of a daemon with these settings: ok as soon as it is, else the last answer after 3 s. */
async function readiness(env: Record<string, string>): Promise<{ ok: boolean; error?: string }> {
  const app: App = await startTestApp(env);
  try {
    const until = Date.now() + 3_000;
    for (;;) {
      const res = await app.http.inject({ method: 'GET', url: '/health/ready' });
      const redis = (res.json() as { checks: { redis: { ok: boolean; error?: string } } }).checks.redis;
      if (redis.ok || Date.now() > until) return redis;
      await new Promise((r) => setTimeout(r, 100));
    }
  } finally {
    await app.stop();
  }
}

describe('Redis with a password', () => {
  it('refuses a client without the password (the server is really protected)', async () => {
    const bare = new Redis(url, { lazyConnect: true, enableReadyCheck: false, retryStrategy: () => null, maxRetriesPerRequest: 0 });
    bare.on('error', () => undefined);
    try {
      await bare.connect();
      await expect(bare.ping()).rejects.toThrow(/NOAUTH/);
    } finally {
      bare.disconnect();
    }
  });

  it('the daemon is ready with PBX_REDIS_PASSWORD, or with the password in the URL', async () => {
    expect(await readiness({ PBX_REDIS_URL: url, PBX_REDIS_PASSWORD: password })).toMatchObject({ ok: true });
    // PBX_REDIS_PASSWORD '' (unset): the site's own password, which the test support passes to every daemon, must not apply here.
    expect(await readiness({ PBX_REDIS_URL: url.replace('//', `//:${encodeURIComponent(password)}@`), PBX_REDIS_PASSWORD: '' })).toMatchObject({ ok: true });
  });

  it('the daemon is not ready without the password, or with a wrong one', async () => {
    expect(await readiness({ PBX_REDIS_URL: url, PBX_REDIS_PASSWORD: '' })).toMatchObject({ ok: false });
    expect(await readiness({ PBX_REDIS_URL: url, PBX_REDIS_PASSWORD: 'wrong' })).toMatchObject({ ok: false });
  });
});
