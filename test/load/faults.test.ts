/**
 * Faults under a steady call load (issue #22). The load (test/support/steady-load.ts) keeps
 * CONCURRENT callers on the full path: a carrier's caller -> DID -> queue (recorded: policy
 * `always`) -> an agent's SIPp desk phone answers -> RTP both ways -> the caller hangs up. While
 * it runs, each case breaks one part for OUTAGE_MS, mends it, and checks:
 *   - nothing is lost: every SIPp call placed before the fault, or after service was back, has
 *     exactly one CDR, and a completed one is one clean answered call (CDR and queue events); a
 *     call placed during the outage has at most one, and exactly one if SIPp completed it. No CDR
 *     of these caller numbers that SIPp did not place;
 *   - every recording ends stored (none left `recording`), and a call without one says why in the
 *     log (the disk case);
 *   - agent states match: once the calls are over, every agent is ready again, no call is live,
 *     and the agents' calls handled today add up to the answered CDRs;
 *   - service comes back: ready 200 again and calls answered by agents again; how long that took
 *     after the mend is measured (and written to $TMPDIR/pbx-load-faults.json) for
 *     docs/operations.md#faults-under-load.
 *
 * The machine's Postgres and Redis are shared with other test runs and worlds, so neither server
 * is stopped (test/support/faults.ts):
 *   - Postgres "restarted": the world's database only. Its connections are terminated by the
 *     server (57P01, what a fast shutdown sends every client) and new ones refused (the database's
 *     connection limit 0) until the mend. This cuts Asterisk's realtime (phones, trunks) too, as a
 *     real restart does, which a TCP gate in front of the daemon alone would not.
 *   - Redis "restarted": the daemon reaches Redis through a TCP gate (test/support/tcp-gate.ts)
 *     that is closed (connections dropped, new ones refused) and opened again. Redis keeps its data
 *     here, as a Redis with AOF does after a restart.
 *   - Asterisk: the world's own instance, SIGKILLed, then started as make run starts it.
 *   - The daemon: SIGKILLed, then started again.
 *   - The recordings disk: the daemon and Asterisk record to a small tmpfs of their own, filled to
 *     its last byte while recorded calls run, then emptied.
 */
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { sql } from 'kysely';
import { Daemon, eventually } from '../support/daemon.js';
import { holdFor } from '../support/wait.js';
import { apiClient, startReadyDaemon } from '../support/pbx.js';
import { asteriskInstance } from '../support/asterisk.js';
import { openDb } from '../support/db.js';
import { REDIS_URL } from '../support/env.js';
import { tcpGate } from '../support/tcp-gate.js';
import { killAsterisk, postgresOutage, recordingsDisk } from '../support/faults.js';
import { matchRecords, queueSite, startSteadyLoad, type LoadCall, type QueueSite } from '../support/steady-load.js';

const world = inject('e2e');
/** Calls on the line at once, each talking HOLD_MS: about 1.5 calls start and end per second. */
const CONCURRENT = 6;
const HOLD_MS = 4_000;
/** How long each fault lasts before it is mended. */
const OUTAGE_MS = 5_000;
const PREFIX = '4939800';
const AGENTS = CONCURRENT + 2;

const redisUrl = new URL(REDIS_URL());
const redisGate = tcpGate({ host: redisUrl.hostname, port: Number(redisUrl.port || 6379) });
let disk: Awaited<ReturnType<typeof recordingsDisk>> | undefined;
let recordingsDir = '';
let daemon: Daemon | null = null;
let admin: ReturnType<typeof apiClient>;
let site: QueueSite | undefined;
const db = openDb(world.db);
const figures: Record<string, unknown>[] = [];

const daemonEnv = (): Record<string, string> => ({
  ...world.daemonEnv,
  PBX_REDIS_URL: `redis://127.0.0.1:${redisGate.port}`,
  PBX_RECORDINGS_DIR: recordingsDir,
  PBX_RECORDINGS_DIR_ASTERISK: recordingsDir.slice(recordingsDir.indexOf('/var/lib/pbx-instances/')),
  PBX_RECORDINGS_MIN_FREE_MB: '1',
  // Agents left on a call that ended while no daemon or no Asterisk ran are released within 2 s.
  PBX_ACD_ENDED_CALL_CHECK_SECONDS: '2',
});

