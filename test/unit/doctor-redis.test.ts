/**
 * `pbx doctor`'s verdict on the Redis settings (src/doctor.ts judgeRedisSettings, docs/operations.md#redis):
 * eviction is a failure, AOF off a warning, CONFIG unusable "cannot tell"; each names the redis.conf line.
 * The same check against real redis-servers: test/integration/doctor-redis.test.ts.
 */
import { describe, expect, it } from 'vitest';
import { judgeRedisSettings } from '../../src/doctor.js';

describe('judgeRedisSettings', () => {
  it('noeviction and appendonly yes: both ok', () => {
    expect(judgeRedisSettings({ appendonly: 'yes', maxmemoryPolicy: 'noeviction', maxmemory: 0 })).toEqual({
      ok: true,
      lines: ['ok    redis maxmemory-policy noeviction (job keys are never evicted)', 'ok    redis appendonly yes (queued jobs survive a Redis restart)'],
    });
  });

  it('an evicting policy fails even without a memory limit (it says nothing is evicted until one is set)', () => {
    const r = judgeRedisSettings({ appendonly: 'yes', maxmemoryPolicy: 'volatile-lru', maxmemory: 0 });
    expect(r.ok).toBe(false);
    expect(r.lines[0]).toBe('FAIL  redis maxmemory-policy volatile-lru (maxmemory 0: nothing is evicted until a limit is set): BullMQ loses jobs and their locks when Redis evicts keys');
    expect(r.lines[1]).toContain('`maxmemory-policy noeviction` in redis.conf');
  });

  it('appendonly no: a warning naming `appendonly yes`, the doctor still passes', () => {
    const r = judgeRedisSettings({ appendonly: 'no', maxmemoryPolicy: 'noeviction', maxmemory: 0 });
    expect(r.ok).toBe(true);
    expect(r.lines[1]).toMatch(/^WARN {2}redis appendonly no: /);
    expect(r.lines[2]).toContain('`appendonly yes` in redis.conf');
  });

  it('CONFIG unusable: cannot tell, a warning', () => {
    const r = judgeRedisSettings(null);
    expect(r.ok).toBe(true);
    expect(r.lines[0]).toMatch(/^WARN {2}redis: cannot tell/);
  });
});
