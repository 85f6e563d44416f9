/**
 * The read API under load (issue #22, docs/benchmarks.md#read-api): the built daemon in a bench
 * world (its own database, Redis prefix and Asterisk), seeded with CDRS call records over the last
 * 30 days, their queue events and agents' state log (30 queues, 200 agents: test/support/history.ts),
 * then autocannon (CONNECTIONS keep-alive connections, DURATION s each) against:
 *
 *   /health/live                the floor: HTTP server, routing, request logging, a fixed body
 *   /health/ready               Postgres, Redis, ARI and AMI checked per request (no token)
 *   /api/v1/me                  the floor + the bearer-token check (no other query)
 *   /api/v1/agents/live         + the agents' live view (a query) and its serialisation
 *   /api/v1/cdrs?limit=20       + a page of CDRs (an index scan over CDRS rows)
 *   /api/v1/reports/queues/live + the live queue figures (aggregates over today's queue events)
 *
 * each at a fixed rate (RATE req/s over all connections: autocannon's overallRate) and at the
 * most the machine gives (no rate), in that order, with a short warm-up. Each row: req/s, p50, p99,
 * max, non-2xx, the daemon's CPU per request (its CPU time over the run, with the calls' share, /
 * requests), and the p99 and req/s as ratios to the floor's of the same mode. The differences
 * between rows are where the time goes (the token check: /me - /health/live). The daemon's stdout
 * (its JSON logs, at PBX_LOG_LEVEL info as shipped unless LOG_LEVEL is given) goes to a file, as
 * it would to the journal. PROFILE=1 runs the daemon with --cpu-prof (written at its exit, path
 * printed).
 *
 * While calls are carried: CALLS callers at once (default 20) on the soak's path (carrier -> DID ->
 * queue -> an agent's SIPp desk phone answers, RTP both ways, the caller hangs up after HOLD ms;
 * test/support/steady-load.ts), a new call as soon as one ends, from before the first path until
 * after the last; the header reports the calls placed, completed and failed meanwhile. `--calls 0`
 * for an idle PBX.
 *
 *   make bench-api                         (CDRS=200000 RATE=2000 DURATION=10 CONNECTIONS=20 CALLS=20 HOLD_MS=10000)
 *   npx tsx bench/api.ts --cdrs 200000 --rate 2000 --duration 10 --connections 20 [--only me,agents]
 *     [--calls 20 --hold 10000] [--profile] [--log-level warn] [--http-log errors] [--daemon other-build/dist/src/cli.js]
 */
import autocannon from 'autocannon';
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtemp, open, readFile, rm } from 'node:fs/promises';
import { tmpdir, loadavg } from 'node:os';
import path from 'node:path';
import { openDb } from '../test/support/db.js';
import { createWorld } from '../test/support/world.js';
import { eventually, withTimeout } from '../test/support/daemon.js';
import { REPO } from '../test/support/asterisk.js';
import { cliToken } from '../test/support/api.js';
import { generateCdrs, generateQueueHistory } from '../test/support/history.js';
import { apiClient } from '../test/support/pbx.js';
import { queueSite, startSteadyLoad, type QueueSite, type SteadyLoad } from '../test/support/steady-load.js';

const arg = (name: string, fallback: string): string => {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 && process.argv[i + 1] ? process.argv[i + 1]! : fallback;
};
const CDRS = Number(arg('cdrs', '200000'));
const RATE = Number(arg('rate', '2000'));
const DURATION = Number(arg('duration', '10'));
const CONNECTIONS = Number(arg('connections', '20'));
const LOG_LEVEL = arg('log-level', 'info');
/** PBX_HTTP_LOG of the daemon (all, errors, off); unset: the daemon's default. */
const HTTP_LOG = arg('http-log', '');
const ONLY = arg('only', '').split(',').filter(Boolean);
const PROFILE = process.argv.includes('--profile');
/** Callers on the line at once while the paths are measured (0: none), each HOLD ms long. */
const CALLS = Number(arg('calls', '20'));
const HOLD_MS = Number(arg('hold', '10000'));
/** The daemon's cli.js: another build (e.g. of an older commit, for a before/after) than dist/. */
const DAEMON = path.resolve(arg('daemon', path.join(REPO, 'dist/src/cli.js')));
const WARMUP_S = 2;
const DAY_MS = 86_400_000;