async function ready(): Promise<{ status: number; body: { checks?: { recordings?: { ok: boolean } } } } | null> {
  try {
    const res = await fetch(`http://127.0.0.1:${world.daemonEnv['PBX_HTTP_PORT']}/health/ready`, { signal: AbortSignal.timeout(3_000) });
    return { status: res.status, body: (await res.json()) as { checks?: { recordings?: { ok: boolean } } } };
  } catch {
    return null;
  }
}

async function startDaemon(): Promise<Daemon> {
  const started = await startReadyDaemon(daemonEnv());
  admin = started.admin;
  return started.daemon;
}

beforeAll(async () => {
  await redisGate.open();
  const instDir = (await asteriskInstance('path', world.asteriskEnv)).trim();
  recordingsDir = `${instDir}/lib/recordings-faults`;
  disk = await recordingsDisk(recordingsDir, 64);
  daemon = await startDaemon();
  site = await queueSite({
    world, admin, name: 'faults', did: '4930998000', carrierIp: '127.0.0.31',
    firstExtension: 6800, firstAgent: 800, agents: AGENTS, talkMs: HOLD_MS + 5_000,
  });
  const rec = await admin('PATCH', '/api/v1/queues/faults', { recordingPolicy: 'always' });
  expect(rec.status, JSON.stringify(rec.body)).toBe(200);
  await agentsReady();
});

afterAll(async () => {
  for (const f of figures) console.log(JSON.stringify(f));
  await writeFile(path.join(tmpdir(), 'pbx-load-faults.json'), JSON.stringify(figures, null, 2));
  await site?.stop();
  await daemon?.stop();
  await redisGate.close();
  await disk?.remove();
  await db.destroy();
});

interface Agent { number: string; state: string; callsHandledToday: number }

async function agentsLive(): Promise<Agent[]> {
  const res = await admin('GET', '/api/v1/agents/live');
  expect(res.status, JSON.stringify(res.body)).toBe(200);
  return (res.body.items as Agent[]).filter((a) => site!.agents.some((s) => s.number === a.number));
}

async function agentsReady(): Promise<Agent[]> {
  return eventually(async () => {
    const agents = await agentsLive();
    return agents.length === AGENTS && agents.every((a) => a.state === 'ready') ? agents : undefined;
  }, 30_000, 'every agent ready').catch(async (err: Error) => {
    const agents = await agentsLive();
    throw new Error(`${err.message}: ${JSON.stringify(agents.filter((a) => a.state !== 'ready'))}`);
  });
}

interface Fault {
  readonly name: string;
  readonly tag: string;
  cut(): Promise<void>;
  mend(): Promise<void>;
  /** How the fault shows: ready 503 (the default), the recordings check in ready, or nothing to wait for. */
  readonly shows?: 'ready-503' | 'recordings-check' | 'none';
}

interface Run {
  readonly calls: readonly LoadCall[];
  readonly cutAt: number;
  readonly mendAt: number;
  /** When /health/ready said 200 again: calls placed from then on must be served in full. */
  readonly backAt: number;
  readonly figure: Record<string, unknown>;
}

/**
 * The load runs until a few calls are done; the fault is cut, held OUTAGE_MS, mended; the load
 * runs on until calls placed after the mend complete; then it stops and every call has ended.
 */
