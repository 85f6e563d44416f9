/**
 * The soak (issue #22): a steady call load on the full inbound path (test/support/steady-load.ts:
 * carrier -> DID -> queue -> agent's SIPp desk phone answers -> RTP both ways -> the caller hangs
 * up) held for PBX_SOAK_SECONDS after a warm-up, against one real daemon, Asterisk, Postgres and
 * Redis. It reports, and asserts:
 *   - every SIPp call completed, and has exactly one CDR (ANSWERED) and one queue join, answer and
 *     end; no CDR or queue join of these caller numbers that SIPp did not place;
 *   - the daemon's RSS and heap, at the start (after the warm-up) and at the end, from its
 *     /metrics (prom-client's default metrics): RSS may grow less than PBX_SOAK_RSS_GROWTH;
 *   - its active handles and Postgres connections (pg_stat_activity) do not creep;
 *   - the event loop's p99 lag (prom-client measures it per scrape window).
 *
 * Settings (env): PBX_SOAK_SECONDS (120; "60m", "1h" too), PBX_SOAK_WARMUP_SECONDS (30),
 * PBX_SOAK_CALLS (concurrent calls, 40), PBX_SOAK_HOLD_MS (talk time per call, 10000),
 * PBX_SOAK_RSS_GROWTH (allowed RSS growth start -> end, 0.10). `make soak DURATION=60m`.
 */
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { sql } from 'kysely';
import WebSocket from 'ws';
import type { Db } from '../../src/db/database.js';
import { Daemon, eventually } from '../support/daemon.js';
import { openDb } from '../support/db.js';
import { freePort } from '../support/ports.js';
import { startReadyDaemon } from '../support/pbx.js';
import { holdFor } from '../support/wait.js';
import { queueSite, startSteadyLoad, waitForRecords, type QueueSite, type SteadyLoad } from '../support/steady-load.js';

const world = inject('e2e');

/** "120", "90s", "60m", "1h" -> seconds. */
function durationSeconds(text: string): number {
  const m = /^\s*(\d+(?:\.\d+)?)\s*(s|m|h)?\s*$/.exec(text);
  if (!m) throw new Error(`PBX_SOAK_SECONDS: not a duration: ${text} (seconds, or 90s, 60m, 1h)`);
  return Math.round(Number(m[1]) * ({ s: 1, m: 60, h: 3600 }[m[2] ?? 's'] ?? 1));
}

const SECONDS = durationSeconds(process.env['PBX_SOAK_SECONDS'] ?? '120');
const WARMUP_S = Number(process.env['PBX_SOAK_WARMUP_SECONDS'] ?? 30);
const CONCURRENT = Number(process.env['PBX_SOAK_CALLS'] ?? 40);
const HOLD_MS = Number(process.env['PBX_SOAK_HOLD_MS'] ?? 10_000);
const RSS_GROWTH = Number(process.env['PBX_SOAK_RSS_GROWTH'] ?? 0.1);
const SAMPLE_MS = 10_000;
/** Window samples that may fail in a row (a scrape timed out) before the soak fails. */
const MAX_MISSED = 3;
const CALLER_PREFIX = '4939700';

interface Sample {
  at: number;
  rss: number;
  heapUsed: number;
  /** V8's heap as reserved, and memory outside it held by JS objects (Buffers, ArrayBuffers). */
  heapTotal: number;
  external: number;
  handles: number;
  lagP99: number;
  callsInProgress: number;
  pg: Record<string, number>;
}

let daemon: Daemon;
/** The daemon's inspector (node --inspect): a full GC before the figures that are compared. */
let inspectPort = 0;
let db: Db;
let site: QueueSite | undefined;
let load: SteadyLoad | undefined;

/** One figure from the Prometheus text (an unlabelled series). */
function metric(text: string, name: string): number {
  const m = new RegExp(`^${name} ([0-9.e+-]+)`, 'm').exec(text);
  if (!m) throw new Error(`/metrics has no ${name}`);
  return Number(m[1]);
}

/**
 * A full garbage collection in the daemon (the inspector's HeapProfiler.collectGarbage), so that RSS
 * and heap are compared at the same point of V8's cycle: under this load RSS saws by 30 % and more
 * between two major collections, more than the growth the soak looks for.
 */
async function collectGarbage(): Promise<void> {
  const list = (await (await fetch(`http://127.0.0.1:${inspectPort}/json/list`)).json()) as { webSocketDebuggerUrl: string }[];
  const ws = new WebSocket(list[0]!.webSocketDebuggerUrl);
  try {
    await new Promise<void>((resolve, reject) => {
      ws.once('error', reject);
      ws.once('open', () => ws.send(JSON.stringify({ id: 1, method: 'HeapProfiler.collectGarbage' })));
      ws.on('message', (data: Buffer) => {
        const m = JSON.parse(data.toString()) as { id?: number; error?: unknown };
        if (m.id !== 1) return;
        if (m.error) reject(new Error(`collectGarbage: ${JSON.stringify(m.error)}`));
        else resolve();
      });
    });
  } finally {
    ws.close();
  }
}

