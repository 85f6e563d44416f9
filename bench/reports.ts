/**
 * Reports over a year of history (issue #17, docs/benchmarks.md#reports): a fresh database gets
 * SCALE x 10 million CDRs over the last 365 days, their queue_events and the agents' state log
 * (30 queues, 200 agents; the model is test/support/history.ts), made in SQL with generate_series
 * (each table's time is reported). Then, through the real HTTP routes of an in-process daemon:
 *
 *   (a) a day by 15 minutes, one queue: GET /reports/queues?interval=15m
 *   (b) a month by day, one agent:      GET /reports/agents?interval=day
 *   (c) the same two questions as plain SQL aggregates over the raw events (the baseline)
 *   (d) the live figures:               GET /reports/queues/live
 *   (f) the floor under every HTTP figure: GET /cdrs?limit=1 (server, auth, JSON)
 *   (e) the CSV export of the newest min(1M, all) CDRs (GET /cdrs?format=csv): time, rows/s and the
 *       daemon's RSS growth (the daemon runs in this process; the body is counted, not kept)
 *
 * each REPS times (a supervisor's token: agent reports need that role) over different days / months / queues / agents, p50 and p99 in ms, and the ratio
 * to the baseline. Routes that are not there (404) are skipped and said so.
 *
 *   make bench-reports                        (SCALE=0.1 REPS=50 for a quick run)
 *   npx tsx bench/reports.ts --scale 0.1 --reps 50 [--keep]
 */
import { sql } from 'kysely';
import type { AddressInfo } from 'node:net';
import { createApp } from '../src/app.js';
import { AuthService, CLI_ACTOR } from '../src/auth/service.js';
import { createLogger } from '../src/logger.js';
import { appConfig } from '../test/support/app-config.js';
import { createTestDatabase, dropTestDatabase, openDb } from '../test/support/db.js';
import { baseDbSettings, runId } from '../test/support/env.js';
import { generateCdrs, generateQueueHistory, type CdrHistory } from '../test/support/history.js';

const arg = (name: string, fallback: string): string => {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 && process.argv[i + 1] ? process.argv[i + 1]! : fallback;
};
const SCALE = Number(arg('scale', '1'));
const REPS = Number(arg('reps', '50'));
const KEEP = process.argv.includes('--keep');
const TZ = 'Europe/Berlin';
const CDRS = Math.round(10_000_000 * SCALE);
const EXPORT_ROWS = Math.min(1_000_000, CDRS);
const DAY_MS = 86_400_000;

interface Stats { n: number; p50: number; p99: number; max: number }

function stats(samples: number[]): Stats {
  const s = [...samples].sort((a, b) => a - b);
  const q = (p: number) => s[Math.min(s.length - 1, Math.ceil(p * s.length) - 1)] ?? Number.NaN;
  return { n: s.length, p50: q(0.5), p99: q(0.99), max: s[s.length - 1] ?? Number.NaN };
}

const fmt = (s: Stats) => `p50 ${s.p50.toFixed(1)} ms  p99 ${s.p99.toFixed(1)} ms  (n ${s.n}, max ${s.max.toFixed(1)})`;

async function timed<T>(what: string, fn: () => Promise<T>): Promise<T> {
  const t0 = performance.now();
  const v = await fn();
  console.log(`[gen] ${what}: ${((performance.now() - t0) / 1000).toFixed(1)} s`);
  return v;
}

/** A local date (YYYY-MM-DD) in TZ, days before today. */
const localDay = (daysAgo: number): string => new Date(Date.now() - daysAgo * DAY_MS).toLocaleDateString('sv-SE', { timeZone: TZ });
const nextDay = (day: string): string => new Date(Date.parse(`${day}T12:00:00Z`) + DAY_MS).toISOString().slice(0, 10);

