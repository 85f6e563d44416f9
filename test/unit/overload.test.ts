/**
 * Overload control's policy (src/calls/overload.ts): which new call is refused and why, the
 * event-loop signal's hysteresis, each limit off at 0, and the refusal log's rate limit.
 */
import { describe, expect, it } from 'vitest';
import { CALM, NO_REFUSALS, admission, observeLag, tallyRefusal, type OverloadLimits, type OverloadState } from '../../src/calls/overload.js';

const limits: OverloadLimits = { maxCalls: 10, maxCallsInSetup: 4, maxLagMs: 200 };
const quiet = { calls: 0, callsInSetup: 0 };
/** Two samples above the limit: lagging. */
const lagged = (): OverloadState => observeLag(observeLag(CALM, limits, 250), limits, 250);

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

  it('refuses while the event loop lags', () => {
    expect(admission(lagged(), limits, quiet)).toBe('event-loop-lag');
  });

  it('names the call cap first, then the lag, then the setup backlog', () => {
    const lagging = lagged();
    expect(admission(lagging, limits, { calls: 10, callsInSetup: 4 })).toBe('max-calls');
    expect(admission(lagging, limits, { calls: 9, callsInSetup: 4 })).toBe('event-loop-lag');
  });

  it('each limit at 0 is off', () => {
    const off: OverloadLimits = { maxCalls: 0, maxCallsInSetup: 0, maxLagMs: 0 };
    expect(admission(observeLag(observeLag(CALM, off, 5_000), off, 5_000), off, { calls: 100_000, callsInSetup: 100_000 })).toBeNull();
  });
});

describe('observeLag (hysteresis)', () => {
  const run = (samples: number[]): boolean[] => {
    let state: OverloadState = CALM;
    return samples.map((lag) => (state = observeLag(state, limits, lag)).lagging);
  };

  it('starts after two samples in a row above the limit and ends only below half of it', () => {
    expect(run([150, 200, 201, 150, 201, 300, 150, 100, 99, 150, 300])).toEqual([false, false, false, false, false, true, true, true, false, false, false]);
  });

  it('one slow sample (a start, a long GC) refuses nothing', () => {
    expect(run([5_000, 20, 5_000, 20])).toEqual([false, false, false, false]);
  });

  it('keeps the last sample', () => {
    expect(observeLag(CALM, limits, 42).lagMs).toBe(42);
  });

  it('never lags when not watched', () => {
    expect(observeLag({ lagging: true, above: 0, lagMs: 900 }, { ...limits, maxLagMs: 0 }, 900).lagging).toBe(false);
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
