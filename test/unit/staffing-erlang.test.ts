/**
 * src/staffing/erlang.ts: Erlang B/C against published values and an exact BigInt rational
 * computation written here; large loads; Erlang A against the birth-death chain summed directly and
 * the answered-within-T share against a transient solution of the waiting caller's own chain;
 * fast-check properties (more agents: service level up, ASA and abandonment down; the search
 * answers the fewest agents that meet the targets).
 */
import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { erlangB, erlangC, evaluate, MAX_AGENTS, staff, unmet, withShrinkage, type Traffic } from '../../src/staffing/erlang.js';

/** Relative difference. */
const rel = (a: number, b: number): number => Math.abs(a - b) / Math.max(Math.abs(b), Number.MIN_VALUE);
/** Same to `digits` significant digits (relative error below half a unit of the last digit). */

// ------------------------------------------------------------ exact rationals (BigInt)

interface Q { n: bigint; d: bigint }
const gcd = (a: bigint, b: bigint): bigint => { a = a < 0n ? -a : a; while (b) [a, b] = [b, a % b]; return a; };
const q = (n: bigint, d = 1n): Q => { const g = gcd(n, d) || 1n; return d < 0n ? { n: -n / g, d: -d / g } : { n: n / g, d: d / g }; };
const add = (a: Q, b: Q): Q => q(a.n * b.d + b.n * a.d, a.d * b.d);
const sub = (a: Q, b: Q): Q => q(a.n * b.d - b.n * a.d, a.d * b.d);
const mul = (a: Q, b: Q): Q => q(a.n * b.n, a.d * b.d);
const div = (a: Q, b: Q): Q => q(a.n * b.d, a.d * b.n);
/** To a double through 30 exact significant decimal digits (no precision lost on the way). */
const toNumber = (a: Q): number => {
  const shift = 30 + a.d.toString().length - a.n.toString().length;
  const digits = shift >= 0 ? (a.n * 10n ** BigInt(shift)) / a.d : a.n / (a.d * 10n ** BigInt(-shift));
  return Number.parseFloat(`${digits}e${-shift}`); // one correctly rounded conversion
};
/** Erlang C exactly: B by the recursion B(k) = A B(k-1) / (k + A B(k-1)), then C = N B / (N - A + A B). */
function exactErlangC(n: number, a: Q): Q {
  let b = q(1n);
  for (let k = 1; k <= n; k++) b = div(mul(a, b), add(q(BigInt(k)), mul(a, b)));
  const N = q(BigInt(n));
  return div(mul(N, b), add(sub(N, a), mul(a, b)));
}

describe('Erlang B and C against published values', () => {
  it('the classic example: A = 10 Erlangs on N = 11 agents waits with probability 0.682', () => {
    expect(erlangC(11, 10).toPrecision(3)).toBe('0.682');
  });

  it('Erlang C(3 agents, 2 Erlangs) = 4/9 exactly (the textbook M/M/3 example)', () => {
    expect(rel(erlangC(3, 2), 4 / 9)).toBeLessThan(1e-14);
  });

  it('Erlang B table: 10 lines at 1 % blocking carry 4.46 E, 20 lines 12.03 E, 100 lines 84.06 E', () => {
    // Erlang B tables give the load (to 2 decimals) for a blocking; at that load B is 1 % to 3 digits.
    expect(erlangB(10, 4.46).toPrecision(2)).toBe('0.010');
    expect(erlangB(20, 12.03).toPrecision(2)).toBe('0.010');
    expect(erlangB(100, 84.06).toPrecision(2)).toBe('0.010');
  });

  it('the call-centre example (100 calls in 30 min, AHT 180 s, 80 % in 20 s): 14 agents, P(wait) 17.4 %, SL 88.8 %, ASA 7.8 s, occupancy 71.4 %', () => {
    const t: Traffic = { callsPerSecond: 100 / 1800, ahtSeconds: 180 };
    const s = staff(t, { answerSeconds: 20, serviceLevel: 0.8 });
    expect(s.reachable).toBe(true);
    const p = s.performance;
    expect(p.agents).toBe(14);
    expect(p.probabilityWait.toFixed(3)).toBe('0.174');
    expect(p.serviceLevel.toFixed(3)).toBe('0.888');
    expect(p.asaSeconds!.toFixed(1)).toBe('7.8');
    expect(p.occupancy.toFixed(3)).toBe('0.714');
  });

  it('Erlang C to 6 significant digits (in fact 12) against exact rational arithmetic, loads 1/3 to 80 E', () => {
    const loads: Q[] = [q(1n, 3n), q(2n), q(5n, 2n), q(10n), q(37n, 3n), q(48n), q(80n)];
    let compared = 0;
    for (const a of loads) {
      const af = toNumber(a);
      for (let n = Math.floor(af) + 1; n <= Math.floor(af) + 25; n++) {
        const exact = toNumber(exactErlangC(n, a));
        const got = erlangC(n, af);
        expect(got.toPrecision(6), `C(${n}, ${af})`).toBe(exact.toPrecision(6));
        expect(rel(got, exact), `C(${n}, ${af})`).toBeLessThan(1e-12);
        // ASA = C AHT / (N - A): with AHT 1, exactly C / (N - A).
        const asa = evaluate({ callsPerSecond: af, ahtSeconds: 1 }, n, 0).asaSeconds!;
        expect(rel(asa, toNumber(div(exactErlangC(n, a), sub(q(BigInt(n)), a)))), `ASA(${n}, ${af})`).toBeLessThan(1e-12);
        compared++;
      }
    }
    expect(compared).toBe(loads.length * 25);
  });
});

