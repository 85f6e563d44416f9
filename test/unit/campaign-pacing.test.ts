import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import {
  createPacer, decide, estimates, observe,
  type BusyAgent, type PacerState, type PacingSettings, type PacingSnapshot,
} from '../../src/campaigns/pacing.js';
import { mulberry32 as rng } from '../../bench/support/acd-site.js';

const none = { answered: 0, abandoned: 0 };
/** Plenty of abandon budget left: 1 % measured against a 3 % cap. */
const healthy = { answered: 1000, abandoned: 10 };
const snap = (over: Partial<PacingSnapshot>): PacingSnapshot => ({
  readyAgents: 0, busyAgents: [], ringingLines: [], abandons: { today: healthy, rolling: healthy }, ...over,
});
const talking = (n: number, elapsedSeconds = 30): BusyAgent[] => Array.from({ length: n }, () => ({ phase: 'talk', elapsedSeconds }));

/** A pacer fed `calls` outcomes of a stationary campaign: 30 % answer after 4-20 s, talk exp(120 s), wrap-up 15 s. */
function trained(calls = 600, settings: PacingSettings = { mode: 'predictive' }, seed = 1): PacerState {
  const rnd = rng(seed);
  let s = createPacer(settings);
  for (let i = 0; i < calls; i++) {
    if (rnd() < 0.3) {
      s = observe(s, { kind: 'answered', ringSeconds: 4 + 16 * rnd() });
      s = observe(s, { kind: 'connected' });
      s = observe(s, { kind: 'talk-ended', talkSeconds: -120 * Math.log(1 - rnd()) });
      s = observe(s, { kind: 'wrap-up-ended', wrapUpSeconds: 15 });
    } else {
      s = observe(s, { kind: 'no-answer', ringSeconds: 25 });
    }
  }
  return s;
}

