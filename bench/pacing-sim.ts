/**
 * Pacing simulator (issue #18, docs/campaign-pacing.md): a call center in simulated time, dialing
 * with the real pacing module (src/campaigns/pacing.ts). Discrete events, one seeded PRNG
 * (mulberry32), so a scenario and a seed always give the same figures.
 *
 * The floor: `agents` agents logged in for `durationSeconds`. Each dial is answered live with
 * `answerProbability` after a uniform `answerDelaySeconds` {min,max} (an answer later than
 * `noAnswerTimeoutSeconds` is a no answer), else it rings `noAnswerTimeoutSeconds` and ends. A live
 * answer goes to the agent ready longest; with none ready it waits, and if no agent is free within
 * 2 s it is abandoned. Talk is exponential (`talkSeconds.mean`), then `wrapUpSeconds` of wrap-up,
 * then the agent is ready (and takes the oldest waiting answer first). The pacer decides after every
 * event, and at least once a simulated second; dialing stops at the end of the day.
 *
 *   make bench-pacing [SCENARIO=bench/scenarios/x.json] [CURVE=1] [SEEDS=5]
 *   npx tsx bench/pacing-sim.ts <scenario.json> [--curve] [--seeds N]
 *
 * One run prints one JSON object: dials, answered, abandoned, abandonRate (abandoned / answered),
 * talkShare (talk s / logged-in s), occupancy ((talk + wrap-up) / logged-in), maxAbandonRate (the
 * highest abandoned / answered over any window of maxAbandonWindowSeconds = 1 h, windows ending at
 * each answered call after the first hour; the whole day when it is shorter). --curve runs fixed
 * levels 1.0-4.0 (step 0.25) and predictive over N seeds (seed, seed+1, ...) and prints a markdown
 * table. Elapsed wall time goes to stderr.
 */
import { readFileSync } from 'node:fs';
import { createPacer, decide, observe, type PacerState, type PacingSettings } from '../src/campaigns/pacing.js';
import { mulberry32 } from './support/acd-site.js';

export interface Scenario {
  agents: number;
  answerProbability: number;
  answerDelaySeconds: { min: number; max: number };
  noAnswerTimeoutSeconds: number;
  talkSeconds: { mean: number };
  wrapUpSeconds: number;
  durationSeconds: number;
  seed: number;
  pacing: { mode: 'fixed'; level: number } | { mode: 'predictive'; targetAbandonRate: number } | { mode: 'progressive' };
}

export interface Result {
  dials: number;
  answered: number;
  abandoned: number;
  abandonRate: number;
  talkShare: number;
  occupancy: number;
  maxAbandonRate: number;
  maxAbandonWindowSeconds: number;
}

const GRACE = 2;
const WINDOW = 3600;

type Event =
  | { t: number; seq: number; kind: 'ring-end'; line: number; answered: boolean }
  | { t: number; seq: number; kind: 'wait-expired'; call: number }
  | { t: number; seq: number; kind: 'talk-end' | 'wrap-end'; agent: number }
  | { t: number; seq: number; kind: 'tick' };
type NewEvent = Event extends infer E ? (E extends Event ? Omit<E, 'seq'> : never) : never;

/** A binary min-heap on (t, seq). */
class Events {
  private readonly items: Event[] = [];
  private seq = 0;
  get size(): number { return this.items.length; }
  push(e: NewEvent): void {
    const items = this.items;
    items.push({ ...e, seq: this.seq++ } as Event);
    let i = items.length - 1;
    while (i > 0) {
      const p = (i - 1) >> 1;
      if (!before(items[i]!, items[p]!)) break;
      [items[i], items[p]] = [items[p]!, items[i]!];
      i = p;
    }
  }
  pop(): Event {
    const items = this.items;
    const top = items[0]!;
    const last = items.pop()!;
    if (items.length > 0) {
      items[0] = last;
      let i = 0;
      for (;;) {
        const l = 2 * i + 1;
        const r = l + 1;
        let m = i;
        if (l < items.length && before(items[l]!, items[m]!)) m = l;
        if (r < items.length && before(items[r]!, items[m]!)) m = r;
        if (m === i) break;
        [items[i], items[m]] = [items[m]!, items[i]!];
        i = m;
      }
    }
    return top;
  }
}
const before = (a: Event, b: Event): boolean => a.t < b.t || (a.t === b.t && a.seq < b.seq);

function settingsOf(s: Scenario): PacingSettings {
  if (s.pacing.mode === 'fixed') return { mode: 'fixed', level: s.pacing.level };
  if (s.pacing.mode === 'predictive') return { mode: 'predictive', abandonCap: s.pacing.targetAbandonRate };
  return { mode: 'progressive' };
}

