/**
 * A steady call load on the full inbound path, for the soak and the faults under load (issue #22):
 *
 *   carrier (SIPp, IP-identified trunk) -> DID -> queue -> an agent's desk phone (SIPp UAS,
 *   registered, logged in) answers -> both sides send RTP -> the caller hangs up after holdMs
 *
 * queueSite() makes the site through the API (trunk, queue with wrap-up 0, agents, extensions,
 * route), registers one SIPp desk phone per agent and logs the agents in; startSteadyLoad() then
 * keeps `concurrent` callers on the line, each a SIPp process of its own (one call, -m 1), a new
 * one as soon as one ends, until stop(). Every call has its own caller number (callerPrefix + a
 * 6-digit serial): the CDR's caller number and the queue's `join` event carry it, so
 * matchRecords() pairs every SIPp call with exactly one CDR and one set of queue events.
 *
 * The numbers given (DID, carrier IP, extensions, agents, callerPrefix) must be unique across the
 * test files that share the world's database (test/load runs its files one after another in one
 * world).
 */
import { spawn } from 'node:child_process';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { sql } from 'kysely';
import { applyAgentEvent, findAgentByNumber } from '../../src/acd/call-repository.js';
import type { Db } from '../../src/db/database.js';
import { carrierTrunks, strict } from '../../bench/support/calls.js';
import { REPO } from './asterisk.js';
import { openDb } from './db.js';
import type { DbSettings } from './env.js';
import { createScriptedExtension, type apiClient } from './pbx.js';
import { freePort } from './ports.js';
import { writePhoneRtpPcap } from './rtp-pcap.js';
import { ulawEncode } from './rtp.js';
import { registerPhone } from './sipp.js';

type Admin = ReturnType<typeof apiClient>;

export interface QueueSiteOptions {
  /** The world: its SIP port and database. */
  readonly world: { readonly sipPort: number; readonly db: DbSettings };
  /** An admin API client of the running daemon. */
  readonly admin: Admin;
  /** The queue's name; the trunk is `<name>-carrier`. */
  readonly name: string;
  readonly did: string;
  /** The carrier's source address (127.0.0.x, unique per file). */
  readonly carrierIp: string;
  /** Agent desk phones get extensions firstExtension, +1, ... */
  readonly firstExtension: number;
  /** Agents are numbered firstAgent, +1, ... */
  readonly firstAgent: number;
  /** How many agents (and desk phones): one call each at a time. */
  readonly agents: number;
  /** A phone rings this long before it answers (default 100). */
  readonly answerMs?: number;
  /** Length of the RTP each side sends (default 60 s; a call longer than that goes on silent). */
  readonly talkMs?: number;
}

export interface SiteAgent {
  readonly number: string;
  readonly extension: string;
  readonly port: number;
}

export interface QueueSite {
  readonly name: string;
  readonly did: string;
  readonly carrierIp: string;
  readonly sipPort: number;
  readonly agents: readonly SiteAgent[];
  /** Where the scenarios, talk.pcap and the SIPp error files are. */
  readonly workDir: string;
  /** Desk phone SIPps that have exited (each should run until stop()). */
  phonesExited(): { extension: string; code: number | null }[];
  /** Kills the desk phones and removes the work folder (kept when PBX_LOAD_KEEP is set). */
  stop(): Promise<void>;
}

