/**
 * Overload control's policy (src/calls/overload.ts): which new call is refused and why, the
 * event-loop signal's hysteresis and the share it refuses, each limit off at 0, and the refusal
 * log's rate limit.
 */
import { describe, expect, it } from 'vitest';
import {
  CALM,
  LAG_REFUSED_PERCENT,
  NO_REFUSALS,
  admission as admit,
  lagRefusedShare,
  observeLag,
  refusesForLag,
  tallyRefusal,
  type OverloadLimits,
  type OverloadSignals,
  type OverloadState,
} from '../../src/calls/overload.js';

const limits: OverloadLimits = { maxCalls: 10, maxCallsInSetup: 4, maxLagMs: 200 };
const quiet = { calls: 0, callsInSetup: 0 };
/** Three samples above the limit: lagging. */
const lagged = (): OverloadState => [250, 250, 250].reduce((s, lag) => observeLag(s, limits, lag), CALM);
/** The first call while lagging, the dialplan shedding nothing yet: refused if the loop lags. */
const first = { n: 0, share: lagRefusedShare(0) };
const admission = (state: OverloadState, l: OverloadLimits, signals: OverloadSignals) => admit(state, l, signals, first);

describe('admission', () => {
  it('admits below every limit', () => {
    expect(admission(CALM, limits, { calls: 9, callsInSetup: 3 })).toBeNull();
  });

  it('refuses at the call cap (the new call would be one too many)', () => {
    expect(admission(CALM, limits, { calls: 10, callsInSetup: 0 })).toBe('max-calls');
    expect(admission(CALM, limits, { calls: 12, callsInSetup: 0 })).toBe('max-calls');
  });

  it('refuses while as many calls are in setup as allowed, and admits again as soon as one is set up (no hysteresis)', () => {
    expect(admission(CALM, limits, { calls: 5, callsInSetup: 4 })).toBe('setup-backlog');
    expect(admission(CALM, limits, { calls: 5, callsInSetup: 3 })).toBeNull();
  });

  it('while the event loop lags refuses half of the new calls, every other one from the first', () => {
    const state = lagged();
    const refused = Array.from({ length: 10 }, (_, n) => admit(state, limits, quiet, { n, share: lagRefusedShare(0) }));
    expect(refused).toEqual(Array.from({ length: 10 }, (_, n) => (n % 2 === 0 ? 'event-loop-lag' : null)));
    expect(admission(state, limits, quiet)).toBe('event-loop-lag');
  });

  it('a call the lag lets through may still be refused for the setup backlog', () => {
    expect(admit(lagged(), limits, { calls: 5, callsInSetup: 4 }, { n: 1, share: 0.5 })).toBe('setup-backlog');
  });

  it('names the call cap first, then the lag, then the setup backlog', () => {
    const lagging = lagged();
    expect(admission(lagging, limits, { calls: 10, callsInSetup: 4 })).toBe('max-calls');
    expect(admission(lagging, limits, { calls: 9, callsInSetup: 4 })).toBe('event-loop-lag');
  });

  it('each limit at 0 is off', () => {
    const off: OverloadLimits = { maxCalls: 0, maxCallsInSetup: 0, maxLagMs: 0 };
    expect(admission([5_000, 5_000, 5_000].reduce((s, lag) => observeLag(s, off, lag), CALM), off, { calls: 100_000, callsInSetup: 100_000 })).toBeNull();
  });
});

describe('observeLag (hysteresis)', () => {
  const run = (samples: number[]): boolean[] => {
    let state: OverloadState = CALM;
    return samples.map((lag) => (state = observeLag(state, limits, lag)).lagging);
  };

  it('starts after three samples in a row above the limit and ends only below half of it', () => {
    expect(run([150, 200, 201, 300, 150, 201, 300, 250, 150, 100, 99, 150, 300])).toEqual([
      false, false, false, false, false, false, false, true, true, true, false, false, false,
    ]);
  });

  it('one or two slow samples (a start, a long GC, a burst) refuse nothing', () => {
    expect(run([5_000, 20, 5_000, 5_000, 20, 5_000])).toEqual([false, false, false, false, false, false]);
  });

  it('keeps the last sample', () => {
    expect(observeLag(CALM, limits, 42).lagMs).toBe(42);
  });

  it('never lags when not watched', () => {
    expect(observeLag({ lagging: true, above: 0, lagMs: 900 }, { ...limits, maxLagMs: 0 }, 900).lagging).toBe(false);
  });
});

describe('the share refused while the loop lags', () => {
  it('is half of the callers: all of it by the daemon while the dialplan sheds nothing, none once the dialplan sheds half or more', () => {
    expect(LAG_REFUSED_PERCENT).toBe(50);
    expect(lagRefusedShare(0)).toBe(0.5);
    expect(lagRefusedShare(50)).toBe(0);
    expect(lagRefusedShare(90)).toBe(0);
    expect(lagRefusedShare(100)).toBe(0);
  });

  it('with the dialplan shedding less (the setup throttle at 20 %), the daemon refuses the rest: half in all', () => {
    const share = lagRefusedShare(20);
    expect(share).toBeCloseTo(0.375, 9);
    expect((1 - 0.2) * (1 - share)).toBeCloseTo(0.5, 9);
  });

  it('spreads the refusals evenly over the calls as they arrive, from the first', () => {
    const pattern = (share: number) => Array.from({ length: 12 }, (_, n) => (refusesForLag(n, share) ? 'x' : '.')).join('');
    expect(pattern(0.5)).toBe('x.x.x.x.x.x.');
    expect(pattern(0.25)).toBe('x...x...x...');
    expect(pattern(0)).toBe('............');
    expect(pattern(1)).toBe('xxxxxxxxxxxx');
    const refused = Array.from({ length: 1_000 }, (_, n) => refusesForLag(n, lagRefusedShare(20))).filter(Boolean).length;
    expect(refused).toBe(375);
  });
});

describe('tallyRefusal (the log line at most once per interval)', () => {
  it('logs the first refusal at once, then sums the next ones into the line after the interval', () => {
    let t = tallyRefusal(NO_REFUSALS, 'max-calls', 1_000, 10_000);
    expect(t.log).toEqual({ 'max-calls': 1 });
    t = tallyRefusal(t.tally, 'max-calls', 2_000, 10_000);
    expect(t.log).toBeNull();
    t = tallyRefusal(t.tally, 'setup-backlog', 10_999, 10_000);
    expect(t.log).toBeNull();
    t = tallyRefusal(t.tally, 'max-calls', 11_000, 10_000);
    expect(t.log).toEqual({ 'max-calls': 2, 'setup-backlog': 1 });
    t = tallyRefusal(t.tally, 'event-loop-lag', 12_000, 10_000);
    expect(t.log).toBeNull();
    expect(t.tally.unlogged).toEqual({ 'event-loop-lag': 1 });
  });
});
