/**
 * Dialer pacing, pure (docs/campaign-pacing.md): how many new lines a campaign dials now.
 *
 *   const pacer = createPacer({ mode: 'predictive', abandonCap: 0.03 });
 *   state = observe(state, { kind: 'answered', ringSeconds: 7.5 });   // per call outcome
 *   const { lines, level, reason } = decide(state, snapshot);         // on each event and every ~1 s
 *
 * The dialer feeds observations as calls progress (a live answer after X s of ringing, no answer,
 * the answered call reached an agent or was abandoned, talk ended after X s, wrap-up ended after
 * X s) and asks `decide` with a snapshot of the floor: agents ready, busy agents with their phase
 * and how long they have been in it, the ring time of each line in flight, answered calls still
 * waiting for an agent, and the campaign's abandon counts (today and rolling 30 days). Times are
 * passed in as seconds; nothing here reads a clock. State is a plain immutable value.
 *
 * Modes:
 * - progressive: one line per ready agent (lines = ready - waiting - ringing): never abandons,
 *   except when two answers race for one agent.
 * - fixed: lines in flight = round(level x ready agents); with `fixedObeysCap` (a campaign's dialer)
 *   progressive instead while the abandon rate (today or rolling) is over the cap. Without it (the
 *   simulator's fixed levels) it is blind to abandons.
 * - predictive: learns the answer rate (mean of the last ~300 ring outcomes), and the empirical
 *   distributions of the time to answer, talk and wrap-up (the last 256 of each); then adds lines
 *   one at a time while the chance that the next answered call finds no agent (the marginal
 *   abandon probability, from the answers expected on the lines already ringing against the
 *   agents ready now plus those expected free by the time the new line would be answered) stays
 *   under a threshold. The threshold is steered by the abandons it sees (aiming at 80 % of the cap)
 *   and scaled down by the campaign's remaining abandon budget (cap x answered - abandoned, today
 *   and rolling); with no budget left, or while it has too little to learn from, it is progressive.
 */

export type PacingMode = 'progressive' | 'fixed' | 'predictive';

export interface PacingSettings {
  readonly mode: PacingMode;
  /** fixed: lines in flight per ready agent (1-10). */
  readonly level?: number;
  /** Abandoned / live-answered calls allowed (default 0.03). */
  readonly abandonCap?: number;
  /** How long a live answer may wait for an agent before it is abandoned (default 2 s). */
  readonly graceSeconds?: number;
  /** predictive: lines in flight never exceed this many per logged-in agent (default 3). */
  readonly maxLinesPerAgent?: number;
  /** fixed: one line per ready agent (progressive) while the abandon rate is over abandonCap (default false: blind). */
  readonly fixedObeysCap?: boolean;
}

export type PacingObservation =
  /** A live person answered after ringSeconds. */
  | { readonly kind: 'answered'; readonly ringSeconds: number }
  /** Not answered by a person: ring timeout, busy, failed, machine. */
  | { readonly kind: 'no-answer'; readonly ringSeconds: number }
  /** The answered call reached an agent. */
  | { readonly kind: 'connected' }
  /** The answered call found no agent within the grace time. */
  | { readonly kind: 'abandoned' }
  | { readonly kind: 'talk-ended'; readonly talkSeconds: number }
  | { readonly kind: 'wrap-up-ended'; readonly wrapUpSeconds: number };

export interface BusyAgent {
  readonly phase: 'talk' | 'wrap-up';
  /** Seconds since the phase began. */
  readonly elapsedSeconds: number;
}

export interface AbandonCount {
  readonly answered: number;
  readonly abandoned: number;
}

export interface PacingSnapshot {
  readonly readyAgents: number;
  readonly busyAgents: readonly BusyAgent[];
  /** Seconds each line in flight has been ringing. */
  readonly ringingLines: readonly number[];
  /** Live answers waiting for an agent (within the grace time). */
  readonly waitingCalls?: number;
  readonly abandons: { readonly today: AbandonCount; readonly rolling: AbandonCount };
}

export type PacingReason = 'no-agents' | 'progressive' | 'fixed' | 'learning' | 'cap-near' | 'predictive';

export interface PacingDecision {
  /** New lines to dial now (>= 0). */
  readonly lines: number;
  /** Lines in flight after this decision per ready agent (ready counted as at least 1). */
  readonly level: number;
  readonly reason: PacingReason;
}

