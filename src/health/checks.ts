import { sql } from 'kysely';
import type { Redis } from 'ioredis';
import type { Db } from '../db/database.js';

export interface CheckResult {
  readonly ok: boolean;
  readonly latencyMs?: number;
  readonly error?: string;
  readonly [key: string]: unknown;
}

export interface ReadinessReport {
  readonly ready: boolean;
  readonly checks: { readonly asterisk: CheckResult; readonly postgres: CheckResult; readonly redis: CheckResult; readonly recordings?: CheckResult };
}

const TIMEOUT_MS = 2_000;

async function timed(fn: () => Promise<unknown>): Promise<CheckResult> {
  const started = performance.now();
  let timer: NodeJS.Timeout | undefined;
  try {
    await Promise.race([
      fn(),
      new Promise((_, reject) => {
        timer = setTimeout(() => reject(new Error(`no answer within ${TIMEOUT_MS} ms`)), TIMEOUT_MS);
      }),
    ]);
    return { ok: true, latencyMs: Math.round(performance.now() - started) };
  } catch (err) {
    return { ok: false, error: (err as Error).message || String(err) };
  } finally {
    clearTimeout(timer);
  }
}

/**
 * Resolves once Redis is connected. The daemon connects in the background (it must start while
 * Redis is down), so a readiness probe right after start can find the connection still being made:
 * that is "not yet", not "down", and is worth waiting for within the check's time.
 */
function redisConnected(redis: Redis, withinMs: number): Promise<void> {
  if (redis.status === 'ready') return Promise.resolve();
  return new Promise((resolve, reject) => {
    const onReady = (): void => {
      clearTimeout(timer);
      resolve();
    };
    const timer = setTimeout(() => {
      redis.off('ready', onReady);
      reject(new Error(`not connected (${redis.status})`));
    }, withinMs);
    redis.once('ready', onReady);
  });
}

export interface ReadinessDeps {
  readonly db: Db;
  readonly redis: Redis;
  readonly asterisk: () => { ari: boolean; ami: boolean };
  /**
   * Free space on the recordings disk (src/recordings): reported, not part of `ready` (below the
   * threshold calls go on, unrecorded).
   */
  readonly recordingsDisk?: () => Promise<{ ok: boolean; freeBytes: number | null; minFreeBytes: number; error?: string }>;
}

export async function checkReadiness(deps: ReadinessDeps): Promise<ReadinessReport> {
  const [postgres, redis, recordings] = await Promise.all([
    timed(() => sql`select 1`.execute(deps.db)),
    timed(async () => {
      await redisConnected(deps.redis, TIMEOUT_MS - 100);
      await deps.redis.ping();
    }),
    deps.recordingsDisk?.().then(
      (d): CheckResult => ({ ok: d.ok, freeBytes: d.freeBytes, minFreeBytes: d.minFreeBytes, ...(d.error ? { error: d.error } : {}) }),
      (err: Error): CheckResult => ({ ok: false, error: err.message }),
    ),
  ]);
  const { ari, ami } = deps.asterisk();
  const asterisk: CheckResult = {
    ok: ari && ami,
    ari,
    ami,
    ...(ari && ami ? {} : { error: `${[!ari && 'ARI', !ami && 'AMI'].filter(Boolean).join(' and ')} not connected` }),
  };
  return { ready: asterisk.ok && postgres.ok && redis.ok, checks: { asterisk, postgres, redis, ...(recordings ? { recordings } : {}) } };
}