describe('large loads', () => {
  it('500 Erlangs on 600 agents: finite and sane (Erlang C and Erlang A)', () => {
    const t: Traffic = { callsPerSecond: 500 / 180, ahtSeconds: 180 };
    const c = evaluate(t, 600, 20);
    expect(c.probabilityWait).toBeGreaterThan(0);
    expect(c.probabilityWait).toBeLessThan(1e-4);
    expect(c.serviceLevel).toBeGreaterThan(0.9999);
    expect(c.serviceLevel).toBeLessThanOrEqual(1);
    expect(c.occupancy).toBeCloseTo(500 / 600, 12);
    expect(Number.isFinite(c.asaSeconds)).toBe(true);
    const a = evaluate({ ...t, patienceSeconds: 120 }, 600, 20);
    for (const v of [a.serviceLevel, a.probabilityWait, a.asaSeconds!, a.occupancy, a.abandonRate!]) expect(Number.isFinite(v)).toBe(true);
    // With impatient callers fewer wait than in Erlang C, and fewer than 1 in 10^5 hang up.
    expect(a.probabilityWait).toBeLessThan(c.probabilityWait);
    expect(a.abandonRate).toBeLessThan(1e-5);
  });

  it('500 Erlangs at 80/20: the fewest agents is between the load and 600, and one fewer misses', () => {
    const t: Traffic = { callsPerSecond: 500 / 180, ahtSeconds: 180 };
    const s = staff(t, { answerSeconds: 20, serviceLevel: 0.8 });
    expect(s.reachable).toBe(true);
    expect(s.performance.agents).toBeGreaterThan(500);
    expect(s.performance.agents).toBeLessThan(600);
    expect(evaluate(t, s.performance.agents - 1, 20).serviceLevel).toBeLessThan(0.8);
  });

  it('10 000 Erlangs on 10 200 agents and 10 Erlangs on 600 agents (Erlang B far below the smallest double) stay finite', () => {
    const big = evaluate({ callsPerSecond: 10_000 / 300, ahtSeconds: 300 }, 10_200, 20);
    expect(big.probabilityWait).toBeGreaterThan(0);
    expect(big.probabilityWait).toBeLessThan(1);
    const idle = evaluate({ callsPerSecond: 10 / 300, ahtSeconds: 300, patienceSeconds: 60 }, 600, 20);
    expect(idle.probabilityWait).toBe(0);
    expect(idle.serviceLevel).toBe(1);
    expect(idle.abandonRate).toBe(0);
  });
});

// ------------------------------------------------------------ Erlang A, independently

/** The M/M/n+M chain's stationary distribution, summed directly (doubles, small loads only). */
function chain(t: Traffic, n: number, patience: number) {
  const lambda = t.callsPerSecond;
  const mu = 1 / t.ahtSeconds;
  const theta = 1 / patience;
  const pi = [1];
  for (let k = 1; k < 4000; k++) pi.push((pi[k - 1]! * lambda) / (Math.min(k, n) * mu + Math.max(k - n, 0) * theta));
  const total = pi.reduce((s, v) => s + v, 0);
  const p = pi.map((v) => v / total);
  const wait = p.slice(n).reduce((s, v) => s + v, 0);
  const queue = p.reduce((s, v, k) => s + v * Math.max(k - n, 0), 0);
  return { p, wait, abandon: (theta * queue) / lambda };
}