async function underLoad(f: Fault): Promise<Run> {
  const prefix = `${PREFIX}${f.tag}`;
  const load = await startSteadyLoad(site!, { concurrent: CONCURRENT, holdMs: HOLD_MS, callerPrefix: prefix, callTimeoutMs: HOLD_MS + 45_000 });
  try {
    await eventually(async () => (load.counts().completed >= CONCURRENT ? true : undefined), 60_000, 'the load under way');
    expect(load.counts().failed, 'no call fails before the fault').toBe(0);
    const cutAt = Date.now();
    await f.cut();
    let noticedMs: number | null = null;
    if ((f.shows ?? 'ready-503') !== 'none') {
      const shown = (r: Awaited<ReturnType<typeof ready>>) => (f.shows === 'recordings-check' ? r?.body.checks?.recordings?.ok === false : r?.status === 503);
      await eventually(async () => (shown(await ready()) ? true : undefined), 30_000, `${f.name}: the fault shows in /health/ready`, 50);
      noticedMs = Date.now() - cutAt;
    }
    await holdFor(OUTAGE_MS, 'the outage lasts this long under load');
    const mendAt = Date.now();
    await f.mend();
    await eventually(async () => {
      const r = await ready();
      return r?.status === 200 && r.body.checks?.recordings?.ok !== false ? true : undefined;
    }, 60_000, `${f.name}: ready again`, 50);
    const backAt = Date.now();
    const readyMs = backAt - mendAt;
    // Service is back once calls placed after the mend complete (an agent answered, they talked).
    await eventually(async () => {
      const done = load.calls.filter((c) => c.startedAt >= backAt && c.outcome === 'completed');
      return done.length >= CONCURRENT ? true : undefined;
    }, 90_000, `${f.name}: calls placed once ready complete`);
    const counts = await load.stop();
    // The first agent's answer after the mend, from the CDRs (to the ms; a call placed before the
    // mend that waited it out counts too).
    const firstAnswer = await sql<{ at: Date | null }>`
      select min(answered_at) as at from cdrs where caller_number like ${`${prefix}%`} and answered_at > ${new Date(mendAt)}`.execute(db);
    const answeredMs = firstAnswer.rows[0]?.at ? firstAnswer.rows[0].at.getTime() - mendAt : null;
    const during = load.calls.filter((c) => c.startedAt >= cutAt && c.startedAt < backAt);
    const figure = {
      fault: f.name, noticedMs, outageMs: mendAt - cutAt, readyMs, answeredMs, ...counts,
      failedDuringOutage: during.filter((c) => c.outcome === 'failed').length,
      placedDuringOutage: during.length,
      // What a failed caller saw: SIPp's last lines (its error, e.g. an unexpected response).
      failedSample: load.calls.find((c) => c.outcome === 'failed')?.output?.split('\n').filter((l) => /error|unexpected|timeout|abort|received/i.test(l)).slice(-3),
    };
    figures.push(figure);
    return { calls: load.calls, cutAt, mendAt, backAt, figure };
  } catch (err) {
    await load.stop();
    throw err;
  }
}

/**
 * Nothing lost (the file's header). Calls that ended before the fault, or were placed once service
 * was back, are clean: one ANSWERED CDR and their queue join, answer and end. A call across the
 * fault has exactly one CDR when SIPp completed it (or it was placed before the fault), at most one
 * otherwise; its queue events may miss what happened while Asterisk or the daemon was away
 * (counted in the figures: `queueEventsGaps`). `queueEventsKept`: none may (Postgres down: what
 * the ACD wrote meanwhile waited in memory, docs/queue-events.md#postgres-down; the daemon killed:
 * reconciliation writes what ended while it was away, docs/queue-events.md#after-a-restart), so every
 * answered call has its join, answer and end once each, or its join and abandon (the caller hung
 * up in the queue, before an agent took the call).
 */