export function simulate(s: Scenario): Result {
  const rnd = mulberry32(s.seed);
  const events = new Events();
  let pacer: PacerState = createPacer(settingsOf(s));
  const phase: ('ready' | 'talk' | 'wrap')[] = Array.from({ length: s.agents }, () => 'ready');
  const since = new Array<number>(s.agents).fill(0);
  const readyQueue: number[] = Array.from({ length: s.agents }, (_, i) => i); // longest ready first
  const ringing = new Map<number, number>(); // line -> dial time
  const waiting = new Map<number, number>(); // call -> answer time (insertion order = oldest first)
  const outcomes: { t: number; abandoned: boolean }[] = [];
  let dials = 0;
  let answered = 0;
  let abandoned = 0;
  let talk = 0;
  let wrap = 0;

  const startTalk = (agent: number, now: number): void => {
    phase[agent] = 'talk';
    since[agent] = now;
    events.push({ t: now - s.talkSeconds.mean * Math.log(1 - rnd()), kind: 'talk-end', agent });
    pacer = observe(pacer, { kind: 'connected' });
    outcomes.push({ t: now, abandoned: false });
  };
  const dial = (now: number): void => {
    const line = dials++;
    ringing.set(line, now);
    const live = rnd() < s.answerProbability;
    const delay = s.answerDelaySeconds.min + rnd() * (s.answerDelaySeconds.max - s.answerDelaySeconds.min);
    if (live && delay <= s.noAnswerTimeoutSeconds) events.push({ t: now + delay, kind: 'ring-end', line, answered: true });
    else events.push({ t: now + s.noAnswerTimeoutSeconds, kind: 'ring-end', line, answered: false });
  };
  let paced = -Infinity;
  const pace = (now: number): void => {
    paced = now;
    const today = { answered, abandoned };
    const decision = decide(pacer, {
      readyAgents: readyQueue.length,
      busyAgents: phase.flatMap((p, i) => (p === 'ready' ? [] : [{ phase: p === 'talk' ? 'talk' as const : 'wrap-up' as const, elapsedSeconds: now - since[i]! }])),
      ringingLines: [...ringing.values()].map((t) => now - t),
      waitingCalls: waiting.size,
      abandons: { today, rolling: today },
    });
    for (let i = 0; i < decision.lines; i++) dial(now);
  };

  events.push({ t: 0, kind: 'tick' });
  while (events.size > 0) {
    const e = events.pop();
    if (e.t > s.durationSeconds) break;
    const now = e.t;
    switch (e.kind) {
      case 'tick':
        events.push({ t: now + 1, kind: 'tick' });
        if (now - paced < 1) continue; // decided within the last second already
        break;
      case 'ring-end': {
        const ringSeconds = now - ringing.get(e.line)!;
        ringing.delete(e.line);
        if (!e.answered) {
          pacer = observe(pacer, { kind: 'no-answer', ringSeconds });
          break;
        }
        answered++;
        pacer = observe(pacer, { kind: 'answered', ringSeconds });
        const agent = readyQueue.shift();
        if (agent !== undefined) startTalk(agent, now);
        else {
          waiting.set(e.line, now);
          events.push({ t: now + GRACE, kind: 'wait-expired', call: e.line });
        }
        break;
      }
      case 'wait-expired':
        if (waiting.delete(e.call)) {
          abandoned++;
          pacer = observe(pacer, { kind: 'abandoned' });
          outcomes.push({ t: now, abandoned: true });
        }
        break;
      case 'talk-end':
        talk += now - since[e.agent]!;
        pacer = observe(pacer, { kind: 'talk-ended', talkSeconds: now - since[e.agent]! });
        phase[e.agent] = 'wrap';
        since[e.agent] = now;
        events.push({ t: now + s.wrapUpSeconds, kind: 'wrap-end', agent: e.agent });
        break;
      case 'wrap-end': {
        wrap += now - since[e.agent]!;
        pacer = observe(pacer, { kind: 'wrap-up-ended', wrapUpSeconds: now - since[e.agent]! });
        const oldest = waiting.keys().next();
        if (!oldest.done) {
          waiting.delete(oldest.value);
          startTalk(e.agent, now);
        } else {
          phase[e.agent] = 'ready';
          since[e.agent] = now;
          readyQueue.push(e.agent);
        }
        break;
      }
    }
    pace(now);
  }
  for (let i = 0; i < s.agents; i++) {
    if (phase[i] === 'talk') talk += s.durationSeconds - since[i]!;
    if (phase[i] === 'wrap') wrap += s.durationSeconds - since[i]!;
  }
  const loggedIn = s.agents * s.durationSeconds;
  return {
    dials, answered, abandoned,
    abandonRate: answered === 0 ? 0 : abandoned / answered,
    talkShare: talk / loggedIn,
    occupancy: (talk + wrap) / loggedIn,
    maxAbandonRate: maxWindowRate(outcomes, Math.min(WINDOW, s.durationSeconds)),
    maxAbandonWindowSeconds: WINDOW,
  };
}