/**
 * Share of offered calls answered within T, by uniformization of a waiting caller's own chain:
 * at position i (i - 1 callers ahead) it moves up at rate n mu + (i - 1) theta and hangs up at
 * rate theta; answered when it leaves position 1 by a service.
 */
function answeredWithin(t: Traffic, n: number, patience: number, T: number): number {
  const { p } = chain(t, n, patience);
  const c = n / t.ahtSeconds;
  const theta = 1 / patience;
  const P = 300;
  let u = Array.from({ length: P + 1 }, (_, i) => (i === 0 ? 0 : p[n + i - 1] ?? 0)); // u[i]: at position i
  const rate = c + P * theta;
  let served = 0; // answered by step k of the uniformized chain
  let poisson = Math.exp(-rate * T);
  let within = 0;
  for (let k = 0; k < 5000; k++) {
    within += poisson * served;
    const next = new Array<number>(P + 1).fill(0);
    let step = 0;
    for (let i = 1; i <= P; i++) {
      const up = (c + (i - 1) * theta) / rate;
      const gone = theta / rate;
      if (i === 1) step += u[1]! * up;
      else next[i - 1]! += u[i]! * up;
      next[i]! += u[i]! * (1 - up - gone);
    }
    served += step;
    u = next;
    poisson *= (rate * T) / (k + 1);
  }
  const atOnce = p.slice(0, n).reduce((s, v) => s + v, 0);
  return atOnce + within;
}

describe('Erlang A (M/M/N+M)', () => {
  const cases = [
    { t: { callsPerSecond: 4 / 100, ahtSeconds: 100 }, n: 5, patience: 60, T: 20 },
    { t: { callsPerSecond: 10 / 180, ahtSeconds: 180 }, n: 9, patience: 120, T: 30 },
    { t: { callsPerSecond: 10 / 180, ahtSeconds: 180 }, n: 12, patience: 600, T: 20 },
    { t: { callsPerSecond: 20 / 240, ahtSeconds: 240 }, n: 18, patience: 90, T: 15 },
  ];

  it('P(wait) and abandon rate equal the birth-death chain summed directly (10 digits)', () => {
    for (const { t, n, patience } of cases) {
      const got = evaluate({ ...t, patienceSeconds: patience }, n, 20);
      const want = chain(t, n, patience);
      expect(rel(got.probabilityWait, want.wait)).toBeLessThan(1e-10);
      expect(rel(got.abandonRate!, want.abandon)).toBeLessThan(1e-10);
    }
  });

  it('service level equals a transient solution of the waiting caller\'s chain (8 digits)', () => {
    for (const { t, n, patience, T } of cases) {
      const got = evaluate({ ...t, patienceSeconds: patience }, n, T).serviceLevel;
      expect(rel(got, answeredWithin(t, n, patience, T)), JSON.stringify({ n, patience, T })).toBeLessThan(1e-8);
    }
  });

  it('with very patient callers it is Erlang C (agents above the load)', () => {
    const t: Traffic = { callsPerSecond: 10 / 180, ahtSeconds: 180 };
    for (const n of [11, 12, 14, 20]) {
      const a = evaluate({ ...t, patienceSeconds: 1e9 }, n, 20);
      const c = evaluate(t, n, 20);
      expect(rel(a.probabilityWait, c.probabilityWait)).toBeLessThan(1e-5);
      expect(rel(a.serviceLevel, c.serviceLevel)).toBeLessThan(1e-5);
      expect(rel(a.asaSeconds!, c.asaSeconds!)).toBeLessThan(1e-4);
    }
  });

  it('staffs below the load when callers hang up, and answers Erlang A figures', () => {
    const t: Traffic = { callsPerSecond: 500 / 180, ahtSeconds: 180, patienceSeconds: 120 };
    const s = staff(t, { answerSeconds: 20, serviceLevel: 0.8 });
    expect(s.reachable).toBe(true);
    expect(s.performance.agents).toBeLessThan(500);
    expect(s.performance.abandonRate).toBeGreaterThan(0);
    expect(evaluate(t, s.performance.agents - 1, 20).serviceLevel).toBeLessThan(0.8);
  });
});

