/**
 * The CPU cost of call recording (issue #16, docs/benchmarks.md#call-recording-make-bench-recording):
 * recording through the daemon (AMI MixMonitor on the caller's channel, src/calls/recorder.ts)
 * against Asterisk's own MixMonitor in the dialplan, on the same Asterisk, the same desk phone
 * and the same callers. Five cases, each with N concurrent bridged calls carrying RTP both ways
 * (SIPp rtp_stream: the caller loops a 440 Hz tone, the phone a 1000 Hz one, as the e2e
 * recording test does, test/e2e/sipp/rec-*-tone.xml), each call held HOLD_S:
 *
 *   a  dialplan, no recording    carrier trunk on 127.0.0.6, context [pbx-bench-rec-plain]: Dial(PJSIP/<ext>)
 *   b  dialplan + MixMonitor     carrier trunk on 127.0.0.7, context [pbx-bench-rec-mixmon]:
 *                                MixMonitor(,r(..-rx.wav)t(..-tx.wav)) then Dial(), the options the daemon uses
 *   c  daemon, recording         carrier trunk on 127.0.0.5 (pbx-inbound), a DID routed to the extension
 *                                by the API, the extension's recordingPolicy `always`
 *   d  daemon, no recording      the same, recordingPolicy `never`: a plain mixing bridge (native_rtp)
 *   e  daemon, no recording,     the same, recordingPolicy `on-demand`: not recorded, but the handset's
 *      the key available         recording key may start it, so the bridge raises DTMF events (mixing,dtmf_events;
 *                                Asterisk decodes the media). Every unrecorded daemon call was bridged so
 *                                before the bridge type became conditional: e against d is that change.
 *
 * The two dialplan contexts are added at run time (`dialplan add extension`), so they exist in
 * the bench's throwaway Asterisk only. Measured over a window while all N calls are up (the
 * channel count is checked at both ends of it): the CPU of this Asterisk instance (its pid,
 * /proc/<pid>/stat utime+stime) and of the daemon, and the bytes the recordings folder grew by
 * (disk bytes written per call-hour). After case c's calls end: the daemon's CPU, its sox
 * children included (cutime+cstime), until every recording is merged and compressed (the
 * post-call line), and the stored MP3 bytes per hour. Cases run in turn, REPEAT times each
 * (this machine is shared and noisy): the table gives min and median.
 *
 *   make bench-recording   CALLS=20,50 HOLD=30 REPEAT=2 CASES=abcde by default
 *   (or: npx tsc -p tsconfig.build.json && npx tsx bench/recording.ts [concurrent calls, comma-separated] [hold s] [repeat] [cases])
 */
import { execFile } from 'node:child_process';
import { mkdir, mkdtemp, readdir, readFile, rm, stat, unlink, writeFile } from 'node:fs/promises';
import { tmpdir, cpus } from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { sql } from 'kysely';
import { openDb } from '../test/support/db.js';
import { REPO, asteriskInstance } from '../test/support/asterisk.js';
import { freePort } from '../test/support/ports.js';
import { createWorld } from '../test/support/world.js';
import { eventually } from '../test/support/daemon.js';
import { registerPhone } from '../test/support/sipp.js';
import { createScriptedExtension, startReadyDaemon } from '../test/support/pbx.js';
import { processCpuMs } from './support/cpu.js';
import { carrierTrunks, sipp, strict } from './support/calls.js';

const run = promisify(execFile);
/** Arguments (empty: the default, as `make bench-recording` passes unset variables). */
const arg = (i: number, fallback: string) => process.argv[i] || fallback;
const CONCURRENCY = arg(2, '20,50').split(',').map(Number);
const HOLD_S = Number(arg(3, '30'));
const REPEAT = Number(arg(4, '2'));
/** Which cases to run (letters, e.g. `de`); the ratios need a b c d. */
const ONLY = arg(5, 'abcde');
/** New calls per second while a case ramps up. */
const RATE = 10;
const DID = '4930555300';
const EXT = '6401';
const IPS = { ours: '127.0.0.5', plain: '127.0.0.6', mixmon: '127.0.0.7' } as const;

