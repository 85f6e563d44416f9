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
  readonly checks: { readonly asterisk: CheckResult; readonly postgres: CheckResult; readonly redis: CheckResult };
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

export interface ReadinessDeps {
  readonly db: Db;
  readonly redis: Redis;
  readonly asterisk: () => { ari: boolean; ami: boolean };
}

export async function checkReadiness(deps: ReadinessDeps): Promise<ReadinessReport> {
  const [postgres, redis] = await Promise.all([
    timed(() => sql`select 1`.execute(deps.db)),
    timed(() => deps.redis.ping()),
  ]);
  const { ari, ami } = deps.asterisk();
  const asterisk: CheckResult = {
    ok: ari && ami,
    ari,
    ami,
    ...(ari && ami ? {} : { error: `${[!ari && 'ARI', !ami && 'AMI'].filter(Boolean).join(' and ')} not connected` }),
  };
  return { ready: asterisk.ok && postgres.ok && redis.ok, checks: { asterisk, postgres, redis } };
}