/** The last samples of one duration, in arrival order and sorted. */
interface Samples {
  readonly recent: readonly number[];
  readonly sorted: readonly number[];
  /** Sum of recent, and how many samples were ever added (the sum is redone every SAMPLES). */
  readonly sum: number;
  readonly added: number;
}

export interface PacerState {
  readonly settings: Required<PacingSettings>;
  /** Ring outcomes seen (answered + no answer), and the learned share answered live. */
  readonly outcomes: number;
  readonly answerRate: number;
  readonly answerDelay: Samples;
  readonly talk: Samples;
  readonly wrapUp: Samples;
  /** Marginal abandon probability allowed (steered by observed abandons). */
  readonly threshold: number;
}

const SAMPLES = 256;
const ANSWER_RATE_MEMORY = 300;
/** Before this many ring outcomes / talks, predictive stays progressive. */
const MIN_OUTCOMES = 30;
const MIN_TALKS = 5;
/** The share of the cap the threshold steers at, and how fast. */
const AIM = 0.8;
const STEP = 0.3;
const THRESHOLD_MIN = 0.001;
const THRESHOLD_MAX = 0.5;
/** Budget (in abandons) below which the threshold is scaled down to 0. */
const RESERVE = 1;
/** Quantiles of the time to answer (midpoints of eighths) at which the risk is averaged. */
const HORIZON_QUANTILES = [0.0625, 0.1875, 0.3125, 0.4375, 0.5625, 0.6875, 0.8125, 0.9375];

const EMPTY: Samples = { recent: [], sorted: [], sum: 0, added: 0 };

export function createPacer(settings: PacingSettings): PacerState {
  const full: Required<PacingSettings> = {
    mode: settings.mode,
    level: settings.level ?? 1,
    abandonCap: settings.abandonCap ?? 0.03,
    graceSeconds: settings.graceSeconds ?? 2,
    maxLinesPerAgent: settings.maxLinesPerAgent ?? 3,
    fixedObeysCap: settings.fixedObeysCap ?? false,
  };
  if (!(full.level >= 1 && full.level <= 10)) throw new RangeError('level must be within 1-10');
  if (!(full.abandonCap >= 0 && full.abandonCap < 1)) throw new RangeError('abandonCap must be within 0-1');
  if (!(full.maxLinesPerAgent >= 1)) throw new RangeError('maxLinesPerAgent must be at least 1');
  return {
    settings: full, outcomes: 0, answerRate: 0, answerDelay: EMPTY, talk: EMPTY, wrapUp: EMPTY,
    threshold: Math.max(THRESHOLD_MIN, full.abandonCap),
  };
}

function addSample(s: Samples, value: number): Samples {
  if (!Number.isFinite(value) || value < 0) return s;
  const full = s.recent.length >= SAMPLES;
  const recent = full ? [...s.recent.slice(1), value] : [...s.recent, value];
  const sorted = full ? removeOne(s.sorted, s.recent[0]!) : [...s.sorted];
  sorted.splice(upperBound(sorted, value), 0, value);
  const added = s.added + 1;
  // A running sum, summed afresh once per SAMPLES additions so rounding cannot build up.
  const sum = added % SAMPLES === 0 ? recent.reduce((a, b) => a + b, 0) : s.sum + value - (full ? s.recent[0]! : 0);
  return { recent, sorted, sum, added };
}

function removeOne(sorted: readonly number[], value: number): number[] {
  const out = [...sorted];
  out.splice(upperBound(out, value) - 1, 1);
  return out;
}