async function main(): Promise<void> {
  const dbSettings = { ...baseDbSettings(), name: `pbx_bench_reports_${runId()}` };
  const redisPrefix = `pbx-bench-reports-${runId()}`;
  console.log(`[bench-reports] scale ${SCALE}: ${CDRS} CDRs over 365 days, 30 queues, 200 agents, ${REPS} reps; database ${dbSettings.name}`);
  await createTestDatabase(dbSettings);
  const db = openDb(dbSettings);
  const now = Date.now();
  const history: CdrHistory = { rows: CDRS, from: new Date(now - 365 * DAY_MS), stepMs: (365 * DAY_MS) / CDRS, prefix: 'b-' };
  const t0 = performance.now();
  await timed(`${CDRS} CDRs`, () => generateCdrs(db, history));
  await timed('queues, agents, queue_events and agent_state_log', () => generateQueueHistory(db, history));
  const counts = await sql<{ t: string; n: string; bytes: string }>`
    SELECT relname AS t, n_live_tup AS n, pg_total_relation_size(relid) AS bytes FROM pg_stat_user_tables
    WHERE relname IN ('cdrs', 'queue_events', 'agent_state_log') ORDER BY relname`.execute(db);
  console.log(`[gen] total ${((performance.now() - t0) / 1000).toFixed(1)} s; ${counts.rows.map((r) => `${r.t} ${r.n} rows ${(Number(r.bytes) / 2 ** 30).toFixed(2)} GiB`).join(', ')}`);

  const config = appConfig(dbSettings, redisPrefix, { PBX_TIMEZONE: TZ, PBX_LOG_LEVEL: 'error' });
  const app = await createApp(config, createLogger(config.log.level));
  await app.start();
  const base = `http://127.0.0.1:${(app.http.server.address() as AddressInfo).port}/api/v1`;
  const token = (await new AuthService(app.db).createToken(CLI_ACTOR, { username: 'bench', name: 'bench', ttlDays: 1, ensureRole: 'supervisor' })).token;
  const headers = { authorization: `Bearer ${token}` };
  const results: string[] = [];
  const report = (line: string) => {
    results.push(line);
    console.log(line);
  };

  try {
    /** ms per GET (body read), or null when the route is not there. */
    const getMs = async (path: string): Promise<number | null> => {
      const t = performance.now();
      const res = await fetch(`${base}${path}`, { headers });
      const body = await res.text();
      const ms = performance.now() - t;
      if (res.status === 404 && body.includes('"route-not-found"')) return null;
      if (res.status !== 200) throw new Error(`GET ${path}: ${res.status} ${body.slice(0, 300)}`);
      return ms;
    };
    const sqlMs = async (q: ReturnType<typeof sql>): Promise<number> => {
      const t = performance.now();
      await q.execute(db);
      return performance.now() - t;
    };
    const cases = Array.from({ length: REPS }, (_, i) => ({
      day: localDay(1 + ((i * 7) % 360)),
      month: localDay(35 + ((i * 31) % 320)).slice(0, 7),
      queue: 1 + (i % 30),
      agent: 1 + ((i * 13) % 200),
    }));

    // (a) and (c): a day by 15 minutes, one queue
    const dayOurs: number[] = [];
    const dayBase: number[] = [];
    for (const c of cases) {
      const ms = await getMs(`/reports/queues?from=${c.day}&to=${nextDay(c.day)}&interval=15m&queue=q${c.queue}&tz=${TZ}`);
      if (ms === null) break;
      dayOurs.push(ms);
    }
    for (const c of cases) dayBase.push(await sqlMs(queueDayBaseline(c.queue, c.day)));
    const dayB = stats(dayBase);
    report(`(c) baseline SQL, queue day by 15 min: ${fmt(dayB)}`);
    if (dayOurs.length) {
      const a = stats(dayOurs);
      report(`(a) GET /reports/queues day by 15m:    ${fmt(a)}  ratio to baseline p50 ${(a.p50 / dayB.p50).toFixed(2)} p99 ${(a.p99 / dayB.p99).toFixed(2)}`);
    } else report('(a) GET /reports/queues: not there (404), skipped');

    // (b) and (c): a month by day, one agent
    const monthOurs: number[] = [];
    const monthBase: number[] = [];
    for (const c of cases) {
      const ms = await getMs(`/reports/agents?from=${c.month}-01&to=${nextMonth(c.month)}-01&interval=day&agent=${2000 + c.agent}&tz=${TZ}`);
      if (ms === null) break;
      monthOurs.push(ms);
    }
    for (const c of cases) monthBase.push(await sqlMs(agentMonthBaseline(c.agent, c.month)));
    const monthB = stats(monthBase);
    report(`(c) baseline SQL, agent month by day:   ${fmt(monthB)}`);
    if (monthOurs.length) {
      const b = stats(monthOurs);
      report(`(b) GET /reports/agents month by day:  ${fmt(b)}  ratio to baseline p50 ${(b.p50 / monthB.p50).toFixed(2)} p99 ${(b.p99 / monthB.p99).toFixed(2)}`);
    } else report('(b) GET /reports/agents: not there (404), skipped');

    // (d) live figures
    const live: number[] = [];
    for (const c of cases) {
      const ms = await getMs(`/reports/queues/live?queue=q${c.queue}`);
      if (ms === null) break;
      live.push(ms);
    }
    const liveBase: number[] = [];
    for (const c of cases) liveBase.push(await sqlMs(liveBaseline(c.queue)));
    const lb = stats(liveBase);
    report(`(c) baseline SQL, live (today, 60m, 15m): ${fmt(lb)}`);
    if (live.length) {
      const d = stats(live);
      report(`(d) GET /reports/queues/live:          ${fmt(d)}  ratio to baseline p50 ${(d.p50 / lb.p50).toFixed(2)} p99 ${(d.p99 / lb.p99).toFixed(2)}`);
    } else report('(d) GET /reports/queues/live: not there (404), skipped');

    // the floor under every HTTP figure: a one-row list through the same server, auth and JSON
    const floor: number[] = [];
    for (let i = 0; i < REPS; i++) floor.push((await getMs('/cdrs?limit=1'))!);
    report(`(f) HTTP floor, GET /cdrs?limit=1:     ${fmt(stats(floor))}`);

    // (e) CSV export of the newest EXPORT_ROWS CDRs
    const from = new Date(history.from.getTime() + (CDRS - EXPORT_ROWS) * history.stepMs).toISOString();
    const e = await exportCsv(`${base}/cdrs?format=csv&from=${from}`, headers);
    report(`(e) CSV export: ${e.rows} rows (${(e.bytes / 2 ** 20).toFixed(0)} MiB) in ${e.seconds.toFixed(1)} s = ${Math.round(e.rows / e.seconds)} rows/s; first byte ${e.firstByteMs.toFixed(0)} ms; RSS growth max ${(e.rssGrowth / 2 ** 20).toFixed(1)} MiB`);
    if (e.rows !== EXPORT_ROWS) throw new Error(`CSV export: ${e.rows} rows, expected ${EXPORT_ROWS}`);
  } finally {
    await app.stop();
    await db.destroy();
    if (KEEP) console.log(`[bench-reports] kept database ${dbSettings.name}`);
    else await dropTestDatabase(dbSettings);
  }
  console.log(`\n[bench-reports] summary (scale ${SCALE}, ${CDRS} CDRs, load ${(await import('node:os')).loadavg().map((l) => l.toFixed(1)).join(' ')}):\n${results.join('\n')}`);
}