describe('pacing: corners', () => {
  it('dials nothing without agents, in every mode', () => {
    for (const settings of [{ mode: 'progressive' }, { mode: 'fixed', level: 3 }, { mode: 'predictive' }] as const) {
      const d = decide(trained(600, settings), snap({ readyAgents: 0, busyAgents: [], ringingLines: [] }));
      expect(d).toEqual({ lines: 0, level: 0, reason: 'no-agents' });
    }
  });

  it('progressive: one line per ready agent, less the lines ringing and the answers waiting', () => {
    const p = createPacer({ mode: 'progressive' });
    expect(decide(p, snap({ readyAgents: 5, busyAgents: talking(3) })).lines).toBe(5);
    expect(decide(p, snap({ readyAgents: 5, ringingLines: [1, 2] })).lines).toBe(3);
    expect(decide(p, snap({ readyAgents: 5, ringingLines: [1, 2], waitingCalls: 1 })).lines).toBe(2);
    expect(decide(p, snap({ readyAgents: 1, ringingLines: [1, 2, 3] })).lines).toBe(0);
    expect(decide(p, snap({ readyAgents: 0, busyAgents: talking(10, 500) })).lines).toBe(0);
  });

  it('fixed: round(level x ready) lines in flight', () => {
    const p = createPacer({ mode: 'fixed', level: 2.5 });
    expect(decide(p, snap({ readyAgents: 4 }))).toEqual({ lines: 10, level: 2.5, reason: 'fixed' });
    expect(decide(p, snap({ readyAgents: 1, ringingLines: [3] })).lines).toBe(2); // round(2.5) = 3 in flight
    expect(decide(p, snap({ readyAgents: 2, ringingLines: [1, 1, 1, 1, 1, 1] })).lines).toBe(0);
    expect(decide(p, snap({ readyAgents: 0, busyAgents: talking(5) })).lines).toBe(0);
  });

  it("fixed, for a campaign (fixedObeysCap): progressive while the abandon rate is over the cap, today or rolling; the simulator's fixed is blind", () => {
    const capped = createPacer({ mode: 'fixed', level: 3, abandonCap: 0.03, fixedObeysCap: true });
    const blind = createPacer({ mode: 'fixed', level: 3, abandonCap: 0.03 });
    const over = { answered: 2, abandoned: 1 };
    const at = { answered: 100, abandoned: 3 }; // exactly 3 %: not over
    expect(decide(capped, snap({ readyAgents: 2, abandons: { today: none, rolling: none } }))).toMatchObject({ lines: 6, reason: 'fixed' });
    expect(decide(capped, snap({ readyAgents: 2, abandons: { today: at, rolling: at } }))).toMatchObject({ lines: 6, reason: 'fixed' });
    expect(decide(capped, snap({ readyAgents: 2, ringingLines: [1], abandons: { today: over, rolling: over } }))).toMatchObject({ lines: 1, reason: 'cap-near' });
    expect(decide(capped, snap({ readyAgents: 2, abandons: { today: healthy, rolling: over } }))).toMatchObject({ lines: 2, reason: 'cap-near' });
    expect(decide(capped, snap({ readyAgents: 2, abandons: { today: over, rolling: healthy } }))).toMatchObject({ lines: 2, reason: 'cap-near' });
    expect(decide(blind, snap({ readyAgents: 2, abandons: { today: over, rolling: over } }))).toMatchObject({ lines: 6, reason: 'fixed' });
  });

  it('level and cap bounds are checked', () => {
    expect(() => createPacer({ mode: 'fixed', level: 0.5 })).toThrow(RangeError);
    expect(() => createPacer({ mode: 'fixed', level: 11 })).toThrow(RangeError);
    expect(() => createPacer({ mode: 'fixed', level: Number.NaN })).toThrow(RangeError);
    expect(() => createPacer({ mode: 'predictive', abandonCap: 1 })).toThrow(RangeError);
    expect(() => createPacer({ mode: 'predictive', maxLinesPerAgent: 0.5 })).toThrow(RangeError);
  });

  it('cold start: predictive is progressive until it has learned enough', () => {
    const cold = createPacer({ mode: 'predictive' });
    expect(decide(cold, snap({ readyAgents: 3, busyAgents: talking(17, 200) }))).toEqual({ lines: 3, level: 1, reason: 'learning' });
    expect(decide(trained(10), snap({ readyAgents: 3, busyAgents: talking(17, 200) })).reason).toBe('learning');
    const warm = decide(trained(), snap({ readyAgents: 3, busyAgents: talking(17, 200) }));
    expect(warm.reason).toBe('predictive');
    expect(warm.lines).toBeGreaterThan(3);
  });

  it('cap reached (today or rolling): falls back to progressive', () => {
    const s = trained();
    const floor = { readyAgents: 3, busyAgents: talking(17, 200) };
    const atCap = { answered: 1000, abandoned: 30 };
    expect(decide(s, snap({ ...floor, abandons: { today: atCap, rolling: healthy } }))).toMatchObject({ lines: 3, reason: 'cap-near' });
    expect(decide(s, snap({ ...floor, abandons: { today: healthy, rolling: { answered: 1000, abandoned: 45 } } }))).toMatchObject({ lines: 3, reason: 'cap-near' });
    // A campaign's first answers: no budget yet, so nothing is risked.
    expect(decide(s, snap({ ...floor, abandons: { today: none, rolling: none } })).reason).toBe('cap-near');
  });

  it('slows down as the measured rate nears the cap', () => {
    const s = trained();
    const floor = { readyAgents: 2, busyAgents: [...talking(10, 100), ...talking(8, 20)] };
    const lines = (abandoned: number) => decide(s, snap({ ...floor, abandons: { today: { answered: 1000, abandoned }, rolling: healthy } })).lines;
    const seen = [0, 29, 29.5, 29.8, 30].map(lines);
    for (let i = 1; i < seen.length; i++) expect(seen[i]!).toBeLessThanOrEqual(seen[i - 1]!);
    expect(seen[0]!).toBeGreaterThan(seen.at(-1)!);
    expect(seen.at(-1)).toBe(2);
  });

  it('predictive never exceeds maxLinesPerAgent lines in flight per logged-in agent', () => {
    let s = trained(600, { mode: 'predictive', maxLinesPerAgent: 1.5 });
    for (let i = 0; i < 200; i++) s = observe(s, { kind: 'connected' }); // threshold at its highest
    const d = decide(s, snap({ readyAgents: 20, busyAgents: [], ringingLines: [] }));
    expect(d.lines).toBe(30);
    expect(decide(s, snap({ readyAgents: 20, ringingLines: new Array<number>(30).fill(1) })).lines).toBe(0);
  });
});

