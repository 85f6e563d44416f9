/**
 * Event fan-out latency (issue #20: the event stream's p99 within 2x of Asterisk's own AMI event
 * delivery): CLIENTS clients of each kind on the same machine, one event at a time, the time from
 * the bench sending what causes the event to its arrival at each client.
 *
 * - ours: CLIENTS Server-Sent Events clients of the built daemon (GET /api/v1/events, filtered to
 *   one agent's agent.state); the cause is a supervisor's state change through the API
 *   (POST /api/v1/agents/:number/state, ready <-> paused), so our figure includes the HTTP request,
 *   the state machine and its Postgres transaction before the event is published. Also reported:
 *   the event's own time (`at`, set by the daemon when the change is made) to arrival, with the
 *   millisecond resolution of that field.
 * - baseline: CLIENTS AMI sessions of the same Asterisk (a bench manager user with read=user and
 *   an eventfilter for UserEvent, as the daemon's own user filters ContactStatus); the cause is a
 *   UserEvent action sent over one more AMI session. Asterisk only relays it: nothing is stored.
 *
 * Both kinds of client are raw sockets in this process, parsed the same way (split on the blank
 * line). Rounds alternate (AMI event, then ours) so that both see the same machine load; each
 * round waits until every client has the event.
 *
 *   make bench-events     (or: npm run build && npx tsx bench/events-fanout.ts [rounds] [clients])
 */
import { request as httpRequest } from 'node:http';
import { connect, type Socket } from 'node:net';
import { appendFile } from 'node:fs/promises';
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import { openDb } from '../test/support/db.js';
import { asteriskInstance } from '../test/support/asterisk.js';
import { createWorld, secret } from '../test/support/world.js';
import { eventually, withTimeout } from '../test/support/daemon.js';
import { startReadyDaemon } from '../test/support/pbx.js';
import { cliToken } from '../test/support/api.js';
import { applyAgentEvent, findAgentByNumber } from '../src/acd/call-repository.js';

const ROUNDS = Number(process.argv[2] ?? 300);
const CLIENTS = Number(process.argv[3] ?? 100);
const WARMUP = 20;
const AGENT = '7100';
const BENCH_AMI_USER = 'pbxbench';

/** A client of either kind: when each of its events arrived (performance.now(), and the wall clock). */
interface Receiver {
  readonly arrivals: number[];
  readonly wall: number[];
  readonly at: number[];
  readonly socket: Socket;
}

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

function sseClient(port: string, token: string): Promise<Receiver> {
  return new Promise((resolve, reject) => {
    const req = httpRequest({ host: '127.0.0.1', port, path: `/api/v1/events?types=agent.state&agent=${AGENT}`, headers: { authorization: `Bearer ${token}` }, agent: false }, (res) => {
      if (res.statusCode !== 200) return reject(new Error(`event stream answered ${res.statusCode}`));
      const r: Receiver = { arrivals: [], wall: [], at: [], socket: res.socket };
      let opened = false;
      res.setEncoding('utf8');
      let buffer = '';
      res.on('data', (chunk: string) => {
        const now = performance.now();
        const wall = Date.now();
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
          if (!data || !block.includes('event: agent.state')) continue;
          r.arrivals.push(now);
          r.wall.push(wall);
          r.at.push(Date.parse((JSON.parse(data.slice(6)) as { at: string }).at));
        }
      });
    });
    req.on('error', reject);
    req.end();
  });
}

// ---- baseline: AMI sessions of the same Asterisk

async function amiSession(port: number, password: string, events: boolean): Promise<{ socket: Socket; blocks: (fn: (b: string) => void) => void }> {
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
  socket.write(`Action: Login\r\nUsername: ${BENCH_AMI_USER}\r\nSecret: ${password}\r\nEvents: ${events ? 'on' : 'off'}\r\n\r\n`);
  if (!(await withTimeout(login, 10_000, 'AMI login'))) throw new Error('AMI login refused');
  return { socket, blocks: (fn) => handlers.push(fn) };
}

