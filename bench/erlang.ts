/**
 * Staffing search time (src/staffing/erlang.ts) at 500 Erlangs, 80 % within 20 s, AHT 180 s:
 * staff() (Erlang B recursion in log(1/B), doubling then bisection) against two baselines:
 * - the textbook formula, A^N / N! with Math.pow and a factorial, searched upward from N = A + 1:
 *   it overflows (Infinity / Infinity = NaN) long before 500 E, so it never answers;
 * - the spreadsheet way that works: the same search upward one agent at a time, each N computing
 *   Erlang B from scratch with the plain recursion (O(N^2) in all).
 * Both answers must agree before anything is timed. Also timed: Erlang A (patience 120 s) and a
 * day's forecast staffing (48 half hours, loads 5-500 E). Reports p50/p99/max/mean in ms. CPU only.
 *
 *   make bench-erlang   (or: npx tsx bench/erlang.ts [runs])
 */
import { evaluate, staff, type Traffic } from '../src/staffing/erlang.js';

const RUNS = Number(process.argv[2] ?? 2000);
const LOAD = 500;
const AHT = 180;
const T = 20;
const TARGET = 0.8;
const traffic: Traffic = { callsPerSecond: LOAD / AHT, ahtSeconds: AHT };

interface Stats { n: number; p50: number; p99: number; max: number; mean: number }
function measure(n: number, warmup: number, run: () => unknown): Stats {
  const samples: number[] = [];
  for (let i = 0; i < warmup + n; i++) {
    const t0 = performance.now();
    run();
    const ms = performance.now() - t0;
    if (i >= warmup) samples.push(ms);
  }
  samples.sort((a, b) => a - b);
  const q = (p: number) => samples[Math.min(samples.length - 1, Math.floor(p * samples.length))]!;
  return { n: samples.length, p50: q(0.5), p99: q(0.99), max: samples.at(-1)!, mean: samples.reduce((a, b) => a + b, 0) / samples.length };
}

/** Textbook Erlang C with powers and factorials: NaN once A^N or N! overflow. */
function textbookSearch(a: number): number | null {
  const fact = (n: number): number => { let f = 1; for (let k = 2; k <= n; k++) f *= k; return f; };
  for (let n = Math.floor(a) + 1; n <= 2 * a + 50; n++) {
    let sum = 0;
    for (let k = 0; k < n; k++) sum += a ** k / fact(k);
    const top = (a ** n / fact(n)) * (n / (n - a));
    const c = top / (sum + top);
    if (1 - c * Math.exp((-(n - a) * T) / AHT) >= TARGET) return n;
  }
  return null;
}

/** Upward one agent at a time, Erlang B from scratch by the plain recursion for each N. */
function spreadsheetSearch(a: number): number {
  for (let n = Math.floor(a) + 1; ; n++) {
    let b = 1;
    for (let k = 1; k <= n; k++) b = (a * b) / (k + a * b);
    const c = (n * b) / (n - a + a * b);
    if (1 - c * Math.exp((-(n - a) * T) / AHT) >= TARGET) return n;
  }
}

const ours = staff(traffic, { answerSeconds: T, serviceLevel: TARGET });
if (!ours.reachable) throw new Error('not reachable');
const textbook = textbookSearch(LOAD);
const sheet = spreadsheetSearch(LOAD);
if (sheet !== ours.performance.agents) throw new Error(`answers differ: spreadsheet ${sheet}, staff() ${ours.performance.agents}`);
console.log(`500 E, 80/20, AHT 180 s: staff() ${ours.performance.agents} agents (SL ${ours.performance.serviceLevel.toFixed(4)}); spreadsheet ${sheet}; textbook formula ${textbook ?? 'no answer (overflow: NaN)'}`);
console.log(`textbook P(wait) at N = 501: ${((a: number, n: number) => { let f = 1; for (let k = 2; k <= n; k++) f *= k; return (a ** n / f); })(LOAD, 501)} (A^N / N!)`);

const day = Array.from({ length: 48 }, (_, i) => 5 + 495 * Math.sin((Math.PI * i) / 47) ** 2);
const rows: [string, Stats][] = [
  ['spreadsheet search (baseline): upward, Erlang B from scratch per N', measure(Math.max(20, Math.floor(RUNS / 50)), 3, () => spreadsheetSearch(LOAD))],
  ['staff(), Erlang C', measure(RUNS, 50, () => staff(traffic, { answerSeconds: T, serviceLevel: TARGET }))],
  ['staff(), Erlang A (patience 120 s)', measure(Math.max(50, Math.floor(RUNS / 10)), 10, () => staff({ ...traffic, patienceSeconds: 120 }, { answerSeconds: T, serviceLevel: TARGET }))],
  ['evaluate(), Erlang C, 600 agents', measure(RUNS, 50, () => evaluate(traffic, 600, T))],
  ['a day: 48 half hours of 5-500 E, Erlang C', measure(Math.max(50, Math.floor(RUNS / 10)), 10, () => day.map((a) => staff({ callsPerSecond: a / AHT, ahtSeconds: AHT }, { answerSeconds: T, serviceLevel: TARGET })))],
];
console.log('\n| what | runs | p50 | p99 | max | mean |\n|---|---|---|---|---|---|');
for (const [what, s] of rows) console.log(`| ${what} | ${s.n} | ${s.p50.toFixed(3)} | ${s.p99.toFixed(3)} | ${s.max.toFixed(3)} | ${s.mean.toFixed(3)} |`);
const base = rows[0]![1];
const c = rows[1]![1];
console.log(`\nratio spreadsheet/staff(): p50 ${(base.p50 / c.p50).toFixed(0)}x, mean ${(base.mean / c.mean).toFixed(0)}x`);
