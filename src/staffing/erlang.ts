/**
 * Erlang C (M/M/N) and Erlang A (M/M/N+M, Palm) staffing arithmetic, pure (docs/staffing.md).
 *
 * Nothing here forms a factorial or a power of the load: the Erlang B recursion runs in doubles
 * (B stays in (0, 1]) and then on log(1/B) before B could underflow, and the Erlang A queue's sums
 * run in log space with a running scale, so 500 Erlangs
 * on 600 agents (or 10 000 on 12 000) stay finite and exact to double precision.
 *
 * Erlang A, with c = N/AHT (service rate of all agents), theta = 1/patience, x = c/theta and
 * y = lambda/theta: an arrival that finds all N agents busy and j callers waiting has weight
 * y^j / ((x+1)...(x+j)) relative to one that finds exactly N calls in the system, and its offered
 * wait V (time to reach an agent if it never hung up) has, mixed over j, the density
 * g(v) = c exp(-c v + y (1 - e^{-theta v})). Derivation: at place p in the line (p - 1 ahead) V is
 * the sum of exponential steps with rates c + i theta, i = 0..p-1, whose Laplace transform
 * prod (x+i)/(s/theta + x + i) is the Beta ratio B(s/theta + x, p) / B(x, p); with u = e^{-theta v}
 * that is the density theta e^{-c v} (1 - e^{-theta v})^{p-1} / B(x, p). Weighted by
 * w_p = y^{p-1} / ((x+1)...(x+p-1)), w_p / B(x, p) = x y^{p-1} / (p-1)!, and the sum over p is the
 * exponential series: g(v) above (with theta -> 0 it is c e^{-(c - lambda) v}, Erlang C). A caller is answered
 * when its patience outlasts V, so answered-within-T is the integral of e^{-theta v} g(v) over
 * [0, T], which is a difference of two series A(x+1, .) below (the Garnett-Mandelbaum-Reiman
 * incomplete-gamma form, summed instead of integrated).
 */

export type ErlangModel = 'erlang-c' | 'erlang-a';

export interface Traffic {
  /** Calls offered per second (lambda). */
  readonly callsPerSecond: number;
  /** Average handle time in seconds (talk + hold + wrap-up): 1/mu. */
  readonly ahtSeconds: number;
  /** Mean caller patience in seconds; given: Erlang A, absent: Erlang C (callers never hang up). */
  readonly patienceSeconds?: number | undefined;
}

export interface Performance {
  readonly agents: number;
  /** Share of offered calls answered within the target time (0-1). */
  readonly serviceLevel: number;
  /** Share of offered calls that find every agent busy (Erlang C's P(wait)). */
  readonly probabilityWait: number;
  /** Average speed of answer: mean wait of answered calls, seconds; null when the queue grows without end. */
  readonly asaSeconds: number | null;
  /** Carried load per agent (0-1). */
  readonly occupancy: number;
  /** Share of offered calls that hang up before an agent answers (Erlang A); null for Erlang C. */
  readonly abandonRate: number | null;
}

export interface Targets {
  /** Service level: at least `serviceLevel` of calls answered within `answerSeconds`. */
  readonly answerSeconds?: number | undefined;
  readonly serviceLevel?: number | undefined;
  /** ASA at most this. */
  readonly asaSeconds?: number | undefined;
  /** Occupancy at most this (0-1]. */
  readonly maxOccupancy?: number | undefined;
}

/** Agents searched at most (docs/staffing.md "Limits"). */
export const MAX_AGENTS = 100_000;

/** Offered load in Erlangs: calls per second times the handle time. */
export const offeredLoad = (t: Traffic): number => t.callsPerSecond * t.ahtSeconds;

/** log(e^a + e^b), exact for very different magnitudes. */
export function logAddExp(a: number, b: number): number {
  if (a === -Infinity) return b;
  if (b === -Infinity) return a;
  const m = Math.max(a, b);
  return m + Math.log1p(Math.exp(-Math.abs(a - b)));
}

/** One step of the Erlang B recursion in logs: log(1/B(k)) from log(1/B(k-1)), 1/B(k) = 1 + (k/a) / B(k-1). */
function nextLogInverseB(lr: number, k: number, la: number): number {
  const t = Math.log(k) - la + lr; // log(k/a / B(k-1))
  return t > 0 ? t + Math.log1p(Math.exp(-t)) : Math.log1p(Math.exp(t));
}

/**
 * log(1/B(n, a)), B the Erlang B blocking probability, by the recursion B(k) = a B(k-1) / (k + a B(k-1)),
 * B(0) = 1: in plain doubles while B stays far from underflow (B lies in (0, 1], nothing can
 * overflow), then carried as log(1/B) (no underflow however small B gets). a > 0.
 */
export function logInverseErlangB(n: number, a: number): number {
  let b = 1;
  let k = 1;
  for (; k <= n && b > 1e-250; k++) b = (a * b) / (k + a * b);
  let lr = -Math.log(b);
  const la = Math.log(a);
  for (; k <= n; k++) lr = nextLogInverseB(lr, k, la);
  return lr;
}

