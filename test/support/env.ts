/**
 * Test settings. The base database settings come from the same env file the daemon uses
 * (PBX_ENV_FILE, written by deploy/install.sh); each run makes its own database from them.
 */
import { createHash, randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import { SecretBox } from '../../src/shared/secret-box.js';

export const DEFAULT_ENV_FILE = '/etc/pbx/pbx.env';

export function loadTestEnv(): void {
  const file = process.env['PBX_ENV_FILE'] ?? (existsSync(DEFAULT_ENV_FILE) ? DEFAULT_ENV_FILE : null);
  if (file) process.loadEnvFile(file);
}

export interface DbSettings {
  host: string;
  port: number;
  user: string;
  password: string;
  name: string;
}

export function baseDbSettings(): Omit<DbSettings, 'name'> {
  loadTestEnv();
  return {
    host: process.env['PBX_DB_HOST'] ?? '127.0.0.1',
    port: Number(process.env['PBX_DB_PORT'] ?? 5432),
    user: process.env['PBX_DB_USER'] ?? 'postgres',
    password: process.env['PBX_DB_PASSWORD'] ?? '',
  };
}

export function runId(): string {
  return `${Date.now().toString(36)}${randomBytes(3).toString('hex')}`;
}

/**
 * PBX_SECRET_KEY of every daemon and test in a run: one fixed key, so a SIP password sealed by one
 * test file (or the e2e daemon) opens in another.
 */
export const TEST_SECRET_KEY = createHash('sha256').update('pbx test PBX_SECRET_KEY').digest('base64');
export const testSecretBox = (): SecretBox => new SecretBox(Buffer.from(TEST_SECRET_KEY, 'base64'));

export const REDIS_URL = (): string => process.env['PBX_REDIS_URL'] ?? 'redis://127.0.0.1:6379';
/** The Redis password of the env file (PBX_REDIS_PASSWORD), as env settings and as ioredis options; none when unset. */
export const REDIS_PASSWORD_ENV = (): Record<string, string> => (process.env['PBX_REDIS_PASSWORD'] ? { PBX_REDIS_PASSWORD: process.env['PBX_REDIS_PASSWORD'] } : {});
export const REDIS_OPTIONS = (): { password?: string } => (process.env['PBX_REDIS_PASSWORD'] ? { password: process.env['PBX_REDIS_PASSWORD'] } : {});
