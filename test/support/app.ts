import { inject } from 'vitest';
import type { Config } from '../../src/config.js';
import { createLogger } from '../../src/logger.js';
import { createApp, type App } from '../../src/app.js';
import { appConfig } from './app-config.js';

/** Config for a daemon under test: the run's database and Redis prefix, plus overrides. */
export function testConfig(overrides: Record<string, string> = {}): Config {
  return appConfig(inject('db'), inject('redisPrefix'), overrides);
}

export async function startTestApp(overrides: Record<string, string> = {}): Promise<App> {
  const config = testConfig(overrides);
  const app = await createApp(config, createLogger(config.log.level));
  await app.start();
  return app;
}
