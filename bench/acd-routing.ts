/**
 * ACD routing decision time: routeCalls (src/acd/router.ts, reading the per-queue WaitingCalls
 * index) against the naive baseline (bench/support/naive-router.ts: sort every waiting call, scan
 * every agent per call) on the same data: 1,000 agents (about 15 % ready, the rest on calls, in
 * wrap-up, rung, paused or logged out), 10,000 waiting calls across 50 queues with mixed
 * strategies, skills with widening, priorities and IVR overrides (bench/support/acd-site.ts).
 * Several generated sites are cycled so no single input gets special treatment from the JIT; both
 * routers must agree on every site before anything is timed. routeCalls is timed given all agents
 * and given only the ready ones (a set the daemon can keep per agent transition). Also timed: keeping the index up to
 * date (one call joining, one leaving: what the daemon does per call event instead of re-reading
 * all waiting calls per decision) and building it from scratch (start-up). Reports p50/p99/max/mean
 * in ms and the ratio naive/ours. Pure CPU: no network, no database.
 *
 *   make bench-acd   (or: npx tsx bench/acd-routing.ts [decisions] [naive decisions])
 */
import { isDeepStrictEqual } from 'node:util';
import { routeCalls, type RoutingDecision } from '../src/acd/router.js';
import { addWaitingCall, removeWaitingCall, waitingCalls, type WaitingCall, type WaitingCalls } from '../src/acd/waiting-calls.js';
import { naiveRouteCalls } from './support/naive-router.js';
import { mulberry32, site } from './support/acd-site.js';

const DECISIONS = Number(process.argv[2] ?? 20_000);
const NAIVE_DECISIONS = Number(process.argv[3] ?? 100);
const SIZE = { agents: 1000, calls: 10_000, queues: 50 };
const SITES = 8;

interface Stats { n: number; p50: number; p99: number; max: number; mean: number }

/** Times `run(i)` for warmup + n rounds; the first `warmup` are not counted. */
function measure(n: number, warmup: number, run: (i: number) => void): Stats {
  const samples: number[] = [];
  for (let i = 0; i < warmup + n; i++) {
    const t0 = performance.now();
    run(i);
    const ms = performance.now() - t0;
    if (i >= warmup) samples.push(ms);
  }
  samples.sort((a, b) => a - b);
  const q = (p: number) => samples[Math.min(samples.length - 1, Math.floor(p * samples.length))]!;
  return { n: samples.length, p50: q(0.5), p99: q(0.99), max: samples[samples.length - 1]!, mean: samples.reduce((a, b) => a + b, 0) / samples.length };
}

function main(): void {
  const sites = Array.from({ length: SITES }, (_, i) => site(1000 + i, SIZE));
  const indexed = sites.map((s) => waitingCalls(s.calls));
  let assigned = 0;
  for (const [i, s] of sites.entries()) {
    const { calls: _calls, ...rest } = s;
    const ours = routeCalls({ ...rest, waiting: indexed[i]!, rng: mulberry32(7) });
    const naive = naiveRouteCalls({ ...s, rng: mulberry32(7) });
    if (!isDeepStrictEqual(ours, naive)) throw new Error(`site ${i}: routeCalls and the naive baseline disagree`);
    assigned += ours.assignments.length;
  }
  const ready = sites.map((s) => s.agents.filter((a) => a.state === 'ready').length);
  process.stderr.write(
    `[bench] ${SITES} sites of ${SIZE.agents} agents (${Math.min(...ready)}-${Math.max(...ready)} ready), ${SIZE.calls} waiting calls, ` +
      `${SIZE.queues} queues; ${(assigned / SITES).toFixed(0)} assignments per decision; ${DECISIONS} decisions (naive ${NAIVE_DECISIONS})\n`,
  );

  let sink: RoutingDecision | WaitingCalls | null = null;
  const naive = measure(NAIVE_DECISIONS, Math.min(5, NAIVE_DECISIONS), (i) => {
    sink = naiveRouteCalls({ ...sites[i % SITES]!, rng: mulberry32(i) });
  });
  const inputs = sites.map((s, i) => ({ queues: s.queues, agents: s.agents, now: s.now, waiting: indexed[i]! }));
  const ours = measure(DECISIONS, Math.min(1000, DECISIONS), (i) => {
    sink = routeCalls({ ...inputs[i % SITES]!, rng: mulberry32(i) });
  });
  // The same, given only the ready agents (a set the daemon keeps on agent transitions).
  const readyInputs = inputs.map((s) => ({ ...s, agents: s.agents.filter((a) => a.state === 'ready') }));
  for (const [i, s] of readyInputs.entries()) {
    if (!isDeepStrictEqual(routeCalls({ ...s, rng: mulberry32(7) }), routeCalls({ ...inputs[i]!, rng: mulberry32(7) }))) throw new Error('ready set gives another answer');
  }
  const oursReady = measure(DECISIONS, Math.min(1000, DECISIONS), (i) => {
    sink = routeCalls({ ...readyInputs[i % SITES]!, rng: mulberry32(i) });
  });
  // Index upkeep: a call joins a queue, another leaves, on the 10,000-call index.
  const joiners: WaitingCall[] = Array.from({ length: 1000 }, (_, i) => ({
    id: `new-${i}`, queueId: `q${i % SIZE.queues}`, priority: i % 10 === 0 ? 1 : 0, enqueuedAt: sites[0]!.now + i,
  }));
  let live = indexed[0]!;
  const join = measure(DECISIONS, 1000, (i) => {
    live = addWaitingCall(live, joiners[i % joiners.length]!);
  });
  const leavers = sites[0]!.calls;
  const leave = measure(Math.min(DECISIONS, leavers.length - 1000), 1000, (i) => {
    const c = leavers[i]!;
    live = removeWaitingCall(live, c.queueId, c.id);
  });
  const build = measure(50, 5, (i) => {
    sink = waitingCalls(sites[i % SITES]!.calls);
  });
  if (sink === null) throw new Error('nothing measured');

  const row = (name: string, s: Stats) =>
    `| ${name} | ${s.n} | ${s.p50.toFixed(3)} | ${s.p99.toFixed(3)} | ${s.max.toFixed(3)} | ${s.mean.toFixed(3)} |`;
  console.log(`\nACD routing (ms), ${SIZE.agents} agents, ${SIZE.calls} waiting calls, ${SIZE.queues} queues, node ${process.version}, ${new Date().toISOString()}\n`);
  console.log('| what | runs | p50 | p99 | max | mean |');
  console.log('|---|---|---|---|---|---|');
  console.log(row('decision, naive: every call scans every agent (baseline)', naive));
  console.log(row('decision, routeCalls over the per-queue index, all 1,000 agents passed', ours));
  console.log(row('decision, routeCalls, only the ready agents passed', oursReady));
  console.log(row('index upkeep: a call joins (addWaitingCall)', join));
  console.log(row('index upkeep: a call leaves (removeWaitingCall)', leave));
  console.log(row('index built from scratch (start-up, waitingCalls)', build));
  console.log(`\nratio naive/routeCalls: p50 ${(naive.p50 / ours.p50).toFixed(0)}x, p99 ${(naive.p99 / ours.p99).toFixed(0)}x\n`);
}

main();