type Case = 'a' | 'b' | 'c' | 'd' | 'e';
const ALL_CASES: { id: Case; label: string; ip: string }[] = [
  { id: 'a', label: 'a  dialplan Dial(), no recording (baseline)', ip: IPS.plain },
  { id: 'b', label: 'b  dialplan MixMonitor(r,t) + Dial()', ip: IPS.mixmon },
  { id: 'c', label: 'c  daemon, policy always (AMI MixMonitor)', ip: IPS.ours },
  { id: 'd', label: 'd  daemon, policy never', ip: IPS.ours },
  { id: 'e', label: 'e  daemon, policy on-demand (not recorded, key available)', ip: IPS.ours },
];
const CASES = ALL_CASES.filter((c) => ONLY.includes(c.id));
const POLICY: Partial<Record<Case, string>> = { c: 'always', d: 'never', e: 'on-demand' };

/** One run of one case: CPU as % of one core per call over the window, folder growth per call-hour. */
interface Sample { asterisk: number; daemon: number; bytesPerHour: number; windowS: number; channels: [number, number]; failed: number; bridges: string }
/** After a run of case c: the daemon's CPU (self, sox children) per recording until all were compressed, and the stored sizes. */
interface PostCall { selfMs: number; childrenMs: number; recordings: number; compressed: number; seconds: number; mp3BytesPerHour: number; wavBytesPerHour: number }

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const median = (xs: number[]) => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) / 2]! : (s[s.length / 2 - 1]! + s[s.length / 2]!) / 2;
};
const min = (xs: number[]) => Math.min(...xs);

/** Bytes of every file under `dir` (recursively). */
async function folderBytes(dir: string): Promise<number> {
  let total = 0;
  for (const e of await readdir(dir, { withFileTypes: true }).catch(() => [])) {
    const p = path.join(dir, e.name);
    if (e.isDirectory()) total += await folderBytes(p);
    else total += (await stat(p).catch(() => ({ size: 0 }))).size;
  }
  return total;
}

/** A raw u-law tone file and the e2e scenario that loops it (rtp_stream takes an absolute path). */
async function toneScenario(work: string, template: string, freq: number): Promise<string> {
  const tone = path.join(work, `tone-${freq}.ul`);
  await run('sox', ['-n', '-r', '8000', '-c', '1', '-t', 'ul', tone, 'synth', '20', 'sine', String(freq), 'vol', '0.5']);
  const file = path.join(work, template);
  await writeFile(file, (await readFile(path.join(REPO, 'test/e2e/sipp', template), 'utf8')).replaceAll('TONE_FILE', tone));
  return file;
}