/** Highest abandoned / answered over windows (t - window, t] ending at each outcome at or after `window`. */
function maxWindowRate(outcomes: readonly { t: number; abandoned: boolean }[], window: number): number {
  let max = 0;
  let start = 0;
  let n = 0;
  let bad = 0;
  for (const o of outcomes) {
    n++;
    if (o.abandoned) bad++;
    while (outcomes[start]!.t <= o.t - window) {
      n--;
      if (outcomes[start]!.abandoned) bad--;
      start++;
    }
    if (o.t >= window && n > 0) max = Math.max(max, bad / n);
  }
  if (outcomes.length > 0 && outcomes.at(-1)!.t < window) max = bad / n;
  return max;
}

const round = (x: number, digits: number): number => Number(x.toFixed(digits));

function curve(base: Scenario, seeds: number): void {
  const cap = base.pacing.mode === 'predictive' ? base.pacing.targetAbandonRate : 0.03;
  const levels: Scenario['pacing'][] = [];
  for (let level = 1; level <= 4.0001; level += 0.25) levels.push({ mode: 'fixed', level });
  levels.push({ mode: 'predictive', targetAbandonRate: cap });
  console.log(`${base.agents} agents, answer ${base.answerProbability * 100} % after ${base.answerDelaySeconds.min}-${base.answerDelaySeconds.max} s, `
    + `talk ${base.talkSeconds.mean} s (exp.), wrap-up ${base.wrapUpSeconds} s, ${base.durationSeconds / 3600} h, seeds ${base.seed}-${base.seed + seeds - 1}; `
    + `mean over seeds, [min-max] where it matters\n`);
  console.log('| pacing | dials | answered | abandon rate | worst seed | max 1 h window | talkShare | occupancy | <= cap every seed |');
  console.log('|---|---|---|---|---|---|---|---|---|');
  for (const pacing of levels) {
    const runs = Array.from({ length: seeds }, (_, i) => simulate({ ...base, seed: base.seed + i, pacing }));
    const avg = (f: (r: Result) => number) => runs.reduce((a, r) => a + f(r), 0) / runs.length;
    const worst = Math.max(...runs.map((r) => r.abandonRate));
    const name = pacing.mode === 'fixed' ? `fixed ${pacing.level.toFixed(2)}` : `**predictive ${cap}**`;
    const pct = (x: number) => `${(100 * x).toFixed(2)} %`;
    console.log(`| ${name} | ${Math.round(avg((r) => r.dials))} | ${Math.round(avg((r) => r.answered))} | ${pct(avg((r) => r.abandonRate))} | ${pct(worst)} `
      + `| ${pct(Math.max(...runs.map((r) => r.maxAbandonRate)))} | ${avg((r) => r.talkShare).toFixed(3)} `
      + `[${Math.min(...runs.map((r) => r.talkShare)).toFixed(3)}-${Math.max(...runs.map((r) => r.talkShare)).toFixed(3)}] `
      + `| ${avg((r) => r.occupancy).toFixed(3)} | ${worst <= cap ? 'yes' : 'no'} |`);
  }
}

function main(): void {
  const args = process.argv.slice(2);
  const file = args.find((a) => !a.startsWith('--')) ?? 'bench/scenarios/pacing-20-agents.json';
  const seedsAt = args.indexOf('--seeds');
  const seeds = seedsAt >= 0 ? Number(args[seedsAt + 1]) : 5;
  const scenario = JSON.parse(readFileSync(file, 'utf8')) as Scenario;
  const t0 = performance.now();
  const cpu0 = process.cpuUsage();
  if (args.includes('--curve')) curve(scenario, seeds);
  else {
    const r = simulate(scenario);
    console.log(JSON.stringify({ ...r, abandonRate: round(r.abandonRate, 4), talkShare: round(r.talkShare, 4), occupancy: round(r.occupancy, 4), maxAbandonRate: round(r.maxAbandonRate, 4) }));
  }
  const cpu = process.cpuUsage(cpu0);
  console.error(`elapsed ${((performance.now() - t0) / 1000).toFixed(2)} s (CPU ${((cpu.user + cpu.system) / 1e6).toFixed(2)} s)`);
}

main();