/** The figures right after a full GC (see collectGarbage). */
async function sampleAfterGc(): Promise<Sample> {
  await collectGarbage();
  return sample();
}

async function sample(): Promise<Sample> {
  const res = await fetch(`http://127.0.0.1:${world.daemonEnv['PBX_HTTP_PORT']}/metrics`, { signal: AbortSignal.timeout(5_000) });
  if (res.status !== 200) throw new Error(`/metrics: ${res.status}`);
  const text = await res.text();
  const { rows } = await sql<{ app: string; n: number }>`
    select coalesce(nullif(application_name, ''), '(none)') as app, count(*)::int as n
    from pg_stat_activity where datname = current_database() and pid <> pg_backend_pid() group by 1`.execute(db);
  return {
    at: Date.now(),
    rss: metric(text, 'process_resident_memory_bytes'),
    heapUsed: metric(text, 'nodejs_heap_size_used_bytes'),
    heapTotal: metric(text, 'nodejs_heap_size_total_bytes'),
    external: metric(text, 'nodejs_external_memory_bytes'),
    handles: metric(text, 'nodejs_active_handles_total'),
    lagP99: metric(text, 'nodejs_eventloop_lag_p99_seconds'),
    callsInProgress: metric(text, 'pbx_calls_in_progress'),
    pg: Object.fromEntries(rows.map((r) => [r.app, r.n])),
  };
}

const median = (xs: number[]) => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length === 0 ? NaN : s.length % 2 ? s[(s.length - 1) / 2]! : (s[s.length / 2 - 1]! + s[s.length / 2]!) / 2;
};
const mb = (b: number) => (b / 2 ** 20).toFixed(1);
const say = (line: string) => process.stderr.write(`[soak] ${line}\n`);

