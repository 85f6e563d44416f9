/**
 * Shedding before Stasis (src/calls/shedding.ts): what share of new callers the dialplan is told
 * to refuse from the daemon's refusals each tick: all at the call cap until the calls are 5 % below
 * it, half while the loop lags, a throttle on the setup backlog that backs off and recovers (the
 * largest share wins); the value the dialplan reads, which expires by itself.
 */
import { describe, expect, it } from 'vitest';
import { LAG_REFUSED_PERCENT, type OverloadLimits, type RefusalReason } from '../../src/calls/overload.js';
import { MIN_ADMITTED, NOT_SHEDDING, SHED_TTL_S, nextShed, refusalsSince, resumeBelow, shedValue, type ShedSignals, type ShedState } from '../../src/calls/shedding.js';

const limits: OverloadLimits = { maxCalls: 100, maxCallsInSetup: 40, maxLagMs: 200 };
const quiet: ShedSignals = { refused: {}, calls: 10, lagging: false };
const run = (state: ShedState, ticks: ShedSignals[]): ShedState => ticks.reduce((s, t) => nextShed(s, limits, t), state);

describe('nextShed', () => {
  it('sheds nothing without refusals, even at the call cap or with the loop lagging', () => {
    expect(nextShed(NOT_SHEDDING, limits, { refused: {}, calls: 100, lagging: true })).toEqual(NOT_SHEDDING);
  });

  it('at the call cap sheds every new caller until the calls are 5 % below it (hysteresis)', () => {
    const capped = nextShed(NOT_SHEDDING, limits, { refused: { 'max-calls': 3 }, calls: 100, lagging: false });
    expect(capped).toMatchObject({ percent: 100, all: 'max-calls' });
    // No call reaches the daemon now: no refusals, and it keeps shedding while above 95.
    expect(nextShed(capped, limits, { ...quiet, calls: 99 })).toMatchObject({ percent: 100, all: 'max-calls' });
    expect(nextShed(capped, limits, { ...quiet, calls: 96 })).toMatchObject({ percent: 100 });
    expect(nextShed(capped, limits, { ...quiet, calls: 95 })).toMatchObject({ percent: 0, all: null });
  });

  it('does not start at the cap when the calls are already down by the tick', () => {
    expect(nextShed(NOT_SHEDDING, limits, { refused: { 'max-calls': 1 }, calls: 95, lagging: false }).percent).toBe(0);
  });

  it('a small cap resumes one call below it', () => {
    expect(resumeBelow(3)).toBe(2);
    expect(resumeBelow(500)).toBe(475);
    const small: OverloadLimits = { ...limits, maxCalls: 3 };
    const capped = nextShed(NOT_SHEDDING, small, { refused: { 'max-calls': 1 }, calls: 3, lagging: false });
    expect(capped.percent).toBe(100);
    expect(nextShed(capped, small, { ...quiet, calls: 2 }).percent).toBe(0);
  });

  it('while the loop lags sheds half of new callers (not all), goes on without the daemon refusing more, and stops once it recovered', () => {
    const lagging = nextShed(NOT_SHEDDING, limits, { refused: { 'event-loop-lag': 20 }, calls: 10, lagging: true });
    expect(lagging).toMatchObject({ percent: LAG_REFUSED_PERCENT, all: null, lag: true });
    expect(LAG_REFUSED_PERCENT).toBe(50);
    // The dialplan sheds the share now: the daemon refuses no more for the lag (lagRefusedShare), the share stays.
    expect(nextShed(lagging, limits, { ...quiet, lagging: true }).percent).toBe(50);
    expect(nextShed(lagging, limits, quiet)).toEqual(NOT_SHEDDING);
  });

  it('the lag and the setup backlog together shed the larger share', () => {
    const both: ShedSignals = { refused: { 'event-loop-lag': 2, 'setup-backlog': 5 }, calls: 50, lagging: true };
    expect(run(NOT_SHEDDING, [both]).percent).toBe(50);
    expect(run(NOT_SHEDDING, [both, both]).percent).toBe(51);
    expect(run(NOT_SHEDDING, [both, both, both]).percent).toBe(66);
    // The throttle recovers below the lag's share: the lag's half holds while the loop lags.
    expect(run(NOT_SHEDDING, [both, both, both, ...Array<ShedSignals>(4).fill({ ...quiet, lagging: true })]).percent).toBe(50);
  });

  it('on the setup backlog lets through 70 % of the share before, never under the minimum', () => {
    const backlog: ShedSignals = { refused: { 'setup-backlog': 5 }, calls: 50, lagging: false };
    const shares = [1, 2, 3, 4, 5, 6, 7, 8].map((n) => 100 - run(NOT_SHEDDING, Array<ShedSignals>(n).fill(backlog)).percent);
    expect(shares).toEqual([70, 49, 34, 24, 17, 12, 10, 10]);
    expect(Math.min(...shares)).toBe(MIN_ADMITTED);
  });

  it('recovers by 10 points a tick without backlog refusals, and ends at 0', () => {
    const backedOff = run(NOT_SHEDDING, [{ refused: { 'setup-backlog': 1 }, calls: 50, lagging: false }, { refused: { 'setup-backlog': 1 }, calls: 50, lagging: false }]);
    expect(backedOff.percent).toBe(51);
    expect(run(backedOff, [quiet]).percent).toBe(41);
    expect(run(backedOff, Array<ShedSignals>(5).fill(quiet)).percent).toBe(1);
    expect(run(backedOff, Array<ShedSignals>(6).fill(quiet))).toEqual(NOT_SHEDDING);
  });

  it('the call cap wins over the throttle, which goes on recovering meanwhile', () => {
    const throttled = nextShed(NOT_SHEDDING, limits, { refused: { 'setup-backlog': 1 }, calls: 99, lagging: false });
    const capped = nextShed(throttled, limits, { refused: { 'max-calls': 1 }, calls: 100, lagging: false });
    expect(capped).toEqual({ percent: 100, all: 'max-calls', lag: false, admitted: 80 });
    expect(nextShed(capped, limits, { ...quiet, calls: 90 })).toEqual({ percent: 10, all: null, lag: false, admitted: 90 });
  });

  it('each limit at 0 sheds nothing for its reason', () => {
    const off: OverloadLimits = { maxCalls: 0, maxCallsInSetup: 40, maxLagMs: 0 };
    expect(nextShed(NOT_SHEDDING, off, { refused: { 'max-calls': 1, 'event-loop-lag': 1 }, calls: 1_000, lagging: true }).percent).toBe(0);
  });
});

describe('shedValue', () => {
  it('is "<until>:<percent>" SHED_TTL_S ahead of the daemon clock, and empty when nothing is shed', () => {
    const now = 1_733_500_000_900;
    expect(shedValue({ percent: 30, all: null, lag: false, admitted: 70 }, now)).toBe(`${1_733_500_000 + SHED_TTL_S}:30`);
    expect(shedValue(NOT_SHEDDING, now)).toBe('');
  });
});

describe('refusalsSince', () => {
  it('gives the refusals by reason between two snapshots of the running counts', () => {
    const before = new Map<RefusalReason, number>([['max-calls', 2], ['setup-backlog', 0]]);
    const now = new Map<RefusalReason, number>([['max-calls', 2], ['setup-backlog', 7], ['event-loop-lag', 1]]);
    expect(refusalsSince(before, now)).toEqual({ 'setup-backlog': 7, 'event-loop-lag': 1 });
  });
});