/** Index of the first element > value. */
function upperBound(sorted: readonly number[], value: number): number {
  let lo = 0;
  let hi = sorted.length;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (sorted[mid]! <= value) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

export function observe(state: PacerState, o: PacingObservation): PacerState {
  const cap = state.settings.abandonCap;
  switch (o.kind) {
    case 'answered':
    case 'no-answer': {
      const outcomes = state.outcomes + 1;
      const hit = o.kind === 'answered' ? 1 : 0;
      const answerRate = state.answerRate + (hit - state.answerRate) / Math.min(outcomes, ANSWER_RATE_MEMORY);
      const answerDelay = o.kind === 'answered' ? addSample(state.answerDelay, o.ringSeconds) : state.answerDelay;
      return { ...state, outcomes, answerRate, answerDelay };
    }
    case 'connected':
    case 'abandoned': {
      // Stochastic approximation: log(threshold) drifts by STEP x (aim - abandoned), so it settles
      // where abandons / answers = AIM x cap.
      const x = o.kind === 'abandoned' ? 1 : 0;
      const next = state.threshold * Math.exp(STEP * (AIM * cap - x));
      return { ...state, threshold: Math.min(THRESHOLD_MAX, Math.max(THRESHOLD_MIN, next)) };
    }
    case 'talk-ended':
      return { ...state, talk: addSample(state.talk, o.talkSeconds) };
    case 'wrap-up-ended':
      return { ...state, wrapUp: addSample(state.wrapUp, o.wrapUpSeconds) };
  }
}

/** The learned figures, for logs and metrics. */
export function estimates(state: PacerState): { answerRate: number; answerSeconds: number; talkSeconds: number; wrapUpSeconds: number; threshold: number } {
  return {
    answerRate: state.answerRate,
    answerSeconds: mean(state.answerDelay),
    talkSeconds: mean(state.talk),
    wrapUpSeconds: mean(state.wrapUp),
    threshold: state.threshold,
  };
}

function mean(s: Samples): number {
  return s.recent.length === 0 ? 0 : s.sum / s.recent.length;
}

function quantile(s: Samples, q: number): number {
  if (s.sorted.length === 0) return 0;
  return s.sorted[Math.min(s.sorted.length - 1, Math.floor(q * s.sorted.length))]!;
}

/** P(D <= elapsed + within | D > elapsed) from the samples; exponential tail when few are left. */
function endsWithin(s: Samples, elapsed: number, within: number): number {
  if (within <= 0) return 0;
  const n = s.sorted.length;
  if (n === 0) return 0;
  const past = upperBound(s.sorted, elapsed);
  const left = n - past;
  if (left < 5) return 1 - Math.exp(-within / Math.max(1, mean(s)));
  return (upperBound(s.sorted, elapsed + within) - past) / left;
}

/** Chance that a busy agent is free within `within` seconds. */
function freeWithin(state: PacerState, agent: BusyAgent, within: number): number {
  if (agent.phase === 'wrap-up') return endsWithin(state.wrapUp, agent.elapsedSeconds, within);
  return endsWithin(state.talk, agent.elapsedSeconds, within - quantile(state.wrapUp, 0.5));
}

/** Share of the samples at or below x. */
function atMost(s: Samples, x: number): number {
  return s.sorted.length === 0 ? 0 : upperBound(s.sorted, x) / s.sorted.length;
}

/** Chance that a line ringing for `ringing` seconds is answered live within `within` more seconds. */
function answersWithin(state: PacerState, ringing: number, within: number): number {
  const p = state.answerRate;
  const still = p * (1 - atMost(state.answerDelay, ringing)) + (1 - p);
  if (still <= 0) return 0;
  return (p * (atMost(state.answerDelay, ringing + within) - atMost(state.answerDelay, ringing))) / still;
}

/**
 * Distribution of a sum of independent Bernoulli(ps[i]) (Poisson binomial); with `top`, the last
 * entry holds P(sum >= top), which is all `shortfall` needs and keeps large floors cheap; then
 * the array has room for top + 1 entries, so that more Bernoullis can be added (addBernoulli).
 */
function sumOfBernoulli(ps: readonly number[], top = Infinity): { pmf: Float64Array; len: number } {
  let n = 0;
  for (const p of ps) if (p > 1e-9) n++;
  const pmf = new Float64Array((Number.isFinite(top) ? top : n) + 1);
  pmf[0] = 1;
  let len = 1;
  for (const p of ps) if (p > 1e-9) len = addBernoulli(pmf, len, p);
  return { pmf, len };
}

/** Adds one Bernoulli(p) to the first `len` entries of pmf, in place; returns the new length. */
function addBernoulli(pmf: Float64Array, len: number, p: number): number {
  const grows = len < pmf.length;
  const last = len - 1;
  if (grows) pmf[len] = pmf[last]! * p;
  else if (last > 0) pmf[last] = pmf[last]! + pmf[last - 1]! * p;
  for (let k = grows ? last : last - 1; k >= 1; k--) pmf[k] = pmf[k]! * (1 - p) + pmf[k - 1]! * p;
  if (grows || last > 0) pmf[0] = pmf[0]! * (1 - p);
  return grows ? len + 1 : len;
}

/** P(answers >= k) for every k (one longer than the distribution, ending in 0). */
function tailOf(pmf: Float64Array): number[] {
  const tail = new Array<number>(pmf.length + 1).fill(0);
  for (let k = pmf.length - 1; k >= 0; k--) tail[k] = tail[k + 1]! + pmf[k]!;
  return tail;
}

/** P(answers >= base + freed), answers (as its tail) and freed independent. */
function shortfall(tail: readonly number[], base: number, freed: Float64Array): number {
  let total = 0;
  for (let b = 0; b < freed.length; b++) {
    const need = Math.max(0, base + b);
    if (need >= tail.length) break;
    total += freed[b]! * tail[need]!;
  }
  return total;
}

/** More abandons than the cap allows for these live answers (none answered yet: not over). */
function overCap(count: AbandonCount, cap: number): boolean {
  return count.abandoned > cap * count.answered;
}

function budget(count: AbandonCount, cap: number): number {
  return Math.min(1, Math.max(0, (cap * count.answered - count.abandoned) / RESERVE));
}

export function decide(state: PacerState, snap: PacingSnapshot): PacingDecision {
  const { settings } = state;
  const ready = Math.max(0, snap.readyAgents);
  const ringing = snap.ringingLines.length;
  const waiting = Math.max(0, snap.waitingCalls ?? 0);
  const agents = ready + snap.busyAgents.length;
  const result = (lines: number, reason: PacingReason): PacingDecision => {
    const n = Math.max(0, lines);
    return { lines: n, level: (ringing + n) / Math.max(1, ready), reason };
  };
  if (agents === 0) return result(0, 'no-agents');
  const progressive = ready - waiting - ringing;
  if (settings.mode === 'progressive') return result(progressive, 'progressive');
  if (settings.mode === 'fixed') {
    const { today, rolling } = snap.abandons;
    if (settings.fixedObeysCap && (overCap(today, settings.abandonCap) || overCap(rolling, settings.abandonCap))) return result(progressive, 'cap-near');
    return result(Math.round(settings.level * ready) - waiting - ringing, 'fixed');
  }

  if (state.outcomes < MIN_OUTCOMES || state.talk.sorted.length < MIN_TALKS || state.answerDelay.sorted.length === 0) {
    return result(progressive, 'learning');
  }
  const cap = settings.abandonCap;
  const room = Math.min(budget(snap.abandons.today, cap), budget(snap.abandons.rolling, cap));
  const threshold = state.threshold * room;
  if (threshold <= 0) return result(progressive, 'cap-near');

  const maxInFlight = Math.floor(settings.maxLinesPerAgent * agents);
  const base = ready - waiting;
  // Checkpoints: a new line answered t seconds from now (eighths of the time to answer) finds
  // the agents ready now plus those free by t + grace, less the answers before it on the lines
  // already ringing and the other new lines.
  const top = Math.max(0, base + snap.busyAgents.length);
  const checkpoints = HORIZON_QUANTILES.map((q) => {
    const t = quantile(state.answerDelay, q);
    return {
      freed: sumOfBernoulli(snap.busyAgents.map((a) => freeWithin(state, a, t + settings.graceSeconds))).pmf,
      answers: sumOfBernoulli(snap.ringingLines.map((r) => answersWithin(state, r, t)), top),
      newLine: state.answerRate * atMost(state.answerDelay, t),
    };
  });
  let lines = 0;
  while (ringing + lines < maxInFlight) {
    // A line answered at checkpoint i is abandoned, or takes the agent of a later answer that
    // then is: the shortage at i or at any later checkpoint.
    let risk = 0;
    let later = 0;
    for (let i = checkpoints.length - 1; i >= 0; i--) {
      const c = checkpoints[i]!;
      later = Math.max(later, shortfall(tailOf(c.answers.pmf), base, c.freed));
      risk += later;
    }
    risk /= checkpoints.length;
    if (risk > threshold) break;
    lines++;
    for (const c of checkpoints) c.answers.len = addBernoulli(c.answers.pmf, c.answers.len, c.newLine);
  }
  return result(Math.max(lines, progressive), 'predictive');
}