async function checkRecords(run: Run, tag: string, o: { allComplete?: boolean; queueEventsKept?: boolean } = {}): Promise<void> {
  const prefix = `${PREFIX}${tag}`;
  const clean = (c: LoadCall) => (c.endedAt ?? Infinity) < run.cutAt || c.startedAt >= run.backAt;
  const needsOne = (c: LoadCall) => clean(c) || c.startedAt < run.cutAt || c.outcome === 'completed';
  // An answered call's events are complete: join, answer, end; or the caller, answered by the queue
  // (music while waiting), hung up before an agent took the call: join, abandon, no answer.
  const complete = (e: Readonly<Record<string, number>>) =>
    e['join'] === 1 && ((e['answer'] === 1 && e['end'] === 1 && !e['abandon']) || (e['abandon'] === 1 && !e['answer'] && !e['end']));
  const gapsOf = (m: Awaited<ReturnType<typeof matchRecords>>) => m.calls.filter((r) => r.dispositions[0] === 'ANSWERED' && !complete(r.events));
  const settled = (m: Awaited<ReturnType<typeof matchRecords>>) => {
    const byNumber = new Map(m.calls.map((r) => [r.number, r]));
    return run.calls.every((c) => (!clean(c) || !m.notClean.includes(c.number)) && (!needsOne(c) || byNumber.get(c.number)!.cdrs === 1)) && (!o.queueEventsKept || gapsOf(m).length === 0);
  };
  // CDRs of calls that ended while Asterisk or the daemon was away come from reconciliation and the
  // unserved-call collector (within 15 s of the daemon's start).
  const m = await eventually(async () => {
    const got = await matchRecords(db, run.calls, prefix);
    return settled(got) ? got : undefined;
  }, 40_000, 'every call has its records').catch(async (err: Error) => {
    const got = await matchRecords(db, run.calls, prefix);
    const detail = got.calls
      .map((r) => ({ r, c: run.calls.find((c) => c.number === r.number)! }))
      .filter(({ r, c }) => (needsOne(c) && r.cdrs !== 1) || (clean(c) && got.notClean.includes(c.number)) || (o.queueEventsKept === true && gapsOf(got).includes(r)))
      .map(({ r, c }) => `${r.number} +${c.startedAt - run.cutAt} ms ${c.outcome} cdrs=${r.cdrs} ${r.dispositions.join(',')} ${JSON.stringify(r.events)} ${c.output?.slice(-200) ?? ''}`);
    throw new Error(`${err.message}\n${detail.join('\n')}`);
  });
  expect(m.duplicated, 'no call has two CDRs').toEqual([]);
  expect(m.strays, 'no CDR SIPp did not place').toEqual([]);
  const byNumber = new Map(m.calls.map((r) => [r.number, r]));
  for (const c of run.calls) {
    if (needsOne(c)) expect(byNumber.get(c.number)!.cdrs, `${c.number} (+${c.startedAt - run.cutAt} ms) has one CDR`).toBe(1);
    if (clean(c)) expect(m.notClean, `${c.number}: one clean answered call`).not.toContain(c.number);
    if (c.startedAt >= run.backAt) expect(c.outcome, `${c.number}, placed once service was back, completed`).toBe('completed');
  }
  if (o.allComplete) expect(run.calls.filter((c) => c.outcome !== 'completed').map((c) => `${c.number}: ${c.output?.slice(-300)}`)).toEqual([]);
  const gaps = gapsOf(m);
  Object.assign(run.figure, { withoutCdr: m.lost.length, queueEventsGaps: gaps.length });
  if (o.queueEventsKept) expect(gaps.map((r) => `${r.number}: ${JSON.stringify(r.events)}`), 'every answered call has its join, answer and end (or abandon) once each').toEqual([]);
}

/** Every recording of these calls ends stored (or compressed); none stays `recording`. */
async function checkRecordings(tag: string): Promise<{ stored: number; unrecorded: number }> {
  const prefix = `${PREFIX}${tag}%`;
  const rows = await eventually(async () => {
    const r = await sql<{ state: string; n: number }>`
      select r.state, count(*)::int as n from recordings r join cdrs c on c.call_id = r.call_id
      where c.caller_number like ${prefix} group by r.state`.execute(db);
    return r.rows.some((x) => x.state === 'recording') ? undefined : r.rows;
  }, 90_000, 'every recording stored').catch(async (err: Error) => {
    const stuck = await sql<{ id: string; last_error: string | null }>`select id, last_error from recordings where state = 'recording'`.execute(db);
    throw new Error(`${err.message}: ${JSON.stringify(stuck.rows)}`);
  });
  const answered = await sql<{ n: number; recorded: number }>`
    select count(*)::int as n, count(*) filter (where exists (select 1 from recordings r where r.call_id = c.call_id))::int as recorded
    from cdrs c where c.caller_number like ${prefix} and c.agent is not null`.execute(db);
  const stored = rows.reduce((n, r) => n + r.n, 0);
  return { stored, unrecorded: answered.rows[0]!.n - answered.rows[0]!.recorded };
}

