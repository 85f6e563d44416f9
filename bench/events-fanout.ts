/**
 * Event fan-out latency (issue #20: the event stream's p99 within 2x of Asterisk's own AMI event
 * delivery, 100 clients, under a call load): CLIENTS clients of each kind on the same machine,
 * while a steady call load runs through a queue (test/support/steady-load.ts: LOAD_CALLS SIPp
 * callers at once from a carrier trunk, each talking HOLD_MS, answered by SIPp desk phones of
 * logged-in agents). Two measures, taken at the same time under the same load:
 *
 * A. One event at a time, the time from the bench sending what causes it to its arrival at each
 *    client (rounds alternate, AMI then ours, each waiting until every client has it):
 *    - ours: a supervisor's state change through the API (POST /api/v1/agents/:number/state,
 *      ready <-> paused) -> the agent.state event at each SSE client; so our figure includes the
 *      HTTP request, the state machine and its Postgres transaction before the event is published.
 *      Also reported: the event's own time (`at`, ms resolution) to arrival.
 *    - baseline: a UserEvent action over one more AMI session -> each AMI session. Asterisk only
 *      relays it: nothing is stored.
 * B. The load's own calls, one cause both paths see: Asterisk creating the caller's channel. From
 *    that moment (the Timestamp of Asterisk's Newchannel event, microseconds, the same clock) to:
 *    - baseline: the Newchannel event (Uniqueid) at each AMI session;
 *    - ours: call.started (callId = the channel's Uniqueid) and queue.joined at each SSE client:
 *      the dialplan's way to Stasis(), ARI's StasisStart, the daemon's live-call row (Postgres)
 *      and the fan-out. One more AMI session (its own user, dialplan events, filtered to the
 *      Stasis() application's Newexten) stamps when each channel's dialplan reached Stasis(), to
 *      split our time into Asterisk's part before StasisStart and the daemon's after it.
 *
 * The SSE clients take the whole stream (no filter: every event of the load, about 9 per call);
 * the AMI sessions take UserEvent and the call events of a comparable count per call (Newchannel,
 * Newstate, Hangup, BridgeEnter, BridgeLeave), by eventfilter. Both kinds of client are raw sockets
 * in this process, parsed the same way (split on the blank line).
 *
 *   make bench-events     (or: npm run build && npx tsx bench/events-fanout.ts [rounds] [clients] [load calls] [hold ms] [calls measured])
 */
import { request as httpRequest } from 'node:http';
import { connect, type Socket } from 'node:net';
import { appendFile } from 'node:fs/promises';
import { loadavg } from 'node:os';
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import { openDb } from '../test/support/db.js';
import { asteriskInstance } from '../test/support/asterisk.js';
import { createWorld, secret } from '../test/support/world.js';
import { eventually, withTimeout } from '../test/support/daemon.js';
import { startReadyDaemon } from '../test/support/pbx.js';
import { cliToken } from '../test/support/api.js';
import { queueSite, startSteadyLoad, type QueueSite, type SteadyLoad } from '../test/support/steady-load.js';
import { applyAgentEvent, findAgentByNumber } from '../src/acd/call-repository.js';

const ROUNDS = Number(process.argv[2] ?? 300);
const CLIENTS = Number(process.argv[3] ?? 100);
const LOAD_CALLS = Number(process.argv[4] ?? 10);
const HOLD_MS = Number(process.argv[5] ?? 5000);
/** Measure B: at least this many of the load's calls (after the warm-up). */
const CALLS_MEASURED = Number(process.argv[6] ?? 150);
const WARMUP = 20;
const AGENT = '7100';
const BENCH_AMI_USER = 'pbxbench';
/** One more AMI user, one session: when each channel reaches Stasis() in the dialplan (Newexten), to split our time. */
const STASIS_AMI_USER = 'pbxbenchstasis';
/** The call load's site: its own numbers in the bench's throwaway world. */
const LOAD = { name: 'fanout', did: '4930555100', carrierIp: '127.0.0.31', firstExtension: 7300, firstAgent: 7200, callerPrefix: '4930556' };

/** Wall-clock milliseconds with the sub-millisecond part (Asterisk's Timestamp has microseconds). */
const epochNow = (): number => performance.timeOrigin + performance.now();

