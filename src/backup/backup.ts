/**
 * `pbx backup`: one tar.gz of the site (src/backup/archive.ts has the layout).
 *
 * The database is dumped by pg_dump from a snapshot this process exports (a read-only repeatable
 * read transaction, `pg_dump --snapshot`), and the manifest's row counts are counted in that same
 * transaction, so they are exactly the dump's. The folders are read after the dump: a recording
 * that ends meanwhile is in the archive without its row (stop the daemon for an exact copy).
 *
 * System tar and pg_dump rather than a tar written in Node: pg_dump is needed anyway, and GNU tar
 * keeps modes, times, long names and hard links, reads a tree changing under it (exit 1, a
 * warning), and renames the folders into the archive's layout (--transform) without a staging
 * copy of the recordings. Node gzips tar's output (level 1: recordings and the dump are
 * compressed already) into a file made 0600, and counts the bytes for the progress lines.
 */
import { chmod, copyFile, mkdtemp, rename, rm, stat, unlink, writeFile } from 'node:fs/promises';
import { createWriteStream } from 'node:fs';
import { hostname } from 'node:os';
import path from 'node:path';
import { pipeline } from 'node:stream/promises';
import { createGzip } from 'node:zlib';
import { sql } from 'kysely';
import type { Config } from '../config.js';
import type { Db } from '../db/database.js';
import { VERSION } from '../version.js';
import {
  BackupError, DUMP_FILE, ENV_FILE, FOLDERS, MANIFEST_FILE, MANIFEST_FORMAT, formatBytes, overlappingFolders, tarTransform,
  type FolderName, type FolderSummary, type Manifest,
} from './archive.js';
import { checkDatabase, lastMigration, serverVersion, siteFolders, summarizeFolder, tableCounts } from './site.js';
import { pgEnv, progressCounter, startTool } from './tools.js';

export interface BackupOptions {
  /** Archive to write (must not exist). */
  readonly out: string;
  /** Put the env file in (it holds the passwords and PBX_SECRET_KEY). */
  readonly withEnv: boolean;
  /** The env file in use (--env-file or PBX_ENV_FILE), for --with-env. */
  readonly envFile: string | null;
  /** How often a progress line is printed while the archive is written. */
  readonly progressEveryMs?: number;
}

type Say = (line: string) => void;

/** The default archive name: pbx-backup-<host>-<UTC time>.tar.gz in the current folder. */
export function defaultBackupName(now = new Date()): string {
  return `pbx-backup-${hostname().replace(/[^A-Za-z0-9.-]/g, '_')}-${now.toISOString().replace(/[-:]/g, '').replace(/\.\d+Z$/, 'Z')}.tar.gz`;
}

