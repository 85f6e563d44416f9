/**
 * Capacity (docs/benchmarks.md#capacity-make-bench-capacity): the call rate is raised step by step
 * on the `*99` path (a phone calls, the call is answered, the greeting plays, the caller talks RTP
 * for HOLD ms and hangs up) until SIPp failures or p99 setup cross the limits below, for four
 * sides on the same throwaway Asterisk, one after the other:
 *   dialplan  Asterisk alone: Answer(), Playback(hello-world), Wait() (the baseline; no daemon running)
 *   floor     a bare Stasis app in this process: answer + play, nothing else (bench/support/ari-answer-floor.ts; no daemon running)
 *   off       the daemon (`*99`, the test service) with overload control off (every PBX_* limit 0)
 *   on        the daemon with overload control at its defaults (docs/operations.md#overload)
 * Per step: calls offered, answered, refused (503), failed; completed calls/s; the most calls up at
 * once (Asterisk's `core show channels count`, every 2 s); setup p50/p99 (INVITE -> 200 OK, the
 * digest challenge included) and the time to a 503; CPU ms per answered call of Asterisk, the daemon
 * (or this process for the floor), PostgreSQL and Redis (/proc, 10 ms ticks).
 *
 *   make bench-capacity   (RATES=25,50,100,150,200,250,300 STEP=15 HOLD=1000 SIDES=dialplan,floor,off,on)
 *   npx tsx bench/capacity.ts --rates 50,100 --step 15 --hold 1000 --sides dialplan,on
 */