/** The site: trunk, queue, agents logged in at registered SIPp desk phones waiting for call after call. */
export async function queueSite(o: QueueSiteOptions): Promise<QueueSite> {
  const ok = strict(o.admin);
  const workDir = await mkdtemp(path.join(tmpdir(), `pbx-load-${o.name}-`));
  await writePhoneRtpPcap(path.join(workDir, 'talk.pcap'), tone(440), [{ audioMs: o.talkMs ?? 60_000 }]);
  const agentXml = path.join(workDir, 'load-agent.xml');
  await writeFile(agentXml, await readFile(path.join(REPO, 'test/e2e/sipp/load-agent.xml')));

  const conn = openDb(o.world.db);
  const phones: { extension: string; proc: ReturnType<typeof spawn>; code?: number | null }[] = [];
  try {
    await carrierTrunks(o.admin, conn, [{ name: `${o.name}-carrier`, host: o.carrierIp }]);
    await ok('POST', '/api/v1/queues', { name: o.name, strategy: 'longest-idle', ringTimeoutSeconds: 15, wrapUpSeconds: 0, announceSeconds: 0, joinEmpty: true, leaveWhenEmpty: false });
    const agents: SiteAgent[] = [];
    for (let i = 0; i < o.agents; i++) {
      const extension = String(o.firstExtension + i);
      const number = String(o.firstAgent + i);
      const password = await createScriptedExtension(o.admin, o.world.db, { number: extension, displayName: `Load Desk ${extension}` });
      // A soak outlasts Asterisk's default maximum registration (7200 s).
      await sql`update ps_aors set maximum_expiration = 86400 where id = ${extension}`.execute(conn);
      const port = await freePort(true);
      const reg = await registerPhone({ sipPort: o.world.sipPort, ext: extension, password, port, expires: 86400 });
      if (reg.code !== 0) throw new Error(`desk phone ${extension} did not register: ${reg.output}`);
      const proc = spawn('sipp', [
        '-sf', agentXml, '-p', String(port), '-mp', String(await freePort(true)), '-i', '127.0.0.1',
        '-m', '10000000', '-set', 'answer_ms', String(o.answerMs ?? 100), '-nostdin',
        '-trace_err', '-error_file', path.join(workDir, `phone-${extension}.err`),
      ], { cwd: workDir, stdio: 'ignore' });
      const phone: (typeof phones)[number] = { extension, proc };
      proc.once('exit', (code) => (phone.code = code));
      phones.push(phone);
      await ok('POST', '/api/v1/agents', { number, name: `Load Agent ${number}`, pin: '4816' });
      await ok('PUT', `/api/v1/queues/${o.name}/members`, { agent: number, penalty: 0 });
      // Logged in at the phone as the *91 dialogue stores it (a PIN dialogue per agent would take
      // minutes); the daemon hears of it by NOTIFY (a trigger on agents).
      const agent = await findAgentByNumber(conn, number);
      const applied = agent && (await applyAgentEvent(conn, agent.id, { type: 'login' }, { fields: { extension } }));
      if (!applied?.ok) throw new Error(`agent ${number} not logged in`);
      agents.push({ number, extension, port });
    }
    await ok('POST', '/api/v1/inbound-routes', { name: `${o.name} line`, didPattern: o.did, target: { kind: 'queue', queue: o.name } });
    return {
      name: o.name, did: o.did, carrierIp: o.carrierIp, sipPort: o.world.sipPort, agents, workDir,
      phonesExited: () => phones.flatMap((p) => (p.code === undefined ? [] : [{ extension: p.extension, code: p.code }])),
      stop: async () => {
        for (const p of phones) if (p.code === undefined) p.proc.kill('SIGKILL');
        if (!process.env['PBX_LOAD_KEEP']) await rm(workDir, { recursive: true, force: true });
      },
    };
  } catch (err) {
    for (const p of phones) p.proc.kill('SIGKILL');
    throw err;
  } finally {
    await conn.destroy();
  }
}

/** One second of a sine at `hz`, u-law (looped by writePhoneRtpPcap). */
function tone(hz: number): Buffer {
  const out = Buffer.alloc(8000);
  for (let i = 0; i < out.length; i++) out[i] = ulawEncode(Math.round(8000 * Math.sin((2 * Math.PI * hz * i) / 8000)));
  return out;
}

export interface LoadCall {
  /** The caller number: the call's identity in the CDR (callerNumber) and the queue's join event. */
  readonly number: string;
  readonly startedAt: number;
  endedAt?: number;
  outcome: 'in-progress' | 'completed' | 'failed';
  /** SIPp's exit code (0: the call went through the whole scenario). */
  code?: number | null;
  /** The end of SIPp's output, for a failed call. */
  output?: string;
}

export interface LoadCounts {
  readonly placed: number;
  readonly completed: number;
  readonly failed: number;
  readonly inProgress: number;
}