describe('pacing: predictive behaviour', () => {
  it('dials ahead for agents about to leave wrap-up, where progressive waits', () => {
    const s = trained();
    const floor = snap({ readyAgents: 0, busyAgents: [{ phase: 'wrap-up', elapsedSeconds: 14 }, ...talking(19, 10)] });
    expect(decide(s, floor).lines).toBeGreaterThan(0);
    expect(decide(createPacer({ mode: 'progressive' }), floor).lines).toBe(0);
    // Agents just in wrap-up and just talking will not be free in time: nothing yet.
    expect(decide(s, snap({ readyAgents: 0, busyAgents: talking(1, 0) })).lines).toBe(0);
  });

  it('lines already ringing reduce the new lines; old ones (unlikely to answer) count less', () => {
    const s = trained();
    const floor = { readyAgents: 3, busyAgents: talking(17, 60) };
    const lines = (ringingLines: number[]) => decide(s, snap({ ...floor, ringingLines })).lines;
    expect(lines([1, 1, 1, 1])).toBeLessThan(lines([]));
    expect(lines([24, 24, 24, 24])).toBeGreaterThan(lines([1, 1, 1, 1]));
  });

  it('abandons lower the threshold, connected calls raise it back', () => {
    const s = trained();
    let bad = s;
    for (let i = 0; i < 10; i++) bad = observe(bad, { kind: 'abandoned' });
    expect(estimates(bad).threshold).toBeLessThan(estimates(s).threshold);
    const floor = snap({ readyAgents: 3, busyAgents: talking(17, 60) });
    expect(decide(bad, floor).lines).toBeLessThanOrEqual(decide(s, floor).lines);
    let good = bad;
    for (let i = 0; i < 2000; i++) good = observe(good, { kind: 'connected' });
    expect(estimates(good).threshold).toBeGreaterThan(estimates(bad).threshold);
  });

  it('learning converges on a stationary campaign', () => {
    for (const seed of [1, 2, 3]) {
      const e = estimates(trained(3000, { mode: 'predictive' }, seed));
      expect(e.answerRate).toBeGreaterThan(0.24);
      expect(e.answerRate).toBeLessThan(0.36);
      expect(e.answerSeconds).toBeGreaterThan(10);
      expect(e.answerSeconds).toBeLessThan(14);
      expect(e.talkSeconds).toBeGreaterThan(100);
      expect(e.talkSeconds).toBeLessThan(140);
      expect(e.wrapUpSeconds).toBe(15);
    }
  });

  it('follows a change: the answer rate falls from 30 % to 10 %', () => {
    let s = trained(1000);
    const rnd = rng(9);
    for (let i = 0; i < 1500; i++) s = observe(s, rnd() < 0.1 ? { kind: 'answered', ringSeconds: 8 } : { kind: 'no-answer', ringSeconds: 25 });
    expect(estimates(s).answerRate).toBeLessThan(0.15);
  });

  it('ignores nonsense durations', () => {
    const s = trained();
    const t = observe(observe(s, { kind: 'talk-ended', talkSeconds: -3 }), { kind: 'wrap-up-ended', wrapUpSeconds: Number.NaN });
    expect(estimates(t)).toEqual(estimates(s));
  });

  it('always an integer >= 0, within the in-flight bound (property)', () => {
    const s = trained();
    fc.assert(fc.property(
      fc.integer({ min: 0, max: 30 }),
      fc.array(fc.record({ phase: fc.constantFrom('talk' as const, 'wrap-up' as const), elapsedSeconds: fc.double({ min: 0, max: 2000, noNaN: true }) }), { maxLength: 30 }),
      fc.array(fc.double({ min: 0, max: 30, noNaN: true }), { maxLength: 60 }),
      fc.integer({ min: 0, max: 5 }),
      fc.integer({ min: 0, max: 60 }),
      (readyAgents, busyAgents, ringingLines, waitingCalls, abandoned) => {
        const d = decide(s, snap({ readyAgents, busyAgents, ringingLines, waitingCalls, abandons: { today: { answered: 1000, abandoned }, rolling: healthy } }));
        expect(Number.isInteger(d.lines)).toBe(true);
        expect(d.lines).toBeGreaterThanOrEqual(0);
        const agents = readyAgents + busyAgents.length;
        expect(ringingLines.length + d.lines).toBeLessThanOrEqual(Math.max(ringingLines.length, Math.floor(3 * agents), readyAgents - waitingCalls));
      },
    ));
  });
});
