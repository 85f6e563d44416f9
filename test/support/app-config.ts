import { tmpdir } from 'node:os';
import path from 'node:path';
import { loadConfig, type Config } from '../../src/config.js';
import { REDIS_PASSWORD_ENV, REDIS_URL, TEST_SECRET_KEY, type DbSettings } from './env.js';

/**
 * Config for an in-process daemon on database `db` with Redis keys under `redisPrefix`, plus
 * overrides (no vitest here: bench/ scripts use it too).
 */
export function appConfig(db: DbSettings, redisPrefix: string, overrides: Record<string, string> = {}): Config {
  return loadConfig(appEnv(db, redisPrefix, overrides));
}

/** The environment appConfig reads (for code given an env, such as `pbx doctor`'s runDoctor). */
export function appEnv(db: DbSettings, redisPrefix: string, overrides: Record<string, string> = {}): Record<string, string> {
  return {
    PBX_HTTP_HOST: '127.0.0.1',
    PBX_HTTP_PORT: '0',
    PBX_LOG_LEVEL: process.env['PBX_TEST_LOG_LEVEL'] ?? 'silent',
    PBX_DB_HOST: db.host,
    PBX_DB_PORT: String(db.port),
    PBX_DB_NAME: db.name,
    PBX_DB_USER: db.user,
    PBX_DB_PASSWORD: db.password,
    PBX_REDIS_URL: REDIS_URL(),
    ...REDIS_PASSWORD_ENV(),
    PBX_REDIS_PREFIX: redisPrefix,
    // Nothing listens on these in integration tests: Asterisk is "down".
    PBX_ARI_PORT: '1',
    PBX_AMI_PORT: '1',
    // Integration files share one database: an app's dialer would dial the campaigns other files
    // left running (test/integration/campaign-*.test.ts build their own dialers).
    PBX_CAMPAIGN_DIALER: 'no',
    PBX_ARI_USER: 'test',
    PBX_ARI_PASSWORD: 'test',
    PBX_AMI_USER: 'test',
    PBX_AMI_PASSWORD: 'test',
    PBX_RECONNECT_BASE_MS: '100',
    PBX_RECONNECT_MAX_MS: '1000',
    PBX_DATA_DIR: path.join(tmpdir(), `pbx-it-data-${redisPrefix}`),
    // Tests that go through many routes without a token are not throttled; the limit's own test
    // (test/integration/http-hardening.test.ts) sets a small one.
    PBX_AUTH_FAIL_LIMIT: '100000',
    PBX_SECRET_KEY: TEST_SECRET_KEY,
    ...overrides,
  };
}