/** A client of either kind: when each of its events arrived. */
interface Receiver {
  readonly socket: Socket;
  /** A: the bench's own event, performance.now(); for SSE also the wall clock and the event's `at`. */
  readonly arrivals: number[];
  readonly wall: number[];
  readonly at: number[];
  /** B: per channel (Uniqueid = callId) and event, the wall-clock arrival (epochNow). */
  readonly calls: Map<string, number>;
  readonly joined: Map<string, number>;
}

const receiver = (socket: Socket): Receiver => ({ socket, arrivals: [], wall: [], at: [], calls: new Map(), joined: new Map() });

/** Splits a byte stream into blocks at the blank line (`\n\n` for SSE, `\r\n\r\n` for AMI). */
function onBlocks(socket: Socket, separator: string, fn: (block: string) => void): void {
  let buffer = '';
  socket.setEncoding('utf8');
  socket.on('data', (chunk: string) => {
    buffer += chunk;
    let cut: number;
    while ((cut = buffer.indexOf(separator)) >= 0) {
      const block = buffer.slice(0, cut);
      buffer = buffer.slice(cut + separator.length);
      fn(block);
    }
  });
}

// ---- ours: SSE clients of the daemon

/** The daemon's time of each call's call.started (`at`), from the first client that has it. */
const startedAt = new Map<string, number>();

function sseClient(port: string, token: string): Promise<Receiver> {
  return new Promise((resolve, reject) => {
    const req = httpRequest({ host: '127.0.0.1', port, path: '/api/v1/events', headers: { authorization: `Bearer ${token}` }, agent: false }, (res) => {
      if (res.statusCode !== 200) return reject(new Error(`event stream answered ${res.statusCode}`));
      const r = receiver(res.socket);
      let opened = false;
      res.setEncoding('utf8');
      let buffer = '';
      res.on('data', (chunk: string) => {
        const now = performance.now();
        const wall = Date.now();
        const epoch = epochNow();
        if (!opened) {
          opened = true;
          resolve(r);
        }
        buffer += chunk;
        let cut: number;
        while ((cut = buffer.indexOf('\n\n')) >= 0) {
          const block = buffer.slice(0, cut);
          buffer = buffer.slice(cut + 2);
          const data = block.split('\n').find((l) => l.startsWith('data: '));
          if (!data) continue;
          const event = JSON.parse(data.slice(6)) as { type: string; at: string; agent?: string; callId?: string };
          if (event.type === 'agent.state' && event.agent === AGENT) {
            r.arrivals.push(now);
            r.wall.push(wall);
            r.at.push(Date.parse(event.at));
          } else if (event.type === 'call.started' && event.callId) {
            r.calls.set(event.callId, epoch);
            if (!startedAt.has(event.callId)) startedAt.set(event.callId, Date.parse(event.at));
          } else if (event.type === 'queue.joined' && event.callId) r.joined.set(event.callId, epoch);
        }
      });
    });
    req.on('error', reject);
    req.end();
  });
}

// ---- baseline: AMI sessions of the same Asterisk

async function amiSession(port: number, password: string, events: boolean, user = BENCH_AMI_USER): Promise<{ socket: Socket; blocks: (fn: (b: string) => void) => void }> {
  const socket = connect(port, '127.0.0.1');
  socket.setNoDelay(true);
  const handlers: ((b: string) => void)[] = [];
  let loggedIn: (ok: boolean) => void = () => undefined;
  const login = new Promise<boolean>((r) => (loggedIn = r));
  let banner = true;
  onBlocks(socket, '\r\n\r\n', (block) => {
    if (banner) {
      banner = false;
      block = block.replace(/^Asterisk Call Manager[^\r]*\r\n/, '');
    }
    if (block.includes('Response: Success') && block.includes('Authentication accepted')) loggedIn(true);
    else if (block.includes('Response: Error')) loggedIn(false);
    for (const h of handlers) h(block);
  });
  await new Promise<void>((resolve, reject) => socket.once('connect', resolve).once('error', reject));
  socket.write(`Action: Login\r\nUsername: ${user}\r\nSecret: ${password}\r\nEvents: ${events ? 'on' : 'off'}\r\n\r\n`);
  if (!(await withTimeout(login, 10_000, 'AMI login'))) throw new Error('AMI login refused');
  return { socket, blocks: (fn) => handlers.push(fn) };
}