/** Erlang B: the share of calls blocked with n trunks and a Erlangs. */
export const erlangB = (n: number, a: number): number => (a <= 0 ? 0 : Math.exp(-logInverseErlangB(n, a)));

/** log(1/B - 1): the stationary weight of states 0..n-1 relative to state n. */
function logBelow(lr: number): number {
  return lr < 30 ? Math.log(Math.expm1(lr)) : lr + Math.log1p(-Math.exp(-lr));
}

/** Erlang C from log(1/B(n, a)): C = n B / (n - a + a B) = n / ((1/B)(n - a) + a); n > a > 0. */
const erlangCFrom = (lr: number, n: number, a: number): number => Math.exp(Math.log(n) - logAddExp(lr + Math.log(n - a), Math.log(a)));

/** Erlang C: probability that a call waits, n agents and a Erlangs (1 when n <= a). */
export function erlangC(n: number, a: number): number {
  if (a <= 0) return 0;
  if (n <= a) return 1;
  return erlangCFrom(logInverseErlangB(n, a), n, a);
}

/**
 * Weighted sums over the waiting states, in logs: terms t_j = z^j / ((x+1)...(x+j)), j >= 0, each
 * times factor(j) >= 0 (a bounded or polynomial factor). Summed with a running scale until the
 * terms fall e^-40 below the largest and shrink by at least a tenth per step.
 */
function logSeries(x: number, z: number, factors: readonly ((j: number) => number)[]): number[] {
  const lz = Math.log(z);
  let lt = 0;
  let scale = 0;
  const sums = factors.map((f) => f(0));
  for (let j = 1; ; j++) {
    lt += lz - Math.log(x + j);
    if (lt > scale) {
      const down = Math.exp(scale - lt);
      for (let i = 0; i < sums.length; i++) sums[i]! *= down;
      scale = lt;
    }
    const w = Math.exp(lt - scale);
    for (let i = 0; i < sums.length; i++) sums[i]! += w * factors[i]!(j);
    if (lt < scale - 40 && z / (x + j) < 0.9) break;
  }
  return sums.map((s) => Math.log(s) + scale);
}

const one = (): number => 1;

/** Performance of Erlang C with n agents; T = answerSeconds for the service level; lr = log(1/B(n, a)) when known. */
function erlangCPerformance(t: Traffic, n: number, answerSeconds: number, lr?: number): Performance {
  const a = offeredLoad(t);
  if (a <= 0) return { agents: n, serviceLevel: 1, probabilityWait: 0, asaSeconds: 0, occupancy: 0, abandonRate: null };
  if (n <= a) return { agents: n, serviceLevel: 0, probabilityWait: 1, asaSeconds: null, occupancy: 1, abandonRate: null };
  const c = erlangCFrom(lr ?? logInverseErlangB(n, a), n, a);
  return {
    agents: n,
    serviceLevel: 1 - c * Math.exp((-(n - a) * answerSeconds) / t.ahtSeconds),
    probabilityWait: c,
    asaSeconds: (c * t.ahtSeconds) / (n - a),
    occupancy: a / n,
    abandonRate: null,
  };
}

/** Performance of Erlang A (M/M/n+M) with n agents. */
function erlangAPerformance(t: Traffic, n: number, answerSeconds: number, patienceSeconds: number): Performance {
  const a = offeredLoad(t);
  if (a <= 0) return { agents: n, serviceLevel: 1, probabilityWait: 0, asaSeconds: 0, occupancy: 0, abandonRate: 0 };
  if (n === 0) return { agents: 0, serviceLevel: 0, probabilityWait: 1, asaSeconds: null, occupancy: 0, abandonRate: 1 };
  const theta = 1 / patienceSeconds;
  const c = n / t.ahtSeconds;
  const x = c / theta;
  const y = t.callsPerSecond / theta;
  // Relative to the weight of "exactly n calls in the system":
  const lBelow = logBelow(logInverseErlangB(n, a)); // arrivals answered at once
  // Waiting arrivals: j callers ahead. Weights; their j (for abandonment: theta E[Q] / lambda);
  // and the answered ones' mean wait: at position p = j+1 a caller is answered with probability
  // x/(x+p) after sum_{i<=p} 1/(c + i theta) seconds on average (each step's time is exponential).
  let h = 0;
  let hAt = 0;
  const harmonic = (j: number): number => {
    for (; hAt <= j; hAt++) h += 1 / (c + (hAt + 1) * theta);
    return h;
  };
  const [lWait, lQueue, lWaitAnswered] = logSeries(x, y, [one, (j) => j, (j) => (x / (x + j + 1)) * harmonic(j)]) as [number, number, number];
  const lTotal = logAddExp(lBelow, lWait);
  // Answered after waiting, in all and within T: (x/(x+1)) [A(x+1, y) - e^{y(1-e^{-theta T}) - (c+theta) T} A(x+1, y e^{-theta T})].
  const [lA1] = logSeries(x + 1, y, [one]) as [number];
  const lAnsweredWaiting = Math.log(x / (x + 1)) + lA1;
  let lAnsweredWithin = -Infinity;
  if (answerSeconds > 0) {
    const z = y * Math.exp(-theta * answerSeconds);
    const [lA1z] = logSeries(x + 1, z, [one]) as [number];
    const lLate = -y * Math.expm1(-theta * answerSeconds) - (c + theta) * answerSeconds + lA1z; // log of the part answered after T
    lAnsweredWithin = Math.log(x / (x + 1)) + lA1 + Math.log1p(-Math.min(1, Math.exp(lLate - lA1)));
  }
  const share = (l: number): number => Math.exp(l - lTotal);
  const abandonRate = Math.min(1, share(lQueue) / y);
  const answered = logAddExp(lBelow, lAnsweredWaiting);
  return {
    agents: n,
    serviceLevel: Math.min(1, share(logAddExp(lBelow, lAnsweredWithin))),
    probabilityWait: share(lWait),
    asaSeconds: Math.exp(lWaitAnswered - answered),
    occupancy: Math.min(1, (a * (1 - abandonRate)) / n),
    abandonRate,
  };
}

