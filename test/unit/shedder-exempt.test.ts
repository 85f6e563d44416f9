import { afterEach, describe, expect, it, vi } from 'vitest';
import { pino } from 'pino';
import { DialplanShedder } from '../../src/calls/shedder.js';
import type { RefusalReason } from '../../src/calls/overload.js';

afterEach(() => {
  vi.useRealTimers();
});

describe('shedding tells the dialplan the emergency numbers first', () => {
  it('sets OVERLOAD_EXEMPT before OVERLOAD_SHED, and again only when the numbers change', async () => {
    vi.useFakeTimers();
    const sets: [string, string][] = [];
    const refused = new Map<RefusalReason, number>([['max-calls', 0]]);
    let exempt = '112|911';
    const shedder = new DialplanShedder({
      admission: { limits: { maxCalls: 3, maxCallsInSetup: 0, maxLagMs: 0 }, refused, lagging: false, dialplanSheds: () => undefined },
      calls: () => 3,
      setGlobal: async (name, value) => {
        sets.push([name, value]);
      },
      reachable: () => true,
      exempt: () => exempt,
      log: pino({ level: 'silent' }),
      nowMs: () => 1_000_000,
    });
    shedder.start();
    refused.set('max-calls', 1);
    await vi.advanceTimersByTimeAsync(1_000);
    expect(sets).toEqual([['OVERLOAD_EXEMPT', '112|911'], ['OVERLOAD_SHED', '1003:100']]);
    await vi.advanceTimersByTimeAsync(1_000);
    expect(sets.slice(2)).toEqual([['OVERLOAD_SHED', '1003:100']]);
    exempt = '112';
    await vi.advanceTimersByTimeAsync(1_000);
    expect(sets.slice(3)).toEqual([['OVERLOAD_EXEMPT', '112'], ['OVERLOAD_SHED', '1003:100']]);
    await shedder.stop();
  });
});
