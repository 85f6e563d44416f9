/**
 * Queue to agent latency: the time from a caller joining a queue to the chosen agent's phone
 * receiving the INVITE, for the daemon's ACD (src/acd/) against Asterisk's own app_queue on the
 * same Asterisk instance, same machine, same desk phones.
 *
 *   app_queue (baseline)  a carrier trunk on 127.0.0.6 whose endpoint context is [pbx-bench-queue]
 *                         (asterisk/extensions.conf): Answer(), Queue(pbx-bench-queue)
 *                         (asterisk/queues.conf: leastrecent, ringinuse=no, wrapuptime=0); the
 *                         phones are added as members at run time (`queue add member`).
 *   ARI floor             a carrier trunk on 127.0.0.7 whose context is [pbx-bench-ari-floor]:
 *                         Stasis() into a bare app (bench/support/ari-floor.ts) that originates
 *                         the next phone at once: no decision, no database. The least any ACD
 *                         over ARI can take on this machine; ours minus this is our ACD's cost.
 *   ours                  a carrier trunk on 127.0.0.5 (context pbx-inbound, as made by the API),
 *                         a DID routed to a queue made through the API (longest-idle, wrap-up 0,
 *                         no announcements), its agents logged in at the same phones.
 *
 * Calls go one at a time; before each, every agent/member must be idle again. The caller
 * (bench/sipp/queue-caller.xml) logs the wall-clock times its INVITE went out and its 200 OK arrived, sends
 * RTP at once (a pcap written here: the dialplan's Answer() waits up to 500 ms for the caller's
 * first media frame before Queue() runs; ARI's answer does not wait), stays HOLD_MS and hangs up;
 * the phones (bench/sipp/queue-agent.xml) log the wall-clock time each INVITE arrives and answer
 * after ANSWER_MS. All SIPps run on this machine, so the two clocks are one; the pair is matched by
 * the caller number (unique per call) in the phone's INVITE. Two figures: from the caller's 200 OK
 * (in the queue) and from the caller's INVITE (end to end: what a caller waits for in all). Our
 * daemon answers a caller it can offer at once only after it has rung the agent's phone, so its
 * 200 OK figure is about zero or negative (the phone rings first), while app_queue's Queue()
 * starts after Answer(): compare the end-to-end figure, which does not depend on that order.
 * The first WARMUP calls of each side are not counted. For ours, the
 * daemon's own log (level info, its default) splits the end-to-end time.
 *
 * Then the busy queue, app_queue against ours (the floor has no queue): the same phones now hang
 * up by themselves BUSY_TALK_MS after answering (bench/sipp/queue-agent-hangup.xml, which logs
 * when), and BUSY_CALLS callers arrive BUSY_GAP_MS apart, more than the agents can take, so
 * callers wait (bench/sipp/queue-waiting-caller.xml: on the line until the agent hangs up). Two
 * figures: each caller's INVITE to their agent's phone ringing (the wait for a free agent
 * included), and the pickup: an agent hangs up while callers wait -> the next INVITE at that
 * agent's phone. app_queue is set to its quickest (queues.conf: retry=1, the least it takes).
 *
 *   make bench-queue   (or: npx tsc -p tsconfig.build.json && npx tsx bench/acd-vs-app-queue.ts [calls] [agents] [busy callers])
 */