/** Each channel's creation time as Asterisk stamped its Newchannel event (ms since the epoch). */
const channelCreated = new Map<string, number>();
/** When each channel's dialplan ran Stasis() (Newexten's Timestamp): StasisStart goes to the daemon next. */
const stasisReached = new Map<string, number>();

const header = (block: string, name: string): string | undefined => new RegExp(`(?:^|\\r\\n)${name}: ([^\\r]*)`).exec(block)?.[1];

async function amiClient(port: number, password: string): Promise<Receiver> {
  const s = await amiSession(port, password, true);
  const r = receiver(s.socket);
  s.blocks((block) => {
    if (block.startsWith('Event: UserEvent') && block.includes('UserEvent: PbxBench')) r.arrivals.push(performance.now());
    else if (block.startsWith('Event: Newchannel')) {
      const epoch = epochNow();
      const id = header(block, 'Uniqueid');
      const stamp = header(block, 'Timestamp');
      if (!id || !stamp) return;
      r.calls.set(id, epoch);
      if (!channelCreated.has(id)) channelCreated.set(id, Number(stamp) * 1000);
    }
  });
  return r;
}

// ---- figures

interface Stats { n: number; p50: number; p90: number; p99: number; max: number }

function stats(samples: number[]): Stats {
  const s = [...samples].sort((a, b) => a - b);
  const q = (p: number) => s[Math.min(s.length - 1, Math.floor(p * s.length))] ?? NaN;
  return { n: s.length, p50: q(0.5), p90: q(0.9), p99: q(0.99), max: s[s.length - 1] ?? NaN };
}

async function allHave(receivers: readonly Receiver[], count: number, what: string): Promise<void> {
  await eventually(async () => (receivers.every((r) => r.arrivals.length >= count) ? true : undefined), 10_000, what, 1);
}

const row = (name: string, s: Stats) => `| ${name} | ${s.n} | ${s.p50.toFixed(2)} | ${s.p90.toFixed(2)} | ${s.p99.toFixed(2)} | ${s.max.toFixed(2)} |`;
const ratio = (ours: Stats, base: Stats) => `p50 ${(ours.p50 / base.p50).toFixed(2)}x, p90 ${(ours.p90 / base.p90).toFixed(2)}x, p99 ${(ours.p99 / base.p99).toFixed(2)}x`;
const load1 = () => loadavg().map((l) => l.toFixed(2)).join(' ');