export interface SteadyLoadOptions {
  /** Calls on the line at once. */
  readonly concurrent: number;
  /** Each caller talks this long after the 200 OK, then hangs up. */
  readonly holdMs: number;
  /** Caller numbers are callerPrefix + a 6-digit serial: unique per file in the world's database. */
  readonly callerPrefix: string;
  /** SIPp's limit for one call (default holdMs + 60 s): past it the call fails. */
  readonly callTimeoutMs?: number;
  /** After a failed call its slot waits this long before the next one (default 1000), so an outage is not a storm. */
  readonly afterFailureMs?: number;
}

/** SIPp's exit code when it cannot bind one of its sockets (EXIT_BIND_ERROR, -2). */
const BIND_ERROR = 254;

export interface SteadyLoad {
  /** Every call placed so far, in order; entries change as calls end. */
  readonly calls: readonly LoadCall[];
  counts(): LoadCounts;
  /** Stop placing calls; resolves once every call in progress has ended. */
  stop(): Promise<LoadCounts>;
}

/**
 * Keeps `concurrent` calls from the site's carrier to its DID until stop(). The slots start
 * spread over one hold time, so calls begin and end at a steady rate (about concurrent / holdMs).
 */
export async function startSteadyLoad(site: QueueSite, o: SteadyLoadOptions): Promise<SteadyLoad> {
  const callerXml = path.join(site.workDir, `load-caller-${o.callerPrefix}.xml`);
  const xml = await readFile(path.join(REPO, 'test/e2e/sipp/load-caller.xml'), 'utf8');
  await writeFile(callerXml, xml.replaceAll('HOLD_MS', String(Math.round(o.holdMs))));
  const calls: LoadCall[] = [];
  let serial = 0;
  let stopping = false;
  const wake = new Set<() => void>();
  const sleep = (ms: number) => new Promise<void>((resolve) => {
    const done = () => {
      clearTimeout(timer);
      wake.delete(done);
      resolve();
    };
    const timer = setTimeout(done, ms);
    wake.add(done);
  });

  /** SIPp for the call from fresh ports: exit code and the end of its output. */
  const sipp = async (call: LoadCall) => {
    const args = [
      `127.0.0.1:${site.sipPort}`, '-sf', callerXml, '-s', site.did, '-key', 'num', call.number,
      '-i', site.carrierIp, '-p', String(await freePort(true)), '-mp', String(await freePort(true)),
      '-m', '1', '-l', '1', '-timeout', `${Math.ceil((o.callTimeoutMs ?? o.holdMs + 60_000) / 1000)}s`, '-timeout_error', '-nostdin',
    ];
    return new Promise<{ code: number | null; output: string }>((resolve) => {
      const proc = spawn('sipp', args, { cwd: site.workDir, stdio: ['ignore', 'pipe', 'pipe'] });
      let out = '';
      const keep = (c: Buffer) => (out = (out + c.toString()).slice(-4000));
      proc.stdout.on('data', keep);
      proc.stderr.on('data', keep);
      proc.once('exit', (c) => resolve({ code: c, output: out }));
    });
  };

  const oneCall = async (): Promise<LoadCall> => {
    const call: LoadCall = { number: `${o.callerPrefix}${String(++serial).padStart(6, '0')}`, startedAt: Date.now(), outcome: 'in-progress' };
    calls.push(call);
    let { code, output } = await sipp(call);
    // 254 (-2): SIPp could not bind a port at start-up, before any call: its media port's
    // neighbours (RTCP, video: +1..+3) are not checked by freePort, and another SIPp may hold one.
    // Nothing was sent, so the same call (same number) goes again from other ports.
    for (let retry = 0; code === BIND_ERROR && retry < 5; retry++) ({ code, output } = await sipp(call));
    call.endedAt = Date.now();
    call.code = code;
    call.outcome = code === 0 ? 'completed' : 'failed';
    if (code !== 0) call.output = output;
    return call;
  };

  const slot = async (i: number) => {
    await sleep((o.holdMs * i) / o.concurrent);
    while (!stopping) {
      const call = await oneCall();
      if (call.outcome === 'failed' && !stopping) await sleep(o.afterFailureMs ?? 1000);
    }
  };
  const slots = Array.from({ length: o.concurrent }, (_, i) => slot(i));
  const counts = (): LoadCounts => {
    let completed = 0;
    let failed = 0;
    for (const c of calls) {
      if (c.outcome === 'completed') completed++;
      else if (c.outcome === 'failed') failed++;
    }
    return { placed: calls.length, completed, failed, inProgress: calls.length - completed - failed };
  };
  return {
    calls,
    counts,
    stop: async () => {
      stopping = true;
      for (const w of [...wake]) w();
      await Promise.all(slots);
      return counts();
    },
  };
}