import { copyFile, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { sql } from 'kysely';
import { openDb } from '../test/support/db.js';
import { REPO, asteriskInstance } from '../test/support/asterisk.js';
import { freePort } from '../test/support/ports.js';
import { createWorld } from '../test/support/world.js';
import { eventually, type LogLine } from '../test/support/daemon.js';
import { registerPhone } from '../test/support/sipp.js';
import { createScriptedExtension, startReadyDaemon } from '../test/support/pbx.js';
import { applyAgentEvent, findAgentByNumber } from '../src/acd/call-repository.js';
import { startAriFloor, type AriFloor } from './support/ari-floor.js';
import { cpuMs } from './support/cpu.js';
import { carrierTrunks, sipp, strict } from './support/calls.js';

const CALLS = Number(process.argv[2] ?? 50);
const AGENTS = Number(process.argv[3] ?? 2);
/** The busy queue: this many callers, BUSY_GAP_MS apart, for AGENTS agents who talk BUSY_TALK_MS (queue-agent-hangup.xml). */
const BUSY_CALLS = Number(process.argv[4] ?? 24);
const BUSY_GAP_MS = 100;
const BUSY_TALK_MS = 400;
const WARMUP = 3;
const HOLD_MS = 500;
const ANSWER_MS = 50;
const DID = '4930555100';
const OURS_IP = '127.0.0.5';
const BASE_IP = '127.0.0.6';
const FLOOR_IP = '127.0.0.7';
const FLOOR_APP = 'pbx-bench-floor';
const QUEUE = 'pbx-bench-queue';

interface Stats { n: number; failed: number; p50: number; p95: number; p99: number; max: number; mean: number }

/** One bench call: wall-clock ms when the caller sent its INVITE, got its 200 OK, and when a phone got the INVITE. */
interface Call { num: string; counted: boolean; invited: number | undefined; answered: number | undefined; invite: number | undefined }

const quantile = (sorted: number[], p: number) => sorted[Math.min(sorted.length - 1, Math.floor(p * sorted.length))] ?? NaN;

/** `from`: the caller's 200 OK (answered, in the queue) or its own INVITE (dialed: end to end). */
function stats(calls: Call[], from: 'answered' | 'invited'): Stats {
  const counted = calls.filter((c) => c.counted);
  const s = counted.flatMap((c) => (c[from] !== undefined && c.invite !== undefined ? [c.invite - c[from]] : []));
  return { ...summary(s), failed: counted.length - s.length };
}

function summary(xs: number[]): Stats {
  const s = [...xs].sort((a, b) => a - b);
  const q = (p: number) => quantile(s, p);
  return { n: s.length, failed: 0, p50: q(0.5), p95: q(0.95), p99: q(0.99), max: s[s.length - 1] ?? NaN, mean: s.reduce((a, b) => a + b, 0) / s.length };
}

/**
 * A pcap of `packets` RTP packets, 20 ms of mu-law silence each (PT 0), for SIPp's play_pcap_audio:
 * it sends them from the caller's media port (the address in its SDP), the first one at once.
 */
function ulawPcap(packets: number): Buffer {
  const parts: Buffer[] = [];
  const global = Buffer.alloc(24);
  global.writeUInt32LE(0xa1b2c3d4, 0);
  global.writeUInt16LE(2, 4);
  global.writeUInt16LE(4, 6);
  global.writeUInt32LE(65535, 16);
  global.writeUInt32LE(1, 20); // Ethernet
  parts.push(global);
  for (let i = 0; i < packets; i++) {
    const rtp = Buffer.alloc(12 + 160, 0xff);
    rtp.writeUInt8(0x80, 0);
    rtp.writeUInt8(i === 0 ? 0x80 : 0x00, 1); // marker on the first packet, PT 0 (PCMU)
    rtp.writeUInt16BE(i, 2);
    rtp.writeUInt32BE(i * 160, 4);
    rtp.writeUInt32BE(0x62656e63, 8);
    const udp = Buffer.alloc(8);
    udp.writeUInt16BE(6000, 0);
    udp.writeUInt16BE(6000, 2);
    udp.writeUInt16BE(8 + rtp.length, 4);
    const ip = Buffer.from([0x45, 0, 0, 0, 0, 0, 0x40, 0, 64, 17, 0, 0, 127, 0, 0, 1, 127, 0, 0, 1]);
    ip.writeUInt16BE(20 + 8 + rtp.length, 2);
    const eth = Buffer.from([0, 0, 0, 0, 0, 1, 0, 0, 0, 0, 0, 2, 0x08, 0x00]);
    const frame = Buffer.concat([eth, ip, udp, rtp]);
    const rec = Buffer.alloc(16);
    rec.writeUInt32LE(Math.floor(i / 50), 0);
    rec.writeUInt32LE((i % 50) * 20_000, 4);
    rec.writeUInt32LE(frame.length, 8);
    rec.writeUInt32LE(frame.length, 12);
    parts.push(rec, frame);
  }
  return Buffer.concat(parts);
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** "<word> <number> <seconds> <microseconds>" lines of a SIPp log: number -> epoch ms. */
async function stamps(file: string, word: string): Promise<Map<string, number>> {
  const text = await readFile(file, 'utf8').catch(() => '');
  const out = new Map<string, number>();
  for (const m of text.matchAll(new RegExp(`^${word} (\\S+) ([0-9.]+) ([0-9.]+)\\s*$`, 'gm'))) {
    out.set(m[1]!, Number(m[2]) * 1000 + Number(m[3]) / 1000);
  }
  return out;
}

/** A caller of the busy queue: its INVITE, and when (and at which phone) an agent's phone rang for it. */
interface BusyCall { num: string; invited: number | undefined; ring: number | undefined; phone: string | undefined }

/** The busy queue's two tables: each caller's wait (INVITE -> their agent's phone ringing) and the pickup after an agent hangs up. */
function busyReport(sides: [string, BusyCall[], number[]][]): string {
  const f = (v: number) => v.toFixed(1);
  const lines = [
    `Busy queue: ${BUSY_CALLS} callers ${BUSY_GAP_MS} ms apart, ${AGENTS} agents who talk ${BUSY_TALK_MS} ms and hang up (wrap-up 0), ${new Date().toISOString()}`,
    '',
    "Caller's INVITE -> their agent's phone ringing (ms; includes the wait for a free agent):",
    '',
    '| queue | callers | not rung | p50 | p95 | max | mean |',
    '|---|---|---|---|---|---|---|',
  ];
  const waits = sides.map(([name, calls]) => {
    const w = summary(calls.flatMap((c) => (c.invited !== undefined && c.ring !== undefined ? [c.ring - c.invited] : [])));
    lines.push(`| ${name} | ${calls.length} | ${calls.length - w.n} | ${f(w.p50)} | ${f(w.p95)} | ${f(w.max)} | ${f(w.mean)} |`);
    return w;
  });
  lines.push('', 'Pickup: an agent hangs up while callers wait -> the next INVITE at that agent\'s phone (ms):', '', '| queue | pickups | p50 | p95 | max | mean |', '|---|---|---|---|---|---|');
  const picks = sides.map(([name, , pickups]) => {
    const p = summary(pickups);
    lines.push(`| ${name} | ${p.n} | ${f(p.p50)} | ${f(p.p95)} | ${f(p.max)} | ${f(p.mean)} |`);
    return p;
  });
  if (waits.length === 2 && picks.length === 2) {
    lines.push('', `ratio pbx/app_queue, caller's wait: p50 ${(waits[1]!.p50 / waits[0]!.p50).toFixed(2)}x, mean ${(waits[1]!.mean / waits[0]!.mean).toFixed(2)}x; pickup: p50 ${(picks[1]!.p50 / picks[0]!.p50).toFixed(3)}x, mean ${(picks[1]!.mean / picks[0]!.mean).toFixed(3)}x`);
  }
  return lines.join('\n') + '\n';
}

async function main(): Promise<void> {
  const world = await createWorld('bench', { PBX_LOG_LEVEL: 'info' });
  const work = await mkdtemp(path.join(tmpdir(), 'pbx-bench-queue-'));
  const conn = openDb(world.db);
  const phones: { kill: () => void; done: Promise<number | null> }[] = [];
  const phonePorts = new Map<string, number>();
  let daemon: Awaited<ReturnType<typeof startReadyDaemon>>['daemon'] | undefined;
  let floor: AriFloor | undefined;
  try {
    const started = await startReadyDaemon(world.daemonEnv);
    daemon = started.daemon;
    const admin = started.admin;
    const ok = strict(admin);
    const rx = (cmd: string) => asteriskInstance('rx', world.asteriskEnv, cmd);
    if (!/app_queue\.so\s.*Running/.test(await rx('module show like app_queue'))) throw new Error('app_queue.so is not running in this Asterisk (asterisk/modules.conf)');

    // The caller's scenario with its RTP next to it (SIPp looks for pcap files beside the scenario).
    const callerXml = path.join(work, 'queue-caller.xml');
    await copyFile(path.join(REPO, 'bench/sipp/queue-caller.xml'), callerXml);
    await writeFile(path.join(work, 'caller.pcap'), ulawPcap(100));

    // The desk phones: extensions through the API, registered, waiting for call after call.
    const exts = Array.from({ length: AGENTS }, (_, i) => String(6201 + i));
    for (const ext of exts) {
      const password = await createScriptedExtension(admin, world.db, { number: ext, displayName: `Bench Desk ${ext}` });
      const port = await freePort(true);
      phonePorts.set(ext, port);
      const reg = await registerPhone({ sipPort: world.sipPort, ext, password, port, expires: 3600 });
      if (reg.code !== 0) throw new Error(`phone ${ext} did not register: ${reg.output}`);
      phones.push(sipp([
        '-sf', path.join(REPO, 'bench/sipp/queue-agent.xml'), '-p', String(port), '-mp', String(await freePort(true)), '-i', '127.0.0.1',
        '-m', '100000', '-set', 'answer_ms', String(ANSWER_MS), '-nostdin', '-trace_logs', '-log_file', path.join(work, `phone-${ext}.log`),
        '-trace_err', '-error_file', path.join(work, `phone-${ext}.err`),
      ], work));
    }

    // Two carriers, the same trunk rows; the baseline's endpoint goes to [pbx-bench-queue] instead.
    await carrierTrunks(admin, conn, [
      { name: 'bench-ours', host: OURS_IP },
      { name: 'bench-app-queue', host: BASE_IP, context: 'pbx-bench-queue' },
      { name: 'bench-ari-floor', host: FLOOR_IP, context: 'pbx-bench-ari-floor' },
    ]);

    // app_queue: the phones as members. app_queue skips members whose device state is Unavailable,
    // and a PJSIP endpoint read from realtime after start-up stays Unavailable (its contacts are not
    // tracked) until res_pjsip is reloaded; the daemon does not depend on device states.
    for (const ext of exts) await rx(`queue add member PJSIP/${ext} to ${QUEUE}`);
    await rx('module reload res_pjsip.so');

    // Ours: queue, agents, route. Agents log in after the baseline has run.
    await ok('POST', '/api/v1/queues', { name: 'bench', strategy: 'longest-idle', ringTimeoutSeconds: 15, wrapUpSeconds: 0, announceSeconds: 0, joinEmpty: true, leaveWhenEmpty: false });
    const agents = exts.map((ext, i) => ({ ext, number: String(31 + i) }));
    for (const a of agents) {
      await ok('POST', '/api/v1/agents', { number: a.number, name: `Bench Agent ${a.number}`, pin: '4816' });
      await ok('PUT', '/api/v1/queues/bench/members', { agent: a.number, penalty: 0 });
    }
    await ok('POST', '/api/v1/inbound-routes', { name: 'bench line', didPattern: DID, target: { kind: 'queue', queue: 'bench' } });

    const appQueueIdle = async () => {
      const out = (await rx(`queue show ${QUEUE}`)).replace(/\x1b\[[0-9;]*m/g, ''); // eslint-disable-line no-control-regex
      const members = out.split('\n').filter((l) => l.includes('PJSIP/'));
      return members.length === AGENTS && members.every((l) => l.includes('(Not in use)')) && /has 0 calls/.test(out) ? true : undefined;
    };
    const noChannels = async () => (/^0 active channels/m.test(await rx('core show channels count')) ? true : undefined);
    const oursIdle = async () => {
      const { rows } = await sql<{ ready: number }>`select count(*)::int as ready from agents where state = 'ready'`.execute(conn);
      return rows[0]?.ready === AGENTS ? true : undefined;
    };

    let serial = 0;
    const cpuLines: string[] = [];
    /** WARMUP + CALLS sequential calls from `ip`, each once every agent is idle: when each was answered and rang a phone. */
    const run = async (label: string, ip: string, idle: () => Promise<true | undefined>): Promise<Call[]> => {
      const calls: { num: string; counted: boolean }[] = [];
      let failedCalls = 0;
      const cpu = async () => ({
        asterisk: await cpuMs({ name: 'asterisk' }), postgres: await cpuMs({ name: 'postgres' }),
        daemon: await cpuMs({ pid: daemon!.pid! }), bench: process.cpuUsage().user / 1000 + process.cpuUsage().system / 1000,
      });
      const cpuBefore = await cpu();
      for (let i = 0; i < WARMUP + CALLS; i++) {
        await eventually(idle, 20_000, `${label}: agents idle before call ${i + 1}`);
        const num = `4930222${String(++serial).padStart(4, '0')}`;
        const code = await sipp([
          `127.0.0.1:${world.sipPort}`, '-sf', callerXml, '-s', DID, '-key', 'num', num,
          '-set', 'hold_ms', String(HOLD_MS), '-i', ip, '-p', String(await freePort(true)), '-mp', String(await freePort(true)),
          '-m', '1', '-l', '1', '-timeout', '30s', '-timeout_error', '-nostdin',
          '-trace_logs', '-log_file', path.join(work, `caller-${num}.log`), '-trace_err', '-error_file', path.join(work, `caller-${num}.err`),
        ], work).done;
        if (code !== 0) failedCalls++;
        calls.push({ num, counted: i >= WARMUP });
        await sleep(100);
      }
      const cpuAfter = await cpu();
      const perCall = (k: keyof typeof cpuBefore) => ((cpuAfter[k] - cpuBefore[k]) / calls.length).toFixed(1);
      cpuLines.push(`| ${label} | ${perCall('asterisk')} | ${perCall('postgres')} | ${perCall('daemon')} | ${perCall('bench')} |`);
      const invites = new Map<string, number>();
      for (const ext of exts) for (const [n, t] of await stamps(path.join(work, `phone-${ext}.log`), 'invite')) invites.set(n, t);
      const out: Call[] = [];
      for (const c of calls) {
        const log = path.join(work, `caller-${c.num}.log`);
        out.push({ ...c, invited: (await stamps(log, 'invited')).get(c.num), answered: (await stamps(log, 'answered')).get(c.num), invite: invites.get(c.num) });
      }
      const paired = out.filter((c) => c.counted && c.answered !== undefined && c.invite !== undefined).length;
      process.stderr.write(`[bench] ${label}: ${paired}/${CALLS} calls paired, ${failedCalls} SIPp caller failures (incl. warm-up)\n`);
      return out;
    };

    process.stderr.write(`[bench] ${CALLS} calls each (+${WARMUP} warm-up), ${AGENTS} agents; app_queue first\n`);
    const baseCalls = await run('app_queue', BASE_IP, appQueueIdle);
    const env = world.daemonEnv;
    floor = await startAriFloor({
      host: env['PBX_ARI_HOST'] ?? '127.0.0.1', port: Number(env['PBX_ARI_PORT'] ?? 8088), user: env['PBX_ARI_USER']!, password: env['PBX_ARI_PASSWORD']!,
      app: FLOOR_APP, endpoints: exts.map((e) => `PJSIP/${e}`),
    });
    const floorCalls = await run('ARI floor', FLOOR_IP, noChannels);
    process.stderr.write(`[bench] ARI floor: ${floor.counts.offered} offered, ${floor.counts.failed} failed requests\n`);
    await floor.stop();
    floor = undefined;

    // The state machine's login event at the agent's phone, as the *91 dialogue stores it (no PIN
    // dialogue; the API refuses to make a logged-out agent ready). The daemon reads agents from the
    // database at each decision.
    for (const a of agents) {
      const agent = await findAgentByNumber(conn, a.number);
      if (!agent) throw new Error(`agent ${a.number} missing`);
      const applied = await applyAgentEvent(conn, agent.id, { type: 'login' }, { fields: { extension: a.ext } });
      if (!applied?.ok) throw new Error(`agent ${a.number} not logged in`);
    }
    const mark = daemon.logs.length;
    const ourCalls = await run('pbx ACD', OURS_IP, oursIdle);
    const ourLogs = daemon.logs.slice(mark);

    // The busy queue: the same phones, now hanging up by themselves after BUSY_TALK_MS.
    for (const p of phones.splice(0)) {
      p.kill();
      await p.done;
    }
    for (const ext of exts) {
      phones.push(sipp([
        '-sf', path.join(REPO, 'bench/sipp/queue-agent-hangup.xml'), '-p', String(phonePorts.get(ext)), '-mp', String(await freePort(true)), '-i', '127.0.0.1',
        '-m', '100000', '-set', 'answer_ms', String(ANSWER_MS), '-nostdin', '-trace_logs', '-log_file', path.join(work, `busy-phone-${ext}.log`),
        '-trace_err', '-error_file', path.join(work, `busy-phone-${ext}.err`),
      ], work));
    }
    const waitingXml = path.join(work, 'queue-waiting-caller.xml');
    await copyFile(path.join(REPO, 'bench/sipp/queue-waiting-caller.xml'), waitingXml);
    /** BUSY_CALLS callers BUSY_GAP_MS apart, all agents idle at the start; each stays until its agent hangs up. */
    const runBusy = async (label: string, ip: string, idle: () => Promise<true | undefined>): Promise<BusyCall[]> => {
      await eventually(idle, 20_000, `${label}: agents idle before the busy queue`);
      const nums: string[] = [];
      const done: Promise<number | null>[] = [];
      for (let i = 0; i < BUSY_CALLS; i++) {
        const num = `4930333${String(++serial).padStart(4, '0')}`;
        nums.push(num);
        done.push(sipp([
          `127.0.0.1:${world.sipPort}`, '-sf', waitingXml, '-s', DID, '-key', 'num', num,
          '-i', ip, '-p', String(await freePort(true)), '-mp', String(await freePort(true)),
          '-m', '1', '-l', '1', '-timeout', '60s', '-timeout_error', '-nostdin',
          '-trace_logs', '-log_file', path.join(work, `busy-${num}.log`), '-trace_err', '-error_file', path.join(work, `busy-${num}.err`),
        ], work).done);
        await sleep(BUSY_GAP_MS);
      }
      const codes = await Promise.all(done);
      const rings = new Map<string, { t: number; ext: string }>();
      const frees: { t: number; ext: string }[] = [];
      for (const ext of exts) {
        const log = path.join(work, `busy-phone-${ext}.log`);
        for (const [n, t] of await stamps(log, 'invite')) if (nums.includes(n)) rings.set(n, { t, ext });
        for (const [n, t] of await stamps(log, 'free')) if (nums.includes(n)) frees.push({ t, ext });
      }
      const out: BusyCall[] = [];
      for (const num of nums) out.push({ num, invited: (await stamps(path.join(work, `busy-${num}.log`), 'invited')).get(num), ring: rings.get(num)?.t, phone: rings.get(num)?.ext });
      // Pickup: an agent hangs up while a caller waits -> the next INVITE at that agent's phone.
      const pickups = frees.flatMap((f) => {
        const waiting = out.some((c) => c.invited !== undefined && c.invited < f.t && (c.ring === undefined || c.ring > f.t));
        const next = out.filter((c) => c.phone === f.ext && c.ring !== undefined && c.ring > f.t).map((c) => c.ring!).sort((a, b) => a - b)[0];
        return waiting && next !== undefined ? [next - f.t] : [];
      });
      busyPickups.set(label, pickups);
      process.stderr.write(`[bench] busy queue, ${label}: ${out.filter((c) => c.ring !== undefined).length}/${BUSY_CALLS} callers reached an agent, ${codes.filter((c) => c !== 0).length} SIPp caller failures, ${pickups.length} pickups\n`);
      return out;
    };
    const busyPickups = new Map<string, number[]>();
    // BUSY_CALLS 0: the idle scenario only.
    const busyBase = BUSY_CALLS > 0 ? await runBusy('app_queue', BASE_IP, appQueueIdle) : [];
    const busyOurs = BUSY_CALLS > 0 ? await runBusy('pbx ACD', OURS_IP, oursIdle) : [];
    const row = (name: string, s: Stats) =>
      `| ${name} | ${s.n} | ${s.failed} | ${s.p50.toFixed(1)} | ${s.p95.toFixed(1)} | ${s.p99.toFixed(1)} | ${s.max.toFixed(1)} | ${s.mean.toFixed(1)} |`;
    const ratio = (name: string, a: Stats, b: Stats, of: string) =>
      `ratio ${name}/${of}: p50 ${(a.p50 / b.p50).toFixed(2)}x, p95 ${(a.p95 / b.p95).toFixed(2)}x, p99 ${(a.p99 / b.p99).toFixed(2)}x`;
    const table = (title: string, from: 'answered' | 'invited') => {
      const [base, bare, ours] = [stats(baseCalls, from), stats(floorCalls, from), stats(ourCalls, from)];
      console.log(`\n${title} (ms), ${CALLS} sequential calls each, ${AGENTS} agents, ${new Date().toISOString()}\n`);
      console.log('| queue | calls | failed | p50 | p95 | p99 | max | mean |');
      console.log('|---|---|---|---|---|---|---|---|');
      console.log(row('Asterisk app_queue (baseline)', base));
      console.log(row('ARI floor (originate on arrival, no ACD)', bare));
      console.log(row('pbx ACD over ARI', ours));
      // Ratios of the 200 OK figure mean nothing: ours and the floor answer after ringing (<= 0).
      if (from === 'invited') console.log(`\n${ratio('pbx', ours, base, 'app_queue')}\n${ratio('ARI floor', bare, base, 'app_queue')}\n${ratio('pbx', ours, bare, 'ARI floor')}`);
    };
    table("In the queue -> agent phone ringing: caller's 200 OK -> agent phone's INVITE (ours and the floor answer after ringing: <= 0)", 'answered');
    table("End to end: caller's INVITE -> agent phone's INVITE", 'invited');
    console.log(`\nCPU per call, ms (/proc, 10 ms ticks, over all ${WARMUP + CALLS} calls of each run incl. its idle checks; the ARI floor runs in the bench process):\n`);
    console.log('| run | Asterisk | Postgres | daemon | bench process |\n|---|---|---|---|---|');
    console.log(cpuLines.join('\n'));
    console.log('');
    console.log(breakdown(ourCalls, ourLogs));
    if (BUSY_CALLS > 0) console.log(busyReport([['Asterisk app_queue (baseline)', busyBase, busyPickups.get('app_queue') ?? []], ['pbx ACD over ARI', busyOurs, busyPickups.get('pbx ACD') ?? []]]));
  } finally {
    await floor?.stop();
    for (const p of phones) p.kill();
    await daemon?.stop().catch(() => undefined);
    if (process.env['PBX_BENCH_KEEP']) {
      await writeFile(path.join(work, 'daemon.log'), (daemon?.logs ?? []).map((l) => JSON.stringify(l)).join('\n')).catch(() => undefined);
      process.stderr.write(`[bench] kept ${work}\n`);
    }
    await conn.destroy();
    await world.teardown();
    if (!process.env['PBX_BENCH_KEEP']) await rm(work, { recursive: true, force: true });
  }
}

/**
 * Where the daemon's time goes, per counted call (the daemon's log has ms resolution; its calls
 * are in the same order as ours, one at a time): medians, ms.
 */
function breakdown(calls: Call[], logs: LogLine[]): string {
  const at = (l: LogLine) => Date.parse(String(l['time']));
  const order: string[] = [];
  const byCall = new Map<string, { routed?: number; joined?: number; offered?: number; ringing?: number }>();
  for (const l of logs) {
    const callId = typeof l['callId'] === 'string' ? l['callId'] : null;
    if (!callId) continue;
    if (l.msg === 'call routed') {
      order.push(callId);
      byCall.set(callId, { routed: at(l) });
    }
    const e = byCall.get(callId);
    if (!e) continue;
    if (l.msg === 'caller joined queue') e.joined = at(l);
    if (l.msg === 'offering call to agent') e.offered ??= at(l);
    if (l.msg === 'ringing agent') e.ringing ??= at(l);
  }
  if (order.length !== calls.length) return `(daemon log: ${order.length} calls routed for ${calls.length} placed; no breakdown)\n`;
  const parts = { invited_routed: [] as number[], routed_joined: [] as number[], joined_offered: [] as number[], offered_originated: [] as number[], originated_invite: [] as number[] };
  calls.forEach((c, i) => {
    const d = byCall.get(order[i]!)!;
    if (!c.counted || c.invited === undefined || c.invite === undefined || d.routed === undefined || d.joined === undefined || d.offered === undefined || d.ringing === undefined) return;
    parts.invited_routed.push(d.routed - c.invited);
    parts.routed_joined.push(d.joined - d.routed);
    parts.joined_offered.push(d.offered - d.joined);
    parts.offered_originated.push(d.ringing - d.offered);
    parts.originated_invite.push(c.invite - d.ringing);
  });
  const med = (xs: number[]) => quantile([...xs].sort((a, b) => a - b), 0.5).toFixed(1);
  return `pbx ACD, end to end split by the daemon's log (ms, medians of ${parts.invited_routed.length} calls; log times are whole ms):\n` +
    `  caller's INVITE -> "call routed"                ${med(parts.invited_routed)}   (Asterisk: trunk, channel, Stasis; the daemon: the DID rule, from memory)\n` +
    `  routed -> "caller joined queue"                ${med(parts.routed_joined)}   (queue settings from memory)\n` +
    `  joined -> "offering call to agent"             ${med(parts.joined_offered)}   (routing decision in memory; the claim: one statement)\n` +
    `  offer -> "ringing agent" (originate returned)  ${med(parts.offered_originated)}   (session queue, ARI originate; the answer follows)\n` +
    `  originate returned -> phone's INVITE           ${med(parts.originated_invite)}\n`;
}

main().catch((err: unknown) => {
  console.error(err);
  process.exit(1);
});