async function amiClient(port: number, password: string): Promise<Receiver> {
  const s = await amiSession(port, password, true);
  const r: Receiver = { arrivals: [], wall: [], at: [], socket: s.socket };
  s.blocks((block) => {
    if (block.includes('Event: UserEvent') && block.includes('UserEvent: PbxBench')) r.arrivals.push(performance.now());
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

async function main(): Promise<void> {
  const world = await createWorld('bench', { PBX_LOG_LEVEL: 'warn' });
  const { daemon, admin } = await startReadyDaemon(world.daemonEnv);
  const receivers: Receiver[] = [];
  let sender: Socket | null = null;
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
    await appendFile(path.join(dir, 'etc/manager.conf'), `\n[${BENCH_AMI_USER}]\nsecret=${amiPassword}\ndeny=0.0.0.0/0.0.0.0\npermit=127.0.0.1/255.255.255.255\nwritetimeout=1000\nread=user\nwrite=user\neventfilter=Event: UserEvent\n`);
    await asteriskInstance('rx', world.asteriskEnv, 'manager reload');
    const amiPort = Number(world.asteriskEnv['PBX_AMI_PORT']);

    const ours: Receiver[] = [];
    for (let i = 0; i < CLIENTS; i += 20) ours.push(...(await Promise.all(Array.from({ length: Math.min(20, CLIENTS - i) }, () => sseClient(world.daemonEnv['PBX_HTTP_PORT']!, token)))));
    const ami: Receiver[] = [];
    // One login at a time: manager.conf's authlimit caps the sessions not yet logged in.
    for (let i = 0; i < CLIENTS; i++) ami.push(await amiClient(amiPort, amiPassword));
    receivers.push(...ours, ...ami);
    const send = await amiSession(amiPort, amiPassword, false);
    sender = send.socket;
    process.stderr.write(`[bench] ${CLIENTS} SSE clients and ${CLIENTS} AMI sessions connected; ${WARMUP} warm-up + ${ROUNDS} rounds\n`);

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

    const after = (receivers_: Receiver[], sent: number[]) => receivers_.flatMap((r) => r.arrivals.slice(WARMUP).map((t, i) => t - sent[WARMUP + i]!));
    const base = stats(after(ami, amiSent));
    const stream = stats(after(ours, oursSent));
    const fromAt = stats(ours.flatMap((r) => r.wall.slice(WARMUP).map((w, i) => w - r.at[WARMUP + i]!)));
    const row = (name: string, s: Stats) => `| ${name} | ${s.n} | ${s.p50.toFixed(2)} | ${s.p90.toFixed(2)} | ${s.p99.toFixed(2)} | ${s.max.toFixed(2)} |`;
    console.log(`\nEvent fan-out to ${CLIENTS} clients, ${ROUNDS} events (+${WARMUP} warm-up), cause sent -> arrival at each client (ms), ${new Date().toISOString()}\n`);
    console.log('| delivery | samples | p50 | p90 | p99 | max |');
    console.log('|---|---|---|---|---|---|');
    console.log(row('Asterisk AMI: UserEvent action -> each AMI session (baseline)', base));
    console.log(row('pbx: API state change -> each SSE client', stream));
    console.log(row('pbx: event time (`at`, ms resolution) -> each SSE client', fromAt));
    console.log(row('(pbx: the API state change answered, per event)', stats(apiAnswered.slice(WARMUP))));
    console.log(`\nratio pbx/AMI: p50 ${(stream.p50 / base.p50).toFixed(2)}x, p90 ${(stream.p90 / base.p90).toFixed(2)}x, p99 ${(stream.p99 / base.p99).toFixed(2)}x\n`);
  } finally {
    for (const r of receivers) r.socket.destroy();
    sender?.destroy();
    await daemon.stop().catch(() => undefined);
    await world.teardown();
  }
}

main().catch((err: unknown) => {
  console.error(err);
  process.exit(1);
});