describe('properties', () => {
  const traffic = fc.record({
    load: fc.double({ min: 0.1, max: 300, noNaN: true }),
    aht: fc.double({ min: 10, max: 900, noNaN: true }),
    T: fc.double({ min: 0, max: 120, noNaN: true }),
  });

  it('Erlang C: more agents, service level never lower and ASA never higher', () => {
    fc.assert(
      fc.property(traffic, fc.integer({ min: 0, max: 60 }), ({ load, aht, T }, extra) => {
        const t: Traffic = { callsPerSecond: load / aht, ahtSeconds: aht };
        const n = Math.ceil(load) + extra;
        const [p1, p2] = [evaluate(t, n, T), evaluate(t, n + 1, T)];
        expect(p2.serviceLevel).toBeGreaterThanOrEqual(p1.serviceLevel - 1e-12);
        expect(p2.probabilityWait).toBeLessThanOrEqual(p1.probabilityWait + 1e-12);
        if (p1.asaSeconds !== null) expect(p2.asaSeconds!).toBeLessThanOrEqual(p1.asaSeconds + 1e-9);
      }),
      { numRuns: 300 },
    );
  });

  it('Erlang A: more agents, service level never lower, abandon rate never higher', () => {
    fc.assert(
      fc.property(traffic, fc.double({ min: 5, max: 1200, noNaN: true }), fc.integer({ min: 1, max: 400 }), ({ load, aht, T }, patience, n) => {
        const t: Traffic = { callsPerSecond: load / aht, ahtSeconds: aht, patienceSeconds: patience };
        const [p1, p2] = [evaluate(t, n, T), evaluate(t, n + 1, T)];
        expect(p2.serviceLevel).toBeGreaterThanOrEqual(p1.serviceLevel - 1e-9);
        expect(p2.abandonRate!).toBeLessThanOrEqual(p1.abandonRate! + 1e-9);
        for (const p of [p1, p2]) {
          expect(p.serviceLevel).toBeGreaterThanOrEqual(0);
          expect(p.serviceLevel).toBeLessThanOrEqual(1);
          expect(p.abandonRate!).toBeGreaterThanOrEqual(0);
          expect(p.abandonRate!).toBeLessThanOrEqual(1);
        }
      }),
      { numRuns: 200 },
    );
  });

  it('the search answers the fewest agents meeting every target', () => {
    fc.assert(
      fc.property(
        traffic,
        fc.option(fc.double({ min: 10, max: 600, noNaN: true }), { nil: undefined }),
        fc.double({ min: 0.5, max: 0.95, noNaN: true }),
        fc.option(fc.double({ min: 0.6, max: 0.95, noNaN: true }), { nil: undefined }),
        ({ load, aht, T }, patience, serviceLevel, maxOccupancy) => {
          const t: Traffic = { callsPerSecond: load / aht, ahtSeconds: aht, patienceSeconds: patience };
          const targets = { answerSeconds: T, serviceLevel, maxOccupancy };
          const s = staff(t, targets);
          expect(s.reachable).toBe(true);
          const n = s.performance.agents;
          expect(unmet(evaluate(t, n, T), targets)).toBeNull();
          if (n > 0) expect(unmet(evaluate(t, n - 1, T), targets)).not.toBeNull();
        },
      ),
      { numRuns: 200 },
    );
  });
});

describe('targets and shrinkage', () => {
  it('an unreachable target names the field (searched up to a limit)', () => {
    const t: Traffic = { callsPerSecond: 50 / 180, ahtSeconds: 180 };
    const s = staff(t, { answerSeconds: 0, serviceLevel: 0.999999 }, 55);
    expect(s).toMatchObject({ reachable: false, field: 'targetServiceLevel', performance: { agents: 55 } });
    expect(staff(t, { asaSeconds: 0.000001 }, 55)).toMatchObject({ reachable: false, field: 'targetAsaSeconds' });
    expect(MAX_AGENTS).toBe(100_000);
  });

  it('maxOccupancy adds agents; no calls need no agents', () => {
    const t: Traffic = { callsPerSecond: 100 / 1800, ahtSeconds: 180 };
    expect(staff(t, { answerSeconds: 20, serviceLevel: 0.8, maxOccupancy: 0.6 }).performance.agents).toBe(17); // 10 / 0.6 = 16.7
    expect(staff({ callsPerSecond: 0, ahtSeconds: 180 }, { answerSeconds: 20, serviceLevel: 0.8 }).performance).toMatchObject({ agents: 0, serviceLevel: 1 });
  });

  it('agents with shrinkage: ceil(agents / (1 - shrinkage))', () => {
    expect(withShrinkage(14, 0.3)).toBe(20);
    expect(withShrinkage(14, 0)).toBe(14);
    expect(withShrinkage(21, 0.3)).toBe(30); // 21 / 0.7 = 30.000000000000004 in doubles
  });
});
