/**
 * Contact-list import (#18, docs/benchmarks.md "Contact-list import"): a generated CSV of N rows
 * (numbers, names, a data column of `--pad` bytes) imported by the real Importer into a real
 * Postgres: wall time, rows per second, and the process's peak RSS, beside a baseline run of
 * `--baseline` rows in the same conditions. A streaming import's peak RSS does not grow with the
 * file: the ratio of the two peaks stays near 1 while the file grows 100 times.
 *
 *   make bench-import                                     # 1,000,000 rows vs 10,000
 *   npx tsx bench/campaign-import.ts --rows 200000 --baseline 10000 --pad 40
 *   npx tsx bench/campaign-import.ts --child --rows 50000 --db <name>   # one run, JSON on stdout
 *
 * Each run is its own process (peak RSS is per process). The parent makes a scratch database
 * (dropped at the end) unless --db names one; a child uses the database it is given.
 */
import { execFileSync } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { createWriteStream } from 'node:fs';
import { mkdtemp, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { once } from 'node:events';
import { fileURLToPath } from 'node:url';
import { createImport, getImport } from '../src/campaigns/import-store.js';
import { Importer, spoolFile } from '../src/campaigns/importer.js';
import { createLogger } from '../src/logger.js';
import { insertTrunk } from '../src/trunks/repository.js';
import { createTestDatabase, dropTestDatabase, openDb } from '../test/support/db.js';
import { baseDbSettings, runId } from '../test/support/env.js';

interface Args { child: boolean; rows: number; baseline: number; pad: number; db: string | null }

function parseArgs(argv: string[]): Args {
  const a: Args = { child: false, rows: 1_000_000, baseline: 10_000, pad: 40, db: null };
  for (let i = 0; i < argv.length; i += 1) {
    const v = argv[i + 1];
    switch (argv[i]) {
      case '--child': a.child = true; break;
      case '--rows': a.rows = Number(v); i += 1; break;
      case '--baseline': a.baseline = Number(v); i += 1; break;
      case '--pad': a.pad = Number(v); i += 1; break;
      case '--db': a.db = v ?? null; i += 1; break;
      default: throw new Error(`unknown argument ${argv[i]}`);
    }
  }
  return a;
}

export interface RunResult { rows: number; bytes: number; seconds: number; rowsPerSecond: number; peakRssMb: number; accepted: number; rejected: number; state: string }

/** One import of `rows` generated rows into database `dbName`. */
async function child(rows: number, pad: number, dbName: string): Promise<RunResult> {
  const db = openDb({ ...baseDbSettings(), name: dbName });
  const dir = await mkdtemp(path.join(tmpdir(), 'pbx-bench-import-'));
  try {
    const tag = runId();
    const trunk = await insertTrunk(db, {
      name: `bi-${tag}`, kind: 'ip', host: '192.0.2.142', port: 5060, transport: 'udp', codecs: ['ulaw'], max_channels: 1, enabled: true,
      username: null, password: null, from_user: null, from_domain: null,
    });
    const campaign = await db.insertInto('campaigns').values({
      name: `bi-${tag}`, mode: 'progressive', trunk_id: trunk.id, caller_id: '+14065550199', retry_rules: '{}',
    }).returning('id').executeTakeFirstOrThrow();
    const importId = randomUUID();
    const file = spoolFile(dir, importId);
    // Numbers +1 406 2xx xxxx .. (valid NANP, Montana: one zone); a data column of `pad` bytes.
    const out = createWriteStream(file);
    const filler = 'x'.repeat(pad);
    out.write('number,name,timezone,account,note\n');
    for (let i = 0; i < rows; i += 100) {
      let chunk = '';
      for (let j = i; j < Math.min(rows, i + 100); j += 1) {
        const n = 2_000_000 + j;
        chunk += `(406) ${String(n).slice(0, 3)}-${String(n).slice(3)},Contact ${j},${j % 10 === 0 ? 'America/Chicago' : ''},A${j},${filler}\n`;
      }
      if (!out.write(chunk)) await once(out, 'drain');
    }
    out.end();
    await once(out, 'finish');
    const bytes = (await stat(file)).size;
    await createImport(db, importId, { kind: 'contacts', campaignId: campaign.id }, 'bench.csv', bytes);
    const started = process.hrtime.bigint();
    await new Importer({ db, dir, log: createLogger('warn') }).run(importId);
    const seconds = Number(process.hrtime.bigint() - started) / 1e9;
    const done = await getImport(db, importId);
    await db.deleteFrom('campaigns').where('id', '=', campaign.id).execute();
    await db.deleteFrom('trunks').where('id', '=', trunk.id).execute();
    return {
      rows, bytes, seconds: round(seconds), rowsPerSecond: Math.round(rows / seconds), peakRssMb: round(process.resourceUsage().maxRSS / 1024),
      accepted: done?.accepted ?? 0, rejected: done?.rejected ?? 0, state: done?.state ?? 'missing',
    };
  } finally {
    await rm(dir, { recursive: true, force: true });
    await db.destroy();
  }
}

const round = (x: number): number => Math.round(x * 10) / 10;

/** Runs this script as a child (its own process and peak RSS). */
export function runChild(rows: number, pad: number, dbName: string): RunResult {
  const script = fileURLToPath(import.meta.url);
  const out = execFileSync(process.execPath, [...process.execArgv, script, '--child', '--rows', String(rows), '--pad', String(pad), '--db', dbName], {
    encoding: 'utf8', stdio: ['ignore', 'pipe', 'inherit'], maxBuffer: 1 << 20,
  });
  return JSON.parse(out.trim().split('\n').pop()!) as RunResult;
}

async function main(): Promise<void> {
  const args = parseArgs(process.argv.slice(2));
  if (args.child) {
    process.stdout.write(`${JSON.stringify(await child(args.rows, args.pad, args.db!))}\n`);
    return;
  }
  const dbSettings = { ...baseDbSettings(), name: args.db ?? `pbx_bench_import_${runId()}` };
  if (!args.db) await createTestDatabase(dbSettings);
  try {
    const base = runChild(args.baseline, args.pad, dbSettings.name);
    const full = runChild(args.rows, args.pad, dbSettings.name);
    const table = [
      '| run | rows | file | time | rows/s | peak RSS |',
      '| --- | ---: | ---: | ---: | ---: | ---: |',
      ...[['baseline', base], ['import', full]].map(([name, r]) => {
        const x = r as RunResult;
        return `| ${String(name)} | ${x.rows.toLocaleString('en')} | ${(x.bytes / 1048576).toFixed(1)} MB | ${x.seconds} s | ${x.rowsPerSecond.toLocaleString('en')} | ${x.peakRssMb} MB |`;
      }),
    ];
    console.log(table.join('\n'));
    console.log(`file x${(full.bytes / base.bytes).toFixed(0)}, peak RSS x${(full.peakRssMb / base.peakRssMb).toFixed(2)}; ${full.state}: ${full.accepted} accepted, ${full.rejected} rejected`);
  } finally {
    if (!args.db) await dropTestDatabase(dbSettings);
  }
}

await main();