async function main(): Promise<void> {
  const world = await createWorld('bench', { PBX_LOG_LEVEL: 'warn' });
  const { daemon, admin } = await startReadyDaemon(world.daemonEnv);
  const receivers: Receiver[] = [];
  let sender: Socket | null = null;
  let stasisSession: Socket | null = null;
  let site: QueueSite | null = null;
  let load: SteadyLoad | null = null;
  try {
    // The agent, logged in as its phone's *91 dialogue would (the API does not log agents in).
    const created = await admin('POST', '/api/v1/agents', { number: AGENT, name: 'Bench Agent', pin: '4826' });
    if (created.status !== 201) throw new Error(`agent not created: ${created.status} ${JSON.stringify(created.body)}`);
    const conn = openDb(world.db);
    const agent = await findAgentByNumber(conn, AGENT);
    const applied = await applyAgentEvent(conn, agent!.id, { type: 'login' });
    await conn.destroy();
    if (!applied?.ok) throw new Error('agent not logged in');
    const reasons = await admin('GET', '/api/v1/pause-reasons');
    const pauseCode = (reasons.body.items as { code: number }[]).find((r) => r.code >= 1)!.code;
    const token = await cliToken(world.daemonEnv, 'supervisor');

    // The bench's own AMI user, appended to the world's rendered manager.conf and reloaded.
    const amiPassword = secret();
    const dir = (await asteriskInstance('path', world.asteriskEnv)).trim();
    const filters = ['UserEvent', 'Newchannel', 'Newstate', 'Hangup', 'BridgeEnter', 'BridgeLeave'].map((e) => `eventfilter=Event: ${e}\n`).join('');
    const user = (name: string, read: string, filter: string) =>
      `\n[${name}]\nsecret=${amiPassword}\ndeny=0.0.0.0/0.0.0.0\npermit=127.0.0.1/255.255.255.255\nwritetimeout=1000\nread=${read}\nwrite=user\n${filter}`;
    await appendFile(path.join(dir, 'etc/manager.conf'), user(BENCH_AMI_USER, 'user,call', filters) + user(STASIS_AMI_USER, 'dialplan', 'eventfilter=Application: Stasis\n'));
    await asteriskInstance('rx', world.asteriskEnv, 'manager reload');
    const amiPort = Number(world.asteriskEnv['PBX_AMI_PORT']);

    // The call load's site: trunk, queue, LOAD_CALLS agents at registered SIPp desk phones.
    site = await queueSite({ world, admin, ...LOAD, agents: LOAD_CALLS, talkMs: HOLD_MS + 5_000 });

    const ours: Receiver[] = [];
    for (let i = 0; i < CLIENTS; i += 20) ours.push(...(await Promise.all(Array.from({ length: Math.min(20, CLIENTS - i) }, () => sseClient(world.daemonEnv['PBX_HTTP_PORT']!, token)))));
    const ami: Receiver[] = [];
    // One login at a time: manager.conf's authlimit caps the sessions not yet logged in.
    for (let i = 0; i < CLIENTS; i++) ami.push(await amiClient(amiPort, amiPassword));
    receivers.push(...ours, ...ami);
    const send = await amiSession(amiPort, amiPassword, false);
    sender = send.socket;
    const stasis = await amiSession(amiPort, amiPassword, true, STASIS_AMI_USER);
    stasisSession = stasis.socket;
    stasis.blocks((block) => {
      const id = header(block, 'Uniqueid');
      const stamp = header(block, 'Timestamp');
      if (block.startsWith('Event: Newexten') && id && stamp && !stasisReached.has(id)) stasisReached.set(id, Number(stamp) * 1000);
    });

    // The load ramps up over one hold time (its slots start spread over it), then runs on.
    load = await startSteadyLoad(site, { concurrent: LOAD_CALLS, holdMs: HOLD_MS, callerPrefix: LOAD.callerPrefix });
    await eventually(async () => (load!.counts().completed >= LOAD_CALLS ? true : undefined), HOLD_MS * 4 + 30_000, 'the call load ramped up', 100);
    const warmCalls = new Set(startedAt.keys());
    const loadBefore = load1();
    const t0 = performance.now();
    const countsBefore = load.counts();
    process.stderr.write(`[bench] ${CLIENTS} SSE clients and ${CLIENTS} AMI sessions connected; call load ${LOAD_CALLS} at once, hold ${HOLD_MS} ms; ${WARMUP} warm-up + ${ROUNDS} rounds, then until ${CALLS_MEASURED} calls; load average ${loadBefore}\n`);

    const oursSent: number[] = [];
    const amiSent: number[] = [];
    /** The state change's own round trip (its answer, not the event): where our time goes. */
    const apiAnswered: number[] = [];
    let state: 'paused' | 'ready' = 'ready';
    for (let k = 0; k < WARMUP + ROUNDS; k++) {
      amiSent.push(performance.now());
      sender.write(`Action: UserEvent\r\nUserEvent: PbxBench\r\nSeq: ${k}\r\n\r\n`);
      await allHave(ami, k + 1, `AMI round ${k}`);

      state = state === 'ready' ? 'paused' : 'ready';
      oursSent.push(performance.now());
      const res = await admin('POST', `/api/v1/agents/${AGENT}/state`, state === 'paused' ? { state, pauseCode } : { state });
      apiAnswered.push(performance.now() - oursSent[k]!);
      if (res.status !== 200) throw new Error(`state change answered ${res.status}: ${JSON.stringify(res.body)}`);
      await allHave(ours, k + 1, `stream round ${k}`);
    }
    // B: the load's calls since the warm-up, every one seen by every client of both kinds.
    const measured = () => [...startedAt.keys()].filter((id) => !warmCalls.has(id) && channelCreated.has(id) && receivers.every((r) => r.calls.has(id)) && ours.every((r) => r.joined.has(id)));
    await eventually(async () => (measured().length >= CALLS_MEASURED ? true : undefined), (CALLS_MEASURED * HOLD_MS) / LOAD_CALLS * 3 + 60_000, `${CALLS_MEASURED} calls measured`, 250);
    const seconds = (performance.now() - t0) / 1000;
    const countsAfter = load.counts();
    const loadAfter = load1();
    const calls = measured();
    const counts = await load.stop();

    const afterA = (rs: Receiver[], sent: number[]) => rs.flatMap((r) => r.arrivals.slice(WARMUP).map((t, i) => t - sent[WARMUP + i]!));
    const base = stats(afterA(ami, amiSent));
    const stream = stats(afterA(ours, oursSent));
    const fromAt = stats(ours.flatMap((r) => r.wall.slice(WARMUP).map((w, i) => w - r.at[WARMUP + i]!)));
    const afterB = (rs: Receiver[], pick: (r: Receiver) => Map<string, number>) => rs.flatMap((r) => calls.map((id) => pick(r).get(id)! - channelCreated.get(id)!));
    const newchannel = stats(afterB(ami, (r) => r.calls));
    const started = stats(afterB(ours, (r) => r.calls));
    const joined = stats(afterB(ours, (r) => r.joined));
    const published = stats(calls.map((id) => startedAt.get(id)! - channelCreated.get(id)!));
    const withStasis = calls.filter((id) => stasisReached.has(id));
    const toStasis = stats(withStasis.map((id) => stasisReached.get(id)! - channelCreated.get(id)!));
    const stasisToPublished = stats(withStasis.map((id) => startedAt.get(id)! - stasisReached.get(id)!));
    const startedFanout = stats(ours.flatMap((r) => calls.map((id) => r.calls.get(id)! - startedAt.get(id)!)));

    const placed = countsAfter.placed - countsBefore.placed;
    console.log(`\nEvent fan-out to ${CLIENTS} clients of each kind, ${new Date().toISOString()}, under a call load: ${LOAD_CALLS} calls at once through a queue (hold ${HOLD_MS} ms), ${placed} calls placed in ${seconds.toFixed(0)} s (${(placed / seconds).toFixed(2)} calls/s; whole run: ${counts.completed} completed, ${counts.failed} failed); load average ${loadBefore} before, ${loadAfter} after\n`);
    console.log(`A. ${ROUNDS} events (+${WARMUP} warm-up), one at a time: cause sent -> arrival at each client (ms)\n`);
    console.log('| delivery | samples | p50 | p90 | p99 | max |');
    console.log('|---|---|---|---|---|---|');
    console.log(row('Asterisk AMI: UserEvent action -> each AMI session (baseline)', base));
    console.log(row('pbx: API state change -> agent.state at each SSE client', stream));
    console.log(row('pbx: event time (`at`, ms resolution) -> each SSE client', fromAt));
    console.log(row('(pbx: the API state change answered, per event)', stats(apiAnswered.slice(WARMUP))));
    console.log(`\nratio pbx/AMI: ${ratio(stream, base)}\n`);
    console.log(`B. ${calls.length} calls of the load: Asterisk creates the caller's channel (Newchannel's Timestamp) -> arrival at each client (ms)\n`);
    console.log('| delivery | samples | p50 | p90 | p99 | max |');
    console.log('|---|---|---|---|---|---|');
    console.log(row('Asterisk AMI: Newchannel -> each AMI session (baseline)', newchannel));
    console.log(row('pbx: call.started -> each SSE client', started));
    console.log(row('pbx: queue.joined -> each SSE client', joined));
    console.log(row('(pbx: call.started published: its `at`, ms resolution, per call)', published));
    console.log(row('(of which: the dialplan reaches Stasis(), Newexten\'s Timestamp, per call)', toStasis));
    console.log(row('(of which: Stasis() -> call.started published: ARI StasisStart, the daemon, the live row INSERT)', stasisToPublished));
    console.log(row('(pbx: call.started `at` -> each SSE client)', startedFanout));
    console.log(`\nratio pbx call.started/AMI Newchannel: ${ratio(started, newchannel)}\n`);
  } finally {
    await load?.stop().catch(() => undefined);
    for (const r of receivers) r.socket.destroy();
    sender?.destroy();
    stasisSession?.destroy();
    await site?.stop().catch(() => undefined);
    await daemon.stop().catch(() => undefined);
    await world.teardown();
  }
}

main().catch((err: unknown) => {
  console.error(err);
  process.exit(1);
});