/** Agent states match: all ready, no live call of the load, and calls handled add up to the answered CDRs. */
async function checkAgents(): Promise<void> {
  await eventually(async () => {
    const res = await admin('GET', '/api/v1/calls/live');
    return (res.body.items as { callerNumber: string | null }[]).some((c) => c.callerNumber?.startsWith(PREFIX)) ? undefined : true;
  }, 30_000, 'no call of the load live');
  const agents = await agentsReady();
  const answered = await sql<{ n: number }>`select count(*)::int as n from cdrs where caller_number like ${`${PREFIX}%`} and agent is not null`.execute(db);
  expect(agents.reduce((n, a) => n + a.callsHandledToday, 0), 'calls handled today = answered CDRs').toBe(answered.rows[0]!.n);
  expect(site!.phonesExited(), 'every desk phone still runs').toEqual([]);
}

describe('faults under a steady call load', () => {
  it('Postgres restarted: calls in progress go on; new calls are refused while it is down; none lost; back at once', async () => {
    let mend: (() => Promise<void>) | null = null;
    const run = await underLoad({
      name: 'postgres', tag: '1',
      cut: async () => {
        mend = (await postgresOutage(world.db)).restore;
      },
      mend: () => mend!(),
    });
    await checkRecords(run, '1', { queueEventsKept: true });
    await checkRecordings('1');
    await checkAgents();
  });

  it('Redis restarted: callers notice nothing; recordings are stored (compressed later); ready 503 meanwhile', async () => {
    const run = await underLoad({ name: 'redis', tag: '2', cut: () => redisGate.close(), mend: () => redisGate.open() });
    await checkRecords(run, '2', { allComplete: true });
    await checkRecordings('2');
    await checkAgents();
  });

  it('Asterisk killed (-9) and started: its calls drop, each keeps one CDR; calls come back once it is up', async () => {
    const run = await underLoad({
      name: 'asterisk', tag: '3',
      cut: async () => void (await killAsterisk(world.asteriskEnv)),
      mend: async () => void (await asteriskInstance('start', world.asteriskEnv)),
    });
    await checkRecords(run, '3');
    await checkRecordings('3');
    await checkAgents();
  });

  it('the daemon killed (-9) and started: calls go on and are adopted; callers meanwhile hear the fallback; none lost', async () => {
    const run = await underLoad({
      name: 'daemon', tag: '4', shows: 'none',
      cut: async () => {
        await daemon!.kill();
        daemon = null;
      },
      mend: async () => {
        daemon = await startDaemon();
      },
    });
    // A caller who left while the daemon was away gets their abandon from reconciliation (docs/queue-events.md#after-a-restart).
    await checkRecords(run, '4', { queueEventsKept: true });
    await checkRecordings('4');
    await checkAgents();
  });

  it('the recordings disk full: calls go on; recordings cut by it are stored once there is room, the others say why', async () => {
    const logsFrom = daemon!.logs.length;
    const run = await underLoad({ name: 'recordings disk full', tag: '5', shows: 'recordings-check', cut: () => disk!.fill(), mend: () => disk!.free() });
    await checkRecords(run, '5', { allComplete: true });
    const { stored, unrecorded } = await checkRecordings('5');
    // A call the full disk kept from being recorded says so in the log, once per call.
    const notStarted = daemon!.logs.slice(logsFrom).filter((l) => l.msg === 'recording not started: the recordings disk is below its free-space threshold (PBX_RECORDINGS_MIN_FREE_MB); the call goes on');
    expect(notStarted.length, 'each call without a recording is logged').toBe(unrecorded);
    const retried = daemon!.logs.slice(logsFrom).filter((l) => l.msg === 'recording not finished; trying again later');
    Object.assign(run.figure, { stored, unrecorded, mergeRetries: retried.length });
    await checkAgents();
  });
});