const nextMonth = (month: string): string => {
  const [y, m] = month.split('-').map(Number) as [number, number];
  return m === 12 ? `${y + 1}-01` : `${y}-${String(m + 1).padStart(2, '0')}`;
};

/**
 * The baseline for (a): one queue's day by 15 minutes straight from queue_events, bucketed by the
 * event's own time (date_bin from the local midnight): offered, answered, abandoned and short,
 * answered within 20 s, ASA, max wait, AHT and its parts.
 */
function queueDayBaseline(queue: number, day: string) {
  return sql`
    SELECT date_bin('15 minutes', at, (${day}::date::timestamp AT TIME ZONE ${TZ})) AS slot,
      count(*) FILTER (WHERE type = 'join') AS offered,
      count(*) FILTER (WHERE type = 'answer') AS answered,
      count(*) FILTER (WHERE type = 'abandon' AND wait_ms >= 5000) AS abandoned,
      count(*) FILTER (WHERE type = 'abandon' AND wait_ms < 5000) AS short_abandoned,
      count(*) FILTER (WHERE type = 'answer' AND wait_ms <= 20000) AS within_sl,
      avg(wait_ms) FILTER (WHERE type = 'answer') AS asa_ms,
      max(wait_ms) AS max_wait_ms,
      avg(talk_ms + hold_ms + wrap_up_ms) FILTER (WHERE type = 'end') AS aht_ms,
      avg(talk_ms) FILTER (WHERE type = 'end') AS talk_ms,
      avg(hold_ms) FILTER (WHERE type = 'end') AS hold_ms,
      avg(wrap_up_ms) FILTER (WHERE type = 'end') AS wrap_ms
    FROM queue_events
    WHERE queue_id = ${queue} AND at >= (${day}::date::timestamp AT TIME ZONE ${TZ}) AND at < (${nextDay(day)}::date::timestamp AT TIME ZONE ${TZ})
    GROUP BY 1 ORDER BY 1`;
}

/**
 * The baseline for (b): one agent's month by local day: time in each state from the state log
 * (each state until the next change, counted on the day it began), and answered, missed, AHT from
 * queue_events.
 */
