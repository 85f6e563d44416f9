import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { averageHandleSeconds, estimatedWaitSeconds, serviceLevel } from '../../src/acd/estimate.js';

describe('estimated wait time', () => {
  const base = { agentsStaffed: 2, agentsReady: 0, recentHandleSeconds: [100, 200, 300], defaultHandleSeconds: 180 };

  it('average handle time ignores nonsense samples and falls back without history', () => {
    expect(averageHandleSeconds([100, 200, 300], 180)).toBe(200);
    expect(averageHandleSeconds([100, -5, Number.NaN, Infinity, 300], 180)).toBe(200);
    expect(averageHandleSeconds([], 180)).toBe(180);
  });

  it('is 0 while a ready agent is left for the caller', () => {
    expect(estimatedWaitSeconds({ ...base, position: 1, agentsReady: 1 })).toBe(0);
    expect(estimatedWaitSeconds({ ...base, position: 2, agentsReady: 2 })).toBe(0);
  });

  it('(position - ready - 0.5) * AHT / staffed otherwise', () => {
    expect(estimatedWaitSeconds({ ...base, position: 1 })).toBe(50); // half a call of 200 s, 2 agents
    expect(estimatedWaitSeconds({ ...base, position: 3 })).toBe(250);
    expect(estimatedWaitSeconds({ ...base, position: 3, agentsReady: 1 })).toBe(150);
    expect(estimatedWaitSeconds({ ...base, position: 1, agentsStaffed: 1, recentHandleSeconds: [] })).toBe(90);
  });

  it('is null when nobody is staffed', () => {
    expect(estimatedWaitSeconds({ ...base, position: 1, agentsStaffed: 0 })).toBeNull();
  });

  it('grows with the position and shrinks with more agents (property)', () => {
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 500 }), fc.integer({ min: 1, max: 50 }), fc.integer({ min: 0, max: 50 }), (position, staffed, ready) => {
        const input = { ...base, position, agentsStaffed: staffed, agentsReady: ready };
        const w = estimatedWaitSeconds(input)!;
        expect(w).toBeGreaterThanOrEqual(0);
        expect(estimatedWaitSeconds({ ...input, position: position + 1 })!).toBeGreaterThanOrEqual(w);
        expect(estimatedWaitSeconds({ ...input, agentsStaffed: staffed + 1 })!).toBeLessThanOrEqual(w);
      }),
    );
  });
});

describe('service level', () => {
  const outcomes = [
    { waitedSeconds: 5, answered: true },
    { waitedSeconds: 20, answered: true },
    { waitedSeconds: 21, answered: true },
    { waitedSeconds: 90, answered: false },
    { waitedSeconds: 3, answered: false },
  ];

  it('is the share of offered calls answered within the target (target included)', () => {
    expect(serviceLevel(outcomes, 20)).toEqual({ offered: 5, answeredWithinTarget: 2, ratio: 0.4 });
  });

  it('can leave out short abandons', () => {
    expect(serviceLevel(outcomes, 20, { ignoreAbandonedWithinSeconds: 5 })).toEqual({ offered: 4, answeredWithinTarget: 2, ratio: 0.5 });
  });

  it('has no ratio without calls', () => {
    expect(serviceLevel([], 20)).toEqual({ offered: 0, answeredWithinTarget: 0, ratio: null });
  });
});