interface Target { readonly name: string; readonly path: string; readonly auth: boolean }

const TARGETS: readonly Target[] = [
  { name: 'live', path: '/health/live', auth: false },
  { name: 'ready', path: '/health/ready', auth: false },
  { name: 'me', path: '/api/v1/me', auth: true },
  { name: 'agents', path: '/api/v1/agents/live', auth: true },
  { name: 'cdrs', path: '/api/v1/cdrs?limit=20', auth: true },
  { name: 'queues', path: '/api/v1/reports/queues/live', auth: true },
];

interface Row { target: Target; mode: string; rps: number; p50: number; p99: number; max: number; non2xx: number; errors: number; cpuMs: number }

/** The daemon's CPU time so far (user + system, ms), from /proc (clock ticks of 10 ms: over a run of thousands of requests). */
async function cpuMsOf(pid: number): Promise<number> {
  const stat = await readFile(`/proc/${pid}/stat`, 'utf8');
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return (Number(fields[11]) + Number(fields[12])) * 10;
}

async function cannon(url: string, headers: Record<string, string>, duration: number, rate: number | undefined): Promise<autocannon.Result> {
  return autocannon({ url, connections: CONNECTIONS, duration, headers, ...(rate ? { overallRate: rate } : {}) });
}

/** The built daemon with stdout and stderr to a file (as to the journal, not parsed by this process). */
async function startDaemon(env: Record<string, string>, dir: string): Promise<{ proc: ChildProcess; logFile: string; profDir: string }> {
  const logFile = path.join(dir, 'daemon.log');
  const profDir = path.join(dir, 'prof');
  const out = await open(logFile, 'a');
  const nodeArgs = PROFILE ? ['--cpu-prof', `--cpu-prof-dir=${profDir}`] : [];
  const proc = spawn(process.execPath, [...nodeArgs, DAEMON, 'serve'], {
    env: { PATH: process.env['PATH'] ?? '', ...env },
    stdio: ['ignore', out.fd, out.fd],
  });
  await out.close();
  return { proc, logFile, profDir };
}