import { spawn } from 'node:child_process';
import { copyFile, mkdir, mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { sql } from 'kysely';
import { openDb } from '../test/support/db.js';
import { REPO, asteriskInstance } from '../test/support/asterisk.js';
import { freePort } from '../test/support/ports.js';
import { createWorld, secret } from '../test/support/world.js';
import { insertPhone } from '../test/support/endpoints.js';
import { Daemon, eventually } from '../test/support/daemon.js';
import { writePhoneRtpPcap } from '../test/support/rtp-pcap.js';
import { cpuMs, processCpuMs } from './support/cpu.js';
import { startAnswerFloor } from './support/ari-answer-floor.js';
import { quantile, readFailed, readRtts } from './support/sipp-steps.js';

const { values: opts } = parseArgs({
  args: process.argv.slice(2).filter((a) => a !== '--'),
  options: {
    rates: { type: 'string', default: '25,50,100,150,200,250,300' },
    step: { type: 'string', default: '15' },
    hold: { type: 'string', default: '1000' },
    sides: { type: 'string', default: 'dialplan,floor,off,on' },
  },
});
const RATES = opts.rates.split(',').map(Number);
const STEP_S = Number(opts.step);
const HOLD_MS = Number(opts.hold);
const SIDES = opts.sides.split(',') as Side[];
type Side = 'dialplan' | 'floor' | 'off' | 'on';

/** The limits a step must stay within to count as carried (docs/benchmarks.md). */
const MAX_LOST = 0.01; // failed + refused, of the calls offered
const MAX_P99_MS = 500; // setup, INVITE -> 200 OK
/** Before each side's steps, not counted: the first calls of a side load sounds, JIT-compile, fill caches. */
const WARM_UP_RATE = 10;
const WARM_UP_S = 3;
/** A call not answered (or refused) within this long fails (SIPp -recv_timeout). */
const RECV_TIMEOUT_MS = 10_000;

interface StepResult {
  side: Side;
  rate: number;
  offered: number;
  answered: number;
  refused: number;
  failed: number;
  peakCalls: number;
  setup: { p50: number; p99: number };
  refusal: { p50: number; p99: number };
  /** CPU ms per answered call. */
  cpu: { asterisk: number; app: number; postgres: number; redis: number };
  /** Share of one core, all four together, over the step. */
  cores: number;
  wallMs: number;
}

const carried = (r: StepResult): boolean => (r.failed + r.refused) / r.offered <= MAX_LOST && r.setup.p99 <= MAX_P99_MS;

async function main(): Promise<void> {
  const world = await createWorld('bench', { PBX_LOG_LEVEL: 'warn', PBX_METRICS_ACCESS: 'loopback' });
  const work = await mkdtemp(path.join(tmpdir(), 'pbx-bench-cap-'));
  const rx = (cmd: string) => asteriskInstance('rx', world.asteriskEnv, cmd);
  const pw = secret();
  let daemon: Daemon | null = null;
  const results: StepResult[] = [];
  const reasons = new Map<Side, string>();
  try {
    const conn = openDb(world.db);
    await insertPhone(conn, 'cap-ari', pw, '"Bench" <3100>');
    await insertPhone(conn, 'cap-base', pw, '"Bench" <3101>');
    await insertPhone(conn, 'cap-floor', pw, '"Bench" <3102>');
    await sql`update ps_endpoints set context = 'pbx-bench-cap-dialplan' where id = 'cap-base'`.execute(conn);
    await sql`update ps_endpoints set context = 'pbx-bench-cap-floor' where id = 'cap-floor'`.execute(conn);
    await conn.destroy();
    const floorApp = `bench-cap-floor-${world.id}`;
    for (const [i, app] of ['Answer()', 'Playback(hello-world)', 'Wait(120)', 'Hangup()'].entries()) await rx(`dialplan add extension _X.,${i + 1},${app} into pbx-bench-cap-dialplan`);
    await rx(`dialplan add extension _X.,1,Stasis(${floorApp}) into pbx-bench-cap-floor`);
    await rx('dialplan add extension _X.,2,Hangup() into pbx-bench-cap-floor');
    const instDir = (await asteriskInstance('path', world.asteriskEnv)).trim();
    const asteriskPid = Number((await readFile(`${instDir}/run/asterisk.pid`, 'utf8')).trim());
    // The caller's RTP for the whole hold (silence, 20 ms packets), read by SIPp from its working folder.
    const pcap = path.join(work, 'caller.pcap');
    await writePhoneRtpPcap(pcap, Buffer.alloc(160, 0xff), [{ audioMs: HOLD_MS }]);
    const httpPort = world.daemonEnv['PBX_HTTP_PORT'];
    const activeCalls = async () => Number(/^(\d+) active calls?/m.exec(await rx('core show channels count'))?.[1] ?? NaN);

    for (const side of SIDES) {
      const floor = side === 'floor'
        ? await startAnswerFloor({ host: '127.0.0.1', port: Number(world.daemonEnv['PBX_ARI_PORT']), user: world.daemonEnv['PBX_ARI_USER']!, password: world.daemonEnv['PBX_ARI_PASSWORD']!, app: floorApp, media: 'sound:hello-world' })
        : null;
      if (side === 'off' || side === 'on') {
        const limits: Record<string, string> = side === 'off' ? { PBX_MAX_CALLS: '0', PBX_MAX_CALLS_IN_SETUP: '0', PBX_OVERLOAD_LAG_MS: '0' } : {};
        daemon = Daemon.start({ ...world.daemonEnv, ...limits });
        await eventually(async () => ((await fetch(`http://127.0.0.1:${httpPort}/health/ready`).catch(() => null))?.status === 200 ? true : undefined), 30_000, 'daemon ready');
      }
      const user = side === 'dialplan' ? 'cap-base' : side === 'floor' ? 'cap-floor' : 'cap-ari';
      const dialed = side === 'dialplan' || side === 'floor' ? '500' : '*99';
      let over = 0;
      for (const [i, rate] of [WARM_UP_RATE, ...RATES].entries()) {
        const warmUp = i === 0;
        await eventually(async () => ((await activeCalls()) === 0 ? true : undefined), 120_000, 'no calls left');
        const dir = path.join(work, `${side}-${rate}${warmUp ? '-warm-up' : ''}`);
        await mkdir(dir);
        await copyFile(pcap, path.join(dir, 'caller.pcap'));
        const offered = rate * (warmUp ? WARM_UP_S : STEP_S);
        const cpu0 = await cpuNow(asteriskPid, daemon?.pid);
        const t0 = Date.now();
        const args = [
          `127.0.0.1:${world.sipPort}`, '-sf', path.join(REPO, 'bench/sipp/capacity-caller.xml'), '-s', dialed,
          '-key', 'caller', user, '-au', user, '-ap', pw, '-set', 'hold_ms', String(HOLD_MS),
          '-m', String(offered), '-r', String(rate), '-l', String(rate * Math.ceil((HOLD_MS + RECV_TIMEOUT_MS) / 1000 + 2)),
          '-p', String(await freePort(true)), '-mp', String(await freePort(true)), '-i', '127.0.0.1',
          '-recv_timeout', String(RECV_TIMEOUT_MS), '-timeout', `${STEP_S + 120}s`, '-nostdin',
          '-trace_rtt', '-rtt_freq', '1', '-trace_stat', '-stf', path.join(dir, 'stat.csv'), '-fd', '1',
        ];
        const proc = spawn('sipp', args, { cwd: dir, stdio: 'ignore' });
        const exited = new Promise<void>((resolve) => proc.once('exit', () => resolve()));
        let peakCalls = 0;
        let running = true;
        const stopped = (): void => {
          running = false;
        };
        exited.then(stopped, stopped);
        while (running) {
          peakCalls = Math.max(peakCalls, (await activeCalls()) || 0);
          await Promise.race([exited, new Promise((r) => setTimeout(r, 2_000))]);
        }
        const wallMs = Date.now() - t0;
        const cpu1 = await cpuNow(asteriskPid, daemon?.pid);
        const rtts = await readRtts(dir);
        const refused = rtts.refused.length;
        const answered = rtts.answered.length;
        const per = (k: keyof typeof cpu0) => (cpu1[k] - cpu0[k]) / Math.max(1, answered);
        const r: StepResult = {
          side, rate, offered, answered, refused, failed: await readFailed(path.join(dir, 'stat.csv')), peakCalls,
          setup: { p50: quantile(rtts.answered, 0.5), p99: quantile(rtts.answered, 0.99) },
          refusal: { p50: quantile(rtts.refused, 0.5), p99: quantile(rtts.refused, 0.99) },
          cpu: { asterisk: per('asterisk'), app: side === 'floor' ? per('bench') : per('daemon'), postgres: per('postgres'), redis: per('redis') },
          cores: (cpu1.asterisk - cpu0.asterisk + (side === 'floor' ? cpu1.bench - cpu0.bench : cpu1.daemon - cpu0.daemon) + cpu1.postgres - cpu0.postgres + cpu1.redis - cpu0.redis) / wallMs,
          wallMs,
        };
        process.stderr.write(`[bench] ${warmUp ? '(warm-up) ' : ''}${row(r)}\n`);
        if (warmUp) continue;
        results.push(r);
        over = carried(r) ? 0 : over + 1;
        // Two steps past the limit show the curve; the dialplan and the floor stop there.
        if (over >= 2 && (side === 'dialplan' || side === 'floor')) break;
      }
      await floor?.stop();
      if (daemon) {
        const text = await (await fetch(`http://127.0.0.1:${httpPort}/metrics`)).text();
        reasons.set(side, text.split('\n').filter((l) => l.startsWith('pbx_calls_refused_total{')).join(', '));
        await daemon.stop();
        daemon = null;
      }
    }
    print(results);
    for (const [side, counts] of reasons) console.log(`${side}: ${counts}`);
  } finally {
    await daemon?.stop().catch(() => undefined);
    await world.teardown();
    await rm(work, { recursive: true, force: true });
  }
}

async function cpuNow(asteriskPid: number, daemonPid: number | undefined) {
  const own = process.cpuUsage();
  return {
    asterisk: (await processCpuMs(asteriskPid))?.self ?? NaN,
    daemon: daemonPid ? ((await processCpuMs(daemonPid))?.self ?? 0) : 0,
    bench: (own.user + own.system) / 1000,
    postgres: await cpuMs({ name: 'postgres' }),
    redis: await cpuMs({ name: 'redis-server' }),
  };
}

const f = (n: number, d = 0) => (Number.isFinite(n) ? n.toFixed(d) : '-');

function row(r: StepResult): string {
  return `| ${r.side} | ${r.rate} | ${r.offered} | ${r.answered} | ${r.refused} | ${r.failed} | ${f(r.answered / STEP_S, 1)} | ${r.peakCalls} | ${f(r.setup.p50)} | ${f(r.setup.p99)} | ${f(r.refusal.p99)} | ${f(r.cpu.asterisk, 1)} | ${f(r.cpu.app, 1)} | ${f(r.cpu.postgres, 1)} | ${f(r.cpu.redis, 1)} | ${f(r.cores * 100)} % | ${carried(r) ? 'yes' : 'no'} |`;
}

function print(results: StepResult[]): void {
  console.log(`\nCapacity, *99 path, ${HOLD_MS} ms calls with RTP, ${STEP_S} s per step, ${new Date().toISOString()}`);
  console.log(`Carried: failed + refused <= ${MAX_LOST * 100} % of offered and p99 setup <= ${MAX_P99_MS} ms.\n`);
  console.log('| side | calls/s offered | offered | answered | refused (503) | failed | answered/s | most calls up | setup p50 ms | p99 | 503 p99 ms | CPU ms/answered call: Asterisk | daemon (floor: bench) | Postgres | Redis | CPU of one core | carried |');
  console.log('|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|');
  for (const r of results) console.log(row(r));
  const cap = (side: Side) => results.filter((r) => r.side === side && carried(r)).reduce((best, r) => Math.max(best, r.rate), 0);
  console.log('\nHighest rate carried per side (calls/s): ' + SIDES.map((s) => `${s} ${cap(s)}`).join(', '));
  const base = cap('dialplan');
  const floor = cap('floor');
  for (const s of ['off', 'on'] as const) {
    if (!SIDES.includes(s)) continue;
    console.log(`${s}: ${base ? f(cap(s) / base, 2) : '-'}x the dialplan, ${floor ? f(cap(s) / floor, 2) : '-'}x the ARI floor`);
  }
}

main().catch((err: unknown) => {
  console.error(err);
  process.exit(1);
});