/** How `agents` agents perform on this traffic (Erlang A when patienceSeconds is given). */
export function evaluate(t: Traffic, agents: number, answerSeconds: number): Performance {
  return t.patienceSeconds === undefined ? erlangCPerformance(t, agents, answerSeconds) : erlangAPerformance(t, agents, answerSeconds, t.patienceSeconds);
}

/** The target a staffing failed first, in the API's field names. */
export type TargetField = 'targetServiceLevel' | 'targetAsaSeconds' | 'maxOccupancy';

export function unmet(p: Performance, targets: Targets): TargetField | null {
  if (targets.serviceLevel !== undefined && !(p.serviceLevel >= targets.serviceLevel)) return 'targetServiceLevel';
  if (targets.asaSeconds !== undefined && !(p.asaSeconds !== null && p.asaSeconds <= targets.asaSeconds)) return 'targetAsaSeconds';
  if (targets.maxOccupancy !== undefined && !(p.occupancy <= targets.maxOccupancy)) return 'maxOccupancy';
  return null;
}

export type Staffing = { readonly reachable: true; readonly performance: Performance } | { readonly reachable: false; readonly field: TargetField; readonly performance: Performance };

/**
 * The fewest agents that meet every target. Each target gets easier with more agents (service level
 * rises, ASA and occupancy fall). Erlang C: upward from the load, one agent at a time, each a single
 * step of the Erlang B recursion. Erlang A (each evaluation sums series): a bracket galloping from
 * the Erlang C answer, then bisection.
 * Not reachable: even `maxAgents` agents miss a target (named, with their performance).
 */
export function staff(t: Traffic, targets: Targets, maxAgents = MAX_AGENTS): Staffing {
  const answerSeconds = targets.answerSeconds ?? 0;
  const at = (n: number): Performance => evaluate(t, n, answerSeconds);
  if (unmet(at(0), targets) === null) return { reachable: true, performance: at(0) };
  const a = offeredLoad(t);
  if (t.patienceSeconds === undefined) {
    // Fewer agents than the load never meet a target (the queue grows without end).
    let n = Math.min(maxAgents, Math.floor(a));
    let lr = logInverseErlangB(n, a);
    const la = Math.log(a);
    while (n < maxAgents) {
      n++;
      lr = nextLogInverseB(lr, n, la);
      const p = erlangCPerformance(t, n, answerSeconds, lr);
      if (unmet(p, targets) === null) return { reachable: true, performance: p };
    }
    const p = at(maxAgents);
    return { reachable: false, field: unmet(p, targets)!, performance: p };
  }
  // Erlang A: bracket from the Erlang C answer, where the series are short (their length grows
  // with (load - agents) x patience / AHT), galloping down while it still meets the targets...
  const meets = (n: number): boolean => unmet(at(n), targets) === null;
  const erlangCAnswer = staff({ callsPerSecond: t.callsPerSecond, ahtSeconds: t.ahtSeconds }, targets, maxAgents);
  let low = 0; // 0 agents failed above
  let high = erlangCAnswer.reachable ? erlangCAnswer.performance.agents : 1;
  let step = 1;
  if (meets(high)) {
    while (high - step > low && meets(high - step)) {
      high -= step;
      step *= 2;
    }
    low = Math.max(low, high - step);
  } else {
    low = high;
    high = Math.min(maxAgents, high + 1);
  }
  // ...or up, by doubling steps, while it does not.
  step = Math.max(1, Math.ceil(Math.sqrt(a)));
  while (!meets(high)) {
    if (high >= maxAgents) {
      const p = at(maxAgents);
      return { reachable: false, field: unmet(p, targets)!, performance: p };
    }
    low = high;
    high = Math.min(maxAgents, high + step);
    step *= 2;
  }
  while (high - low > 1) {
    const mid = Math.floor((low + high) / 2);
    if (unmet(at(mid), targets) === null) high = mid;
    else low = mid;
  }
  return { reachable: true, performance: at(high) };
}

/** Agents to schedule so that `agents` are on the phones after shrinkage (breaks, training, absence). */
export const withShrinkage = (agents: number, shrinkage: number): number => Math.ceil(agents / (1 - shrinkage) - 1e-9);