async function main(): Promise<void> {
  const world = await createWorld('bench', { PBX_LOG_LEVEL: LOG_LEVEL, ...(HTTP_LOG ? { PBX_HTTP_LOG: HTTP_LOG } : {}) });
  const dir = await mkdtemp(path.join(tmpdir(), 'pbx-bench-api-'));
  let daemon: ChildProcess | null = null;
  let site: QueueSite | null = null;
  let load: SteadyLoad | null = null;
  try {
    const db = openDb(world.db);
    const t0 = performance.now();
    const history = { rows: CDRS, from: new Date(Date.now() - 30 * DAY_MS), stepMs: (30 * DAY_MS) / CDRS, prefix: 'bench-' };
    await generateCdrs(db, history);
    await generateQueueHistory(db, history);
    await db.destroy();
    process.stderr.write(`[bench-api] seeded ${CDRS} CDRs, their queue events, 30 queues, 200 agents in ${((performance.now() - t0) / 1000).toFixed(1)} s\n`);

    const started = await startDaemon(world.daemonEnv, dir);
    daemon = started.proc;
    const base = `http://127.0.0.1:${world.daemonEnv['PBX_HTTP_PORT']}`;
    await eventually(async () => ((await fetch(`${base}/health/ready`).catch(() => null))?.status === 200 ? true : undefined), 60_000, 'daemon ready', 200);
    const token = await cliToken(world.daemonEnv, 'supervisor');
    const bearer = { authorization: `Bearer ${token}` };
    if (CALLS > 0) {
      // Numbers of this bench's world alone (its own database and Asterisk).
      const admin = apiClient(world.daemonEnv, await cliToken(world.daemonEnv, 'admin'));
      site = await queueSite({ world, admin, name: 'bench-api', did: '4930996000', carrierIp: '127.0.0.51', firstExtension: 6900, firstAgent: 900, agents: CALLS, talkMs: HOLD_MS + 5_000 });
      load = await startSteadyLoad(site, { concurrent: CALLS, holdMs: HOLD_MS, callerPrefix: '+4930996' });
      // Calls up on every line before the first path: the slots start one HOLD_MS / CALLS apart.
      await eventually(async () => (load!.counts().inProgress >= CALLS ? true : undefined), HOLD_MS + 30_000, `${CALLS} calls up`, 200);
      process.stderr.write(`[bench-api] ${CALLS} calls up (${JSON.stringify(load.counts())})\n`);
    }
    const before = load?.counts();

    const rows: Row[] = [];
    const targets = TARGETS.filter((t) => ONLY.length === 0 || ONLY.includes(t.name) || t.name === 'live');
    for (const target of targets) {
      const url = `${base}${target.path}`;
      const headers = target.auth ? bearer : {};
      const check = await fetch(url, { headers });
      if (check.status !== 200) throw new Error(`${target.path} answered ${check.status}: ${await check.text()}`);
      await cannon(url, headers, WARMUP_S, undefined);
      for (const [mode, rate] of [[`${RATE}/s`, RATE], ['max', undefined]] as const) {
        const cpu0 = await cpuMsOf(daemon.pid!);
        const r = await cannon(url, headers, DURATION, rate);
        const cpuMs = ((await cpuMsOf(daemon.pid!)) - cpu0) / Math.max(r.requests.total, 1);
        rows.push({ target, mode, rps: r.requests.average, p50: r.latency.p50, p99: r.latency.p99, max: r.latency.max, non2xx: r.non2xx, errors: r.errors + r.timeouts, cpuMs });
        process.stderr.write(`[bench-api] ${target.path} ${mode}: ${r.requests.average} req/s p50 ${r.latency.p50} p99 ${r.latency.p99} ms, daemon ${cpuMs.toFixed(3)} ms CPU/req\n`);
      }
    }

    const calls = load && before ? callsMeanwhile(before, load.counts()) : 'no call load';
    const floor = (mode: string) => rows.find((r) => r.target.name === 'live' && r.mode === mode)!;
    console.log(`\nRead API, ${CONNECTIONS} connections, ${DURATION} s per run, ${CDRS} CDRs, log level ${LOG_LEVEL}${HTTP_LOG ? `, PBX_HTTP_LOG ${HTTP_LOG}` : ''}, daemon ${path.relative(REPO, DAEMON)}, ${calls}; load ${loadavg().map((l) => l.toFixed(1)).join(' ')}; ${new Date().toISOString()}\n`);
    console.log('| path | rate | req/s | p50 ms | p99 ms | max ms | non-2xx / errors | daemon CPU ms/req | p99 / floor | req/s / floor |');
    console.log('|---|---|---|---|---|---|---|---|---|---|');
    for (const r of rows) {
      const f = floor(r.mode);
      console.log(`| ${r.target.path} | ${r.mode} | ${Math.round(r.rps)} | ${r.p50} | ${r.p99} | ${r.max} | ${r.non2xx} / ${r.errors} | ${r.cpuMs.toFixed(3)} | ${(r.p99 / Math.max(f.p99, 1)).toFixed(1)}x | ${(r.rps / f.rps).toFixed(2)} |`);
    }
    console.log(`\n(p99 / floor divides by max(floor p99, 1 ms): autocannon reports whole milliseconds.)`);
  } finally {
    await load?.stop();
    await site?.stop();
    if (daemon) {
      const exited = new Promise((resolve) => daemon!.once('exit', resolve));
      daemon.kill('SIGTERM');
      await withTimeout(exited, 20_000, 'daemon did not exit').catch(() => daemon!.kill('SIGKILL'));
      if (PROFILE) console.log(`CPU profile of the daemon in ${path.join(dir, 'prof')}, its log in ${path.join(dir, 'daemon.log')}`);
    }
    // The daemon's log (a line per request: hundreds of MB) is kept only beside a profile.
    if (!PROFILE) await rm(dir, { recursive: true, force: true });
    await world.teardown();
  }
}

/** The calls carried while the paths were measured: those that ended meanwhile, and how. */
function callsMeanwhile(before: ReturnType<SteadyLoad['counts']>, after: ReturnType<SteadyLoad['counts']>): string {
  const completed = after.completed - before.completed;
  const failed = after.failed - before.failed;
  return `${CALLS} calls at once (${HOLD_MS / 1000} s each): ${completed} completed, ${failed} failed while measured`;
}

main().catch((err: unknown) => {
  console.error(err);
  process.exit(1);
});