describe(`soak: ${CONCURRENT} calls at once for ${SECONDS} s after ${WARMUP_S} s of warm-up`, () => {
  beforeAll(async () => {
    // info, not the e2e world's debug: hours of debug lines would be the test's own memory.
    inspectPort = await freePort();
    const nodeArgs = process.env['PBX_DAEMON_NODE_ARGS'];
    process.env['PBX_DAEMON_NODE_ARGS'] = `${nodeArgs ?? ''} --inspect=127.0.0.1:${inspectPort}`;
    const started = await startReadyDaemon({ ...world.daemonEnv, PBX_LOG_LEVEL: 'info', PBX_METRICS_ACCESS: 'loopback' }).finally(() => {
      if (nodeArgs === undefined) delete process.env['PBX_DAEMON_NODE_ARGS'];
      else process.env['PBX_DAEMON_NODE_ARGS'] = nodeArgs;
    });
    daemon = started.daemon;
    db = openDb(world.db);
    site = await queueSite({
      world, admin: started.admin, name: 'soak', did: '4930997000', carrierIp: '127.0.0.21',
      firstExtension: 6700, firstAgent: 700, agents: CONCURRENT,
    });
  });

  afterAll(async () => {
    await load?.stop();
    await site?.stop();
    await daemon?.stop().catch(() => undefined);
    await db?.destroy();
  });

  it('holds the load: every call has one CDR and its queue events; RSS, handles and Postgres connections stay flat', async () => {
    const idle = await sampleAfterGc();
    say(`idle before the load (after a full GC): RSS ${mb(idle.rss)} MB, heap ${mb(idle.heapUsed)} MB, handles ${idle.handles}, pg ${JSON.stringify(idle.pg)}`);
    const t0 = Date.now();
    load = await startSteadyLoad(site!, { concurrent: CONCURRENT, holdMs: HOLD_MS, callerPrefix: CALLER_PREFIX });

    // The warm-up: calls ramp up over one hold time, V8 and the pools grow to their working size.
    await holdFor(WARMUP_S * 1000, 'the warm-up before the first figure');
    const start = await sampleAfterGc();
    const samples: Sample[] = [];
    let missed = 0;
    let missedInARow = 0;
    const errors: string[] = [];
    const until = Date.now() + SECONDS * 1000;
    for (;;) {
      await holdFor(Math.max(0, Math.min(SAMPLE_MS, until - Date.now())), 'the time between two samples of the soak');
      if (Date.now() >= until) break;
      // No GC here: these windows give the event loop lag, handles and connections as they are.
      // A scrape that times out (a saturated machine: the 60-min run of 2026-12-06 lost one at
      // 53 min, load average 30 on 2 cores, with 0 calls failed) is counted and reported, not
      // fatal; MAX_MISSED in a row fail the soak (the daemon is not answering).
      let s: Sample;
      try {
        s = await sample();
        missedInARow = 0;
      } catch (err) {
        missed++;
        say(`a window's sample failed (${String(err).slice(0, 120)}): ${missed} missed so far`);
        if (++missedInARow >= MAX_MISSED) throw err;
        continue;
      }
      samples.push(s);
      // The test keeps the daemon's log lines in memory: keep its errors (pino's lines, with a
      // time; not what a library printed on stderr), drop the rest.
      for (const l of daemon.logs) if (l.level >= 50 && 'time' in l) errors.push(`${l.msg} ${JSON.stringify(l['err'] ?? '')}`.slice(0, 300));
      daemon.logs.splice(0, daemon.logs.length);
      const c = load.counts();
      say(`+${Math.round((s.at - t0) / 1000)} s: ${c.completed} completed, ${c.failed} failed, ${s.callsInProgress} in progress; RSS ${mb(s.rss)} MB, heap ${mb(s.heapUsed)} MB, handles ${s.handles}, lag p99 ${(s.lagP99 * 1000).toFixed(1)} ms, pg ${JSON.stringify(s.pg)}`);
    }
    const end = await sampleAfterGc();

    const counts = await load.stop();
    await eventually(async () => ((await sample()).callsInProgress === 0 ? true : undefined), 30_000, 'no call in progress after the load');
    const drained = await sampleAfterGc();
    const records = await waitForRecords(db, load.calls, CALLER_PREFIX, 60_000);

    const lags = samples.map((s) => s.lagP99 * 1000);
    const pbxConns = [start, ...samples, end].map((s) => s.pg['pbx'] ?? 0);
    const minutes = (Date.now() - t0) / 60_000;
    const growth = end.rss / start.rss - 1;
    const pct = (a: number, b: number) => `${((b / a - 1) * 100).toFixed(1)} %`;
    const report = [
      `soak: ${CONCURRENT} concurrent calls, hold ${HOLD_MS} ms, warm-up ${WARMUP_S} s, measured ${SECONDS} s (${samples.length} samples, ${missed} missed)`,
      `SIPp: ${counts.placed} placed, ${counts.completed} completed, ${counts.failed} failed (${(counts.completed / minutes).toFixed(0)} calls/min over ${minutes.toFixed(1)} min)`,
      `CDRs: ${records.calls.filter((r) => r.cdrs > 0).length} calls with a CDR; lost ${records.lost.length}, duplicated ${records.duplicated.length}, strays ${records.strays.length}, not one clean queue call ${records.notClean.length}`,
      `after a full GC: RSS start ${mb(start.rss)} MB, end ${mb(end.rss)} MB (${pct(start.rss, end.rss)}); idle before ${mb(idle.rss)} MB, after the load ${mb(drained.rss)} MB`,
      `after a full GC: heap used start ${mb(start.heapUsed)} MB, end ${mb(end.heapUsed)} MB (${pct(start.heapUsed, end.heapUsed)}); idle before ${mb(idle.heapUsed)} MB, after the load ${mb(drained.heapUsed)} MB`,
      `after a full GC: heap total start ${mb(start.heapTotal)} MB, end ${mb(end.heapTotal)} MB; external start ${mb(start.external)} MB, end ${mb(end.external)} MB`,
      `RSS between (no GC): min ${mb(Math.min(...samples.map((s) => s.rss)))} MB, max ${mb(Math.max(...samples.map((s) => s.rss)))} MB`,
      `active handles: idle ${idle.handles}, start ${start.handles}, end ${end.handles}, after the load ${drained.handles}`,
      `event loop p99 lag per ${SAMPLE_MS / 1000}-s window: median ${median(lags).toFixed(1)} ms, max ${Math.max(...lags).toFixed(1)} ms`,
      `Postgres connections (pg_stat_activity): idle ${JSON.stringify(idle.pg)}, start ${JSON.stringify(start.pg)}, end ${JSON.stringify(end.pg)}, pool 'pbx' max seen ${Math.max(...pbxConns)}; after the load ${JSON.stringify(drained.pg)}`,
      `daemon log lines at error level: ${errors.length}`,
      ...errors.slice(0, 10).map((e) => `  ${e}`),
    ];
    say(report.join('\n[soak] '));

    const failed = load.calls.filter((c) => c.outcome === 'failed');
    expect(failed.map((c) => `${c.number}: ${c.code} ${c.output?.slice(-300)}`)).toEqual([]);
    // The load ran: about CONCURRENT calls every hold time (each call also waits for its answer).
    expect(counts.completed).toBeGreaterThan(0.6 * CONCURRENT * ((SECONDS + WARMUP_S) * 1000) / HOLD_MS);
    expect({ lost: records.lost, duplicated: records.duplicated, strays: records.strays }).toEqual({ lost: [], duplicated: [], strays: [] });
    expect(records.notClean.map((n) => records.calls.find((r) => r.number === n))).toEqual([]);
    expect(site!.phonesExited()).toEqual([]);
    expect(growth).toBeLessThan(RSS_GROWTH);
    expect(drained.handles).toBeLessThanOrEqual(Math.max(idle.handles, start.handles) + 5);
    expect(Math.max(...pbxConns)).toBeLessThanOrEqual(10);
    expect(end.pg['pbx-listen']).toBe(start.pg['pbx-listen']);
    expect(Math.max(...lags)).toBeLessThan(1000);
  }, (WARMUP_S + SECONDS + 240) * 1000);
});