async function main(): Promise<void> {
  const world = await createWorld('bench', { PBX_LOG_LEVEL: 'warn' });
  const work = await mkdtemp(path.join(tmpdir(), 'pbx-bench-rec-'));
  const conn = openDb(world.db);
  let phone: ReturnType<typeof sipp> | undefined;
  let daemon: Awaited<ReturnType<typeof startReadyDaemon>>['daemon'] | undefined;
  const load: string[] = [];
  try {
    load.push((await readFile('/proc/loadavg', 'utf8')).trim());
    // The recordings folder inside the Asterisk instance (it may run chrooted): Asterisk writes, the daemon reads.
    const instDir = (await asteriskInstance('path', world.asteriskEnv)).trim();
    const recordingsDir = world.daemonEnv['PBX_RECORDINGS_DIR'] ?? `${instDir}/lib/recordings`;
    const recordingsDirAsterisk = world.daemonEnv['PBX_RECORDINGS_DIR_ASTERISK'] ?? recordingsDir.slice(recordingsDir.indexOf('/var/lib/pbx-instances/'));
    const dialplanDir = `${recordingsDir}/bench-dialplan`;
    for (const dir of [recordingsDir, `${recordingsDir}/incoming`, dialplanDir]) {
      await mkdir(dir, { recursive: true });
      await run('chown', ['asterisk:pbx', dir]);
      await run('chmod', ['2770', dir]);
    }
    const asteriskPid = Number((await readFile(`${instDir}/run/asterisk.pid`, 'utf8')).trim());
    const started = await startReadyDaemon({
      ...world.daemonEnv, PBX_RECORDINGS_DIR: recordingsDir, PBX_RECORDINGS_DIR_ASTERISK: recordingsDirAsterisk,
      PBX_RECORDINGS_MIN_FREE_MB: '1', PBX_RECORDING_FORMAT: 'mp3',
    });
    daemon = started.daemon;
    const daemonPid = daemon.pid!;
    const admin = started.admin;
    const ok = strict(admin);
    const rx = (cmd: string) => asteriskInstance('rx', world.asteriskEnv, cmd);

    // The desk phone: one SIPp that answers every call after 300 ms and sends its tone until the BYE.
    const password = await createScriptedExtension(admin, world.db, { number: EXT, displayName: 'Bench Recorded Desk' });
    const phonePort = await freePort(true);
    const reg = await registerPhone({ sipPort: world.sipPort, ext: EXT, password, port: phonePort, expires: 3600 });
    if (reg.code !== 0) throw new Error(`phone ${EXT} did not register: ${reg.output}`);
    const callerXml = await toneScenario(work, 'rec-uac-tone.xml', 440);
    const phoneXml = await toneScenario(work, 'rec-phone-tone.xml', 1000);
    phone = sipp(['-sf', phoneXml, '-p', String(phonePort), '-mp', String(await freePort(true)), '-i', '127.0.0.1', '-m', '1000000',
      '-nostdin', '-trace_err', '-error_file', path.join(work, 'phone.err')], work);

    // Three carriers; the dialplan ones get contexts of their own, added to this instance only.
    await carrierTrunks(admin, conn, [
      { name: 'bench-ours', host: IPS.ours },
      { name: 'bench-plain', host: IPS.plain, context: 'pbx-bench-rec-plain' },
      { name: 'bench-mixmon', host: IPS.mixmon, context: 'pbx-bench-rec-mixmon' },
    ]);
    await rx(`dialplan add extension _X.,1,Dial(PJSIP/${EXT},30) into pbx-bench-rec-plain`);
    await rx(`dialplan add extension _X.,1,MixMonitor(,r(${recordingsDirAsterisk}/bench-dialplan/\${UNIQUEID}-rx.wav)t(${recordingsDirAsterisk}/bench-dialplan/\${UNIQUEID}-tx.wav)) into pbx-bench-rec-mixmon`);
    await rx(`dialplan add extension _X.,2,Dial(PJSIP/${EXT},30) into pbx-bench-rec-mixmon`);
    await rx('module reload res_pjsip.so');
    await ok('POST', '/api/v1/inbound-routes', { name: 'bench recorded line', didPattern: DID, target: { kind: 'extension', number: EXT } });

    const channels = async () => Number(/^(\d+) active channels?/m.exec(await rx('core show channels count'))?.[1] ?? NaN);
    const cpu = async () => ({ asterisk: (await processCpuMs(asteriskPid))!.self, daemon: (await processCpuMs(daemonPid))! });

    const samples = new Map<string, Sample[]>();
    const post: PostCall[] = [];
    /** One run: N calls ramped at RATE/s, held HOLD_S each; measured while all are up. */
    const runCase = async (c: (typeof CASES)[number], n: number): Promise<Sample> => {
      await eventually(async () => ((await channels()) === 0 ? true : undefined), 60_000, 'no channels left before the run');
      const policy = POLICY[c.id];
      if (policy) await ok('PATCH', `/api/v1/extensions/${EXT}`, { recordingPolicy: policy });
      const folder = c.id === 'b' ? dialplanDir : `${recordingsDir}/incoming`;
      const recordedBefore = c.id === 'c' ? Number((await sql<{ n: number }>`select count(*)::int as n from recordings`.execute(conn)).rows[0]!.n) : 0;
      const rampS = n / RATE;
      const callers = sipp([
        `127.0.0.1:${world.sipPort}`, '-sf', callerXml, '-s', DID, '-key', 'caller', '4930222555', '-set', 'hold_ms', String(HOLD_S * 1000),
        '-i', c.ip, '-p', String(await freePort(true)), '-mp', String(await freePort(true)), '-m', String(n), '-l', String(n), '-r', String(RATE),
        '-timeout', `${HOLD_S + rampS + 60}s`, '-timeout_error', '-nostdin', '-trace_err', '-error_file', path.join(work, `callers-${c.id}-${n}.err`),
      ], work);
      // All calls up: the ramp, the phone's 300 ms answer, a margin; then measure until 2 s before the first BYE.
      await sleep((rampS + 3) * 1000);
      const chBefore = await channels();
      // Which bridge technology carries the calls (native_rtp relays packets; an audiohook such as MixMonitor needs frames).
      const techs = new Map<string, number>();
      for (const m of (await rx('bridge show all')).matchAll(/\b(native_rtp|simple_bridge|softmix|holding_bridge)\b/g)) techs.set(m[1]!, (techs.get(m[1]!) ?? 0) + 1);
      const [cpu0, bytes0, t0] = [await cpu(), await folderBytes(folder), performance.now()];
      await sleep((HOLD_S - rampS - 5) * 1000);
      const [cpu1, bytes1, t1] = [await cpu(), await folderBytes(folder), performance.now()];
      const chAfter = await channels();
      const code = await callers.done;
      const windowS = (t1 - t0) / 1000;
      const perCall = (ms: number) => (100 * ms) / (windowS * 1000) / n; // % of one core per call
      const sample: Sample = {
        asterisk: perCall(cpu1.asterisk - cpu0.asterisk), daemon: perCall(cpu1.daemon.self - cpu0.daemon.self),
        bytesPerHour: ((bytes1 - bytes0) / windowS) * 3600 / n, windowS, channels: [chBefore, chAfter], failed: code === 0 ? 0 : 1,
        bridges: [...techs].map(([t, k]) => `${k} ${t}`).join(', ') || 'none',
      };
      process.stderr.write(`[bench] ${n} calls, case ${c.id}: Asterisk ${sample.asterisk.toFixed(2)} %/call, daemon ${sample.daemon.toFixed(2)} %/call, channels ${chBefore}/${chAfter} (want ${2 * n}), bridges ${sample.bridges}, window ${windowS.toFixed(1)} s, callers exit ${code}\n`);
      if (c.id === 'b') for (const file of await readdir(dialplanDir)) await unlink(path.join(dialplanDir, file));
      if (c.id === 'c') {
        // The post-call work: merge (sox) as each call ends, then the compression job (sox, LAME).
        const ended = performance.now();
        const done = await eventually(async () => {
          const { rows } = await sql<{ n: number; bytes: string; ms: string }>`select count(*)::int as n, coalesce(sum(bytes), 0)::text as bytes, coalesce(sum(duration_ms), 0)::text as ms from recordings where state = 'compressed'`.execute(conn);
          return rows[0]!.n >= recordedBefore + n ? rows[0]! : undefined;
        }, 300_000, `${n} recordings compressed`);
        const cpu2 = await cpu();
        const { rows } = await sql<{ n: number }>`select count(*)::int as n from recordings`.execute(conn);
        // Stored sizes of this run's recordings only: the newest n compressed ones.
        const { rows: mine } = await sql<{ bytes: string; ms: string }>`select coalesce(sum(bytes), 0)::text as bytes, coalesce(sum(duration_ms), 0)::text as ms from (select bytes, duration_ms from recordings where state = 'compressed' order by created_at desc limit ${n}) r`.execute(conn);
        const hours = Number(mine[0]!.ms) / 3_600_000;
        post.push({
          selfMs: (cpu2.daemon.self - cpu1.daemon.self) / n, childrenMs: (cpu2.daemon.children - cpu1.daemon.children) / n,
          recordings: rows[0]!.n - recordedBefore, compressed: done.n - recordedBefore, seconds: (performance.now() - ended) / 1000,
          mp3BytesPerHour: Number(mine[0]!.bytes) / hours, wavBytesPerHour: sample.bytesPerHour,
        });
      }
      return sample;
    };

    process.stderr.write(`[bench] load average at start: ${load[0]}; ${cpus().length} CPUs; asterisk pid ${asteriskPid}, daemon pid ${daemonPid}\n`);
    for (const n of CONCURRENCY) {
      for (let r = 0; r < REPEAT; r++) {
        for (const c of CASES) {
          const key = `${n}/${c.id}`;
          samples.set(key, [...(samples.get(key) ?? []), await runCase(c, n)]);
        }
      }
    }
    load.push((await readFile('/proc/loadavg', 'utf8')).trim());

    // ------------------------------------------------------------------ report
    const f = (x: number, d = 2) => x.toFixed(d);
    console.log(`\nCall recording, CPU per concurrent call (% of one core), ${new Date().toISOString()}, ${cpus().length} CPUs (${cpus()[0]?.model ?? '?'})`);
    console.log(`Each call held ${HOLD_S} s with RTP both ways; measured while all calls are up; ${REPEAT} runs per case, min / median.`);
    console.log(`Load average (1, 5, 15 min) at start: ${load[0]}; at end: ${load[1]}\n`);
    console.log('| calls | case | Asterisk min | Asterisk median | daemon median | Asterisk+daemon median | disk bytes/h per call (median) | channels up (start/end of window) | bridges | failed runs |');
    console.log('|---|---|---|---|---|---|---|---|---|---|');
    const ratios: string[] = [];
    for (const n of CONCURRENCY) {
      const get = (id: Case) => samples.get(`${n}/${id}`) ?? [];
      for (const c of CASES) {
        const s = get(c.id);
        console.log(`| ${n} | ${c.label} | ${f(min(s.map((x) => x.asterisk)))} | ${f(median(s.map((x) => x.asterisk)))} | ${f(median(s.map((x) => x.daemon)))} | ${f(median(s.map((x) => x.asterisk + x.daemon)))} | ${c.id === 'b' || c.id === 'c' ? f(median(s.map((x) => x.bytesPerHour)) / 1e6, 1) + ' MB' : '-'} | ${s.map((x) => x.channels.join('/')).join(', ')} | ${s[0]?.bridges ?? ''} | ${s.reduce((a, x) => a + x.failed, 0)} |`);
      }
      const m = (id: Case, k: (x: Sample) => number) => median(get(id).map(k));
      const mn = (id: Case, k: (x: Sample) => number) => min(get(id).map(k));
      const ast = (x: Sample) => x.asterisk;
      const both = (x: Sample) => x.asterisk + x.daemon;
      ratios.push(
        `${n} calls: (c-d)/(b-a), Asterisk+daemon, medians: ${f((m('c', both) - m('d', both)) / (m('b', both) - m('a', both)))}` +
        ` (Asterisk only: medians ${f((m('c', ast) - m('d', ast)) / (m('b', ast) - m('a', ast)))}, mins ${f((mn('c', ast) - mn('d', ast)) / (mn('b', ast) - mn('a', ast)))});` +
        ` recording cost per call: dialplan ${f(m('b', both) - m('a', both))} %, daemon ${f(m('c', both) - m('d', both))} % of a core`,
        `${n} calls: an unrecorded daemon call, the bridge with DTMF events against without, e/d, Asterisk+daemon, medians: ${f(m('e', both) / m('d', both))}` +
        ` (Asterisk only: medians ${f(m('e', ast) / m('d', ast))}, mins ${f(mn('e', ast) / mn('d', ast))}); against the dialplan's Dial(): d/a ${f(m('d', both) / m('a', both))}, e/a ${f(m('e', both) / m('a', both))}`,
      );
    }
    console.log(`\n${ratios.join('\n')}`);
    console.log('\nAfter the call (case c), the daemon until every recording was merged and compressed to MP3, per recording:\n');
    console.log('| calls | run | recordings | compressed | daemon CPU ms | sox CPU ms (children) | s from the callers exit until all compressed | MP3 bytes/h | WAV bytes/h while recording |');
    console.log('|---|---|---|---|---|---|---|---|---|');
    post.forEach((p, i) => {
      const n = CONCURRENCY[Math.floor(i / REPEAT)]!;
      console.log(`| ${n} | ${(i % REPEAT) + 1} | ${p.recordings} | ${p.compressed} | ${f(p.selfMs, 0)} | ${f(p.childrenMs, 0)} | ${f(p.seconds, 1)} | ${f(p.mp3BytesPerHour / 1e6, 1)} MB | ${f(p.wavBytesPerHour / 1e6, 1)} MB |`);
    });
  } finally {
    phone?.kill();
    await daemon?.stop().catch(() => undefined);
    await conn.destroy();
    await world.teardown();
    if (!process.env['PBX_BENCH_KEEP']) await rm(work, { recursive: true, force: true });
    else process.stderr.write(`[bench] kept ${work}\n`);
  }
}

main().catch((err: unknown) => {
  console.error(err);
  process.exit(1);
});
