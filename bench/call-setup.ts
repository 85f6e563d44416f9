/**
 * Call setup latency: SIPp's INVITE -> 200 OK time (including the digest challenge round trip)
 * for calls answered by the pbx daemon over ARI (`*99`, the test service), against the same calls
 * answered by Asterisk's own dialplan (Answer + Playback, no ARI) on the same Asterisk instance,
 * same machine, same load. Reports percentiles and the ratio ours/baseline.
 *
 *   make bench            (or: npx tsc -p tsconfig.build.json && npx tsx bench/call-setup.ts [calls] [rate])
 */
import { spawn } from 'node:child_process';
import { mkdir, mkdtemp, readFile, readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { sql } from 'kysely';
import { openDb } from '../test/support/db.js';
import { REPO } from '../test/support/asterisk.js';
import { freePort } from '../test/support/ports.js';
import { createWorld, secret } from '../test/support/world.js';
import { insertPhone } from '../test/support/endpoints.js';
import { Daemon, eventually } from '../test/support/daemon.js';

const CALLS = Number(process.argv[2] ?? 300);
const RATE = Number(process.argv[3] ?? 15);

interface Stats { n: number; p50: number; p90: number; p99: number; mean: number; failed: number }

function stats(samples: number[], failed: number): Stats {
  const s = [...samples].sort((a, b) => a - b);
  const q = (p: number) => s[Math.min(s.length - 1, Math.floor(p * s.length))] ?? NaN;
  return { n: s.length, p50: q(0.5), p90: q(0.9), p99: q(0.99), mean: s.reduce((a, b) => a + b, 0) / s.length, failed };
}

async function runLoad(sipPort: number, user: string, password: string, dir: string): Promise<Stats> {
  const args = [
    `127.0.0.1:${sipPort}`, '-sf', path.join(REPO, 'test/e2e/sipp/uac-hangup-first.xml'), '-s', '*99',
    '-key', 'caller', user, '-au', user, '-ap', password, '-set', 'hold_ms', '200',
    '-m', String(CALLS), '-r', String(RATE), '-l', String(RATE * 2), '-p', String(await freePort(true)),
    '-mp', String(await freePort(true)), '-i', '127.0.0.1', '-timeout', '300s', '-nostdin',
    '-trace_rtt', '-rtt_freq', '1', '-trace_stat',
  ];
  const code = await new Promise<number | null>((resolve) => {
    const p = spawn('sipp', args, { cwd: dir, stdio: 'ignore' });
    p.once('exit', resolve);
  });
  const rttFile = (await readdir(dir)).find((f) => f.endsWith('_rtt.csv'));
  if (!rttFile) throw new Error(`SIPp wrote no rtt file (exit ${code})`);
  const lines = (await readFile(path.join(dir, rttFile), 'utf8')).trim().split('\n').slice(1);
  // Date_ms;response_time_ms;rtd_no
  const samples = lines.map((l) => Number(l.split(';')[1])).filter((v) => Number.isFinite(v));
  return stats(samples, CALLS - samples.length);
}

async function main(): Promise<void> {
  const world = await createWorld('bench', { PBX_LOG_LEVEL: 'warn' });
  const conn = openDb(world.db);
  const pw = secret();
  await insertPhone(conn, 'bench-ari', pw, '"Bench" <3000>');
  await insertPhone(conn, 'bench-base', pw, '"Bench" <3001>');
  await sql`update ps_endpoints set context = 'pbx-bench-baseline' where id = 'bench-base'`.execute(conn);
  await conn.destroy();
  const daemon = Daemon.start(world.daemonEnv);
  const httpPort = world.daemonEnv['PBX_HTTP_PORT'];
  const sipPort = world.sipPort;
  const work = await mkdtemp(path.join(tmpdir(), 'pbx-bench-'));
  try {
    await eventually(async () => ((await fetch(`http://127.0.0.1:${httpPort}/health/ready`)).status === 200 ? true : undefined), 30_000, 'daemon ready');
    process.stderr.write(`[bench] ${CALLS} calls at ${RATE}/s each way; baseline first\n`);
    await mkdir(path.join(work, 'base'));
    await mkdir(path.join(work, 'ari'));
    const base = await runLoad(sipPort, 'bench-base', pw, path.join(work, 'base'));
    const ours = await runLoad(sipPort, 'bench-ari', pw, path.join(work, 'ari'));
    const row = (name: string, s: Stats) =>
      `| ${name} | ${s.n} | ${s.failed} | ${s.p50.toFixed(1)} | ${s.p90.toFixed(1)} | ${s.p99.toFixed(1)} | ${s.mean.toFixed(1)} |`;
    console.log(`\nCall setup, INVITE -> 200 OK incl. digest challenge (ms), ${CALLS} calls at ${RATE} calls/s, ${new Date().toISOString()}\n`);
    console.log('| answered by | calls | failed | p50 | p90 | p99 | mean |');
    console.log('|---|---|---|---|---|---|---|');
    console.log(row('Asterisk dialplan (baseline)', base));
    console.log(row('pbx over ARI (Stasis)', ours));
    console.log(`\nratio pbx/baseline: p50 ${(ours.p50 / base.p50).toFixed(2)}x, p90 ${(ours.p90 / base.p90).toFixed(2)}x, p99 ${(ours.p99 / base.p99).toFixed(2)}x\n`);
  } finally {
    await daemon.stop().catch(() => undefined);
    await world.teardown();
    await rm(work, { recursive: true, force: true });
  }
}

main().catch((err: unknown) => {
  console.error(err);
  process.exit(1);
});
