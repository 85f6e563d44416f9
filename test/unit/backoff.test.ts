import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { backoffDelay } from '../../src/shared/backoff.js';

describe('backoffDelay', () => {
  const policy = { baseMs: 500, maxMs: 30_000 };

  it('doubles per attempt until the cap', () => {
    expect(backoffDelay(0, policy, () => 1)).toBe(500);
    expect(backoffDelay(1, policy, () => 1)).toBe(1000);
    expect(backoffDelay(5, policy, () => 1)).toBe(16_000);
    expect(backoffDelay(6, policy, () => 1)).toBe(30_000);
    expect(backoffDelay(1000, policy, () => 1)).toBe(30_000);
  });

  it('jitters within [d/2, d], never zero, never above the cap', () => {
    fc.assert(
      fc.property(fc.integer({ min: 0, max: 200 }), fc.double({ min: 0, max: 1, noNaN: true, maxExcluded: true }), (attempt, r) => {
        const d = backoffDelay(attempt, policy, () => r);
        const full = Math.min(policy.maxMs, policy.baseMs * 2 ** Math.min(attempt, 30));
        return d >= full / 2 - 1 && d <= full && d > 0 && d <= policy.maxMs;
      }),
    );
  });
});