function agentMonthBaseline(agent: number, month: string) {
  const from = sql`(${`${month}-01`}::date::timestamp AT TIME ZONE ${TZ})`;
  const to = sql`(${`${nextMonth(month)}-01`}::date::timestamp AT TIME ZONE ${TZ})`;
  return sql`
    WITH states AS (
      SELECT to_state, at, lead(at, 1, least(now(), ${to})) OVER (ORDER BY at, id) - at AS lasted
      FROM agent_state_log WHERE agent_id = ${agent} AND at >= ${from} AND at < ${to}
    ), s AS (
      SELECT date_trunc('day', at AT TIME ZONE ${TZ}) AS day,
        sum(lasted) FILTER (WHERE to_state <> 'logged-out') AS logged_in,
        sum(lasted) FILTER (WHERE to_state = 'ready') AS ready,
        sum(lasted) FILTER (WHERE to_state = 'on-call') AS on_call,
        sum(lasted) FILTER (WHERE to_state = 'wrap-up') AS wrap_up,
        sum(lasted) FILTER (WHERE to_state = 'paused') AS paused
      FROM states GROUP BY 1
    ), e AS (
      SELECT date_trunc('day', at AT TIME ZONE ${TZ}) AS day,
        count(*) FILTER (WHERE type = 'answer') AS answered,
        count(*) FILTER (WHERE type = 'ring-no-answer') AS missed,
        avg(talk_ms + hold_ms + wrap_up_ms) FILTER (WHERE type = 'end') AS aht_ms
      FROM queue_events WHERE agent_id = ${agent} AND at >= ${from} AND at < ${to}
      GROUP BY 1
    )
    SELECT * FROM s FULL JOIN e USING (day) ORDER BY day`;
}

/**
 * The baseline for (d): one queue's offered / answered / abandoned / within SL / ASA for today,
 * the last 60 and the last 15 minutes, in one index range scan from the earliest of the three.
 */
function liveBaseline(queue: number) {
  const today = sql`(date_trunc('day', now() AT TIME ZONE ${TZ}) AT TIME ZONE ${TZ})`;
  const windows = [['today', today], ['last-60m', sql`now() - interval '60 minutes'`], ['last-15m', sql`now() - interval '15 minutes'`]] as const;
  const figures = windows.map(([name, since]) => sql`
      count(*) FILTER (WHERE type = 'join' AND at >= ${since}) AS ${sql.ref(`${name}_offered`)},
      count(*) FILTER (WHERE type = 'answer' AND at >= ${since}) AS ${sql.ref(`${name}_answered`)},
      count(*) FILTER (WHERE type = 'abandon' AND at >= ${since}) AS ${sql.ref(`${name}_abandoned`)},
      count(*) FILTER (WHERE type = 'answer' AND wait_ms <= 20000 AND at >= ${since}) AS ${sql.ref(`${name}_within_sl`)},
      avg(wait_ms) FILTER (WHERE type = 'answer' AND at >= ${since}) AS ${sql.ref(`${name}_asa_ms`)}`);
  return sql`
    SELECT ${sql.join(figures)}
    FROM queue_events WHERE queue_id = ${queue} AND at >= least(${today}, now() - interval '60 minutes')`;
}

/** GET a CSV over the socket, counting rows and bytes without keeping them; RSS sampled every 50 ms and per chunk. */
async function exportCsv(url: string, headers: Record<string, string>) {
  const rss0 = process.memoryUsage().rss;
  let rssMax = rss0;
  const sample = () => void (rssMax = Math.max(rssMax, process.memoryUsage().rss));
  const timer = setInterval(sample, 50);
  const t = performance.now();
  const res = await fetch(url, { headers });
  if (res.status !== 200 || !res.body) throw new Error(`CSV export: ${res.status}`);
  let firstByteMs = 0;
  let bytes = 0;
  let lines = 0;
  for await (const chunk of res.body as unknown as AsyncIterable<Uint8Array>) {
    if (bytes === 0) firstByteMs = performance.now() - t;
    bytes += chunk.length;
    for (let i = chunk.indexOf(10); i !== -1; i = chunk.indexOf(10, i + 1)) lines++;
    sample();
  }
  clearInterval(timer);
  return { rows: lines - 1, bytes, seconds: (performance.now() - t) / 1000, firstByteMs, rssGrowth: rssMax - rss0 };
}

main().catch((err: unknown) => {
  console.error(err);
  process.exit(1);
});