/** What the database holds for one SIPp call. */
export interface CallRecords {
  readonly number: string;
  readonly outcome: LoadCall['outcome'];
  /** CDRs with this caller number, and their dispositions. */
  readonly cdrs: number;
  readonly dispositions: readonly string[];
  /** The call's queue events by type (the call found by its `join` event's caller number). */
  readonly events: Readonly<Record<string, number>>;
}

export interface RecordMatch {
  readonly calls: readonly CallRecords[];
  /** SIPp calls without a CDR. */
  readonly lost: readonly string[];
  /** SIPp calls with more than one CDR. */
  readonly duplicated: readonly string[];
  /** CDRs (or queue joins) with a caller number of this prefix that no SIPp call had. */
  readonly strays: readonly string[];
  /** Completed calls whose record is not one answered call: one CDR ANSWERED, queue events join, answer and end once each, no abandon. */
  readonly notClean: readonly string[];
}

/** Pairs every call with its CDRs and queue events (by caller number; all numbers start with `callerPrefix`). */
export async function matchRecords(db: Db, calls: readonly LoadCall[], callerPrefix: string): Promise<RecordMatch> {
  const like = `${callerPrefix}%`;
  const cdrRows = await sql<{ caller_number: string; disposition: string }>`
    select caller_number, disposition from cdrs where caller_number like ${like}`.execute(db);
  const eventRows = await sql<{ caller_number: string; type: string; n: number }>`
    select j.caller_number, e.type, count(*)::int as n
    from queue_events j join queue_events e on e.call_id = j.call_id
    where j.type = 'join' and j.caller_number like ${like}
    group by j.caller_number, e.type`.execute(db);
  const cdrs = new Map<string, string[]>();
  for (const r of cdrRows.rows) cdrs.set(r.caller_number, [...(cdrs.get(r.caller_number) ?? []), r.disposition]);
  const events = new Map<string, Record<string, number>>();
  for (const r of eventRows.rows) events.set(r.caller_number, { ...events.get(r.caller_number), [r.type]: r.n });
  const known = new Set(calls.map((c) => c.number));
  const out: CallRecords[] = calls.map((c) => {
    const d = cdrs.get(c.number) ?? [];
    return { number: c.number, outcome: c.outcome, cdrs: d.length, dispositions: d, events: events.get(c.number) ?? {} };
  });
  const clean = (r: CallRecords) =>
    r.cdrs === 1 && r.dispositions[0] === 'ANSWERED' && r.events['join'] === 1 && r.events['answer'] === 1 && r.events['end'] === 1 && !r.events['abandon'];
  return {
    calls: out,
    lost: out.filter((r) => r.cdrs === 0).map((r) => r.number),
    duplicated: out.filter((r) => r.cdrs > 1).map((r) => r.number),
    strays: [...new Set([...cdrs.keys(), ...events.keys()])].filter((n) => !known.has(n)),
    notClean: out.filter((r) => r.outcome === 'completed' && !clean(r)).map((r) => r.number),
  };
}

/**
 * matchRecords until nothing is lost and every completed call is clean (CDRs and queue events are
 * written just after the hang-up), or `timeoutMs`; the last match either way.
 */
export async function waitForRecords(db: Db, calls: readonly LoadCall[], callerPrefix: string, timeoutMs = 30_000): Promise<RecordMatch> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const m = await matchRecords(db, calls, callerPrefix);
    if ((m.lost.length === 0 && m.notClean.length === 0) || Date.now() > deadline) return m;
    await new Promise((r) => setTimeout(r, 500));
  }
}