export async function createBackup(config: Config, db: Db, opts: BackupOptions, say: Say): Promise<{ file: string; manifest: Manifest }> {
  const out = path.resolve(opts.out);
  if (await stat(out).catch(() => null)) throw new BackupError(`${out} exists: remove it or choose another --out`);
  if (opts.withEnv && !opts.envFile) throw new BackupError('--with-env needs the env file: give --env-file FILE (or PBX_ENV_FILE)');
  const dirs = siteFolders(config);
  const overlap = overlappingFolders(FOLDERS.map((name) => ({ name, dir: dirs[name] })));
  if (overlap) throw new BackupError(`cannot archive the folders side by side: ${overlap}`);

  await checkDatabase(db, config);
  const staging = await mkdtemp(path.join(path.dirname(out), '.pbx-backup-'));
  const partial = `${out}.partial`;
  try {
    const database = await dumpDatabase(config, db, path.join(staging, DUMP_FILE), say);
    const folders = {} as Record<FolderName, FolderSummary>;
    for (const name of FOLDERS) {
      folders[name] = await summarizeFolder(dirs[name]);
      say(`${name}: ${folders[name].present ? `${folders[name].files} files, ${formatBytes(folders[name].bytes)} in ${dirs[name]}` : `${dirs[name]} does not exist, skipped`}`);
    }
    if (opts.withEnv) {
      await copyFile(opts.envFile!, path.join(staging, ENV_FILE));
      await chmod(path.join(staging, ENV_FILE), 0o600);
      say(`env file: ${opts.envFile} (secret: passwords and PBX_SECRET_KEY; keep the archive safe)`);
    }
    const manifest: Manifest = {
      format: MANIFEST_FORMAT,
      version: VERSION,
      createdAt: new Date().toISOString(),
      host: hostname(),
      database,
      folders,
      env: opts.withEnv ? { file: ENV_FILE, from: opts.envFile!, secret: true } : null,
    };
    await writeFile(path.join(staging, MANIFEST_FILE), `${JSON.stringify(manifest, null, 2)}\n`, { mode: 0o600 });

    const total = database.bytes + FOLDERS.reduce((n, f) => n + folders[f].bytes, 0);
    say(`archive: writing ${out} (about ${formatBytes(total)} to read)`);
    const members = [MANIFEST_FILE, DUMP_FILE, ...(opts.withEnv ? [ENV_FILE] : [])];
    const present = FOLDERS.filter((f) => folders[f].present);
    const args = [
      '--create', '--file=-', '--warning=no-file-changed', ...present.map((f) => `--transform=${tarTransform(dirs[f], f)}`),
      `--directory=${staging}`, ...members,
      ...(present.length ? ['--directory=/', ...present.map((f) => path.resolve(dirs[f]).slice(1))] : []),
    ];
    // Exit 1: a file changed while it was read (a recording being written); the archive is whole.
    const tar = startTool('tar', args, { stdout: 'pipe', okExitCodes: [0, 1] });
    const counter = progressCounter(total, opts.progressEveryMs ?? 5_000, say, 'archive');
    await Promise.all([
      pipeline(tar.child.stdout!, counter, createGzip({ level: 1 }), createWriteStream(partial, { mode: 0o600, flags: 'wx' })),
      tar.done,
    ]);
    await chmod(partial, 0o600); // the mode above is cut by the umask, never widened
    await rename(partial, out);
    const size = (await stat(out)).size;
    say(`wrote ${out} (${formatBytes(size)}, mode 0600): database ${database.name} at ${database.migration ?? 'no migration'}, ${Object.keys(database.counts).length} tables; `
      + `${FOLDERS.map((f) => `${f} ${folders[f].files} files`).join(', ')}${opts.withEnv ? '; the env file (SECRET)' : '; no env file'}`);
    return { file: out, manifest };
  } catch (err) {
    await unlink(partial).catch(() => undefined);
    throw err;
  } finally {
    await rm(staging, { recursive: true, force: true });
  }
}

/** pg_dump of the site database from a snapshot, and that snapshot's row counts. */
async function dumpDatabase(config: Config, db: Db, file: string, say: Say): Promise<Manifest['database']> {
  say(`database: dumping ${config.db.name} on ${config.db.host}:${config.db.port} (pg_dump, custom format, one snapshot)`);
  const started = Date.now();
  return db.transaction().setIsolationLevel('repeatable read').setAccessMode('read only').execute(async (tx) => {
    const snapshot = (await sql<{ id: string }>`select pg_export_snapshot() as id`.execute(tx)).rows[0]!.id;
    const counts = await tableCounts(tx);
    const migration = await lastMigration(tx);
    const version = await serverVersion(tx);
    // The snapshot lives while this transaction is open: pg_dump runs inside it.
    await startTool('pg_dump', ['--format=custom', `--snapshot=${snapshot}`, `--file=${file}`], { env: pgEnv(config.db, 'pbx-backup') }).done;
    const bytes = (await stat(file)).size;
    const rows = Object.values(counts).reduce((a, b) => a + b, 0);
    say(`database: ${formatBytes(bytes)} dumped in ${((Date.now() - started) / 1000).toFixed(1)} s: ${Object.keys(counts).length} tables, ${rows} rows, schema at ${migration ?? 'no migration'}`);
    return { name: config.db.name, migration, serverVersion: version, file: DUMP_FILE, dumpFormat: 'custom' as const, bytes, counts };
  });
}
