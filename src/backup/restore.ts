/**
 * `pbx restore FILE`: bring a site back from a `pbx backup` archive, on this machine's database
 * and folders (from the configuration, so the paths may differ from the backed-up machine's).
 *
 *  1. the manifest is read and checked; a database that holds a site (rows in SITE_TABLES) is
 *     refused unless --force;
 *  2. the dump replaces schema public in ONE transaction (pg_restore's SQL into psql
 *     --single-transaction, after dropping and re-making the schema): a failed restore leaves
 *     the database as it was. Owners and grants of the old site are not restored (--no-owner
 *     --no-acl): everything belongs to this machine's PBX_DB_USER;
 *  3. migrations run up to this code's latest, so an older backup is upgraded;
 *  4. the folders are extracted into this machine's folders (files of the same name replaced,
 *     others kept) and, when run as root and the user pbx exists, given to pbx (the group of
 *     each folder kept: Asterisk writes recordings through it); voicemail rows, which name their
 *     files by absolute path, are moved to this machine's voicemail folder;
 *  5. the counts are compared with the manifest's, and printed.
 * The env file, when the archive has one, is written beside this machine's as
 * pbx.env.from-backup (0600), never over it: its passwords are the old machine's. Its
 * PBX_SECRET_KEY is what opens the SIP passwords kept for provisioning.
 */
import { lstat, lchown, mkdir, mkdtemp, readdir, rm, stat, writeFile } from 'node:fs/promises';
import { createReadStream } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { pipeline } from 'node:stream/promises';
import { parseEnv } from 'node:util';
import type { Config } from '../config.js';
import type { Db } from '../db/database.js';
import { migrateToLatest } from '../db/migrate.js';
import { sipSecretContext } from '../extensions/sip-credentials.js';
import { SecretBox } from '../shared/secret-box.js';
import {
  BackupError, DUMP_FILE, ENV_FILE, FOLDERS, MANIFEST_FILE, compareCounts, countLines, folderMember, formatBytes,
  parseManifest, siteTablesWithRows, tarRestoreTransform, type CountRow, type FolderName, type Manifest,
} from './archive.js';
import { checkDatabase, moveVoicemailPaths, siteFolders, summarizeFolder, tableCounts } from './site.js';
import { pgEnv, progressCounter, runTool, startTool } from './tools.js';

export interface RestoreOptions {
  readonly file: string;
  /** Replace a database that holds a site. */
  readonly force: boolean;
  /** The env file in use (--env-file or PBX_ENV_FILE): the archived one is written beside it. */
  readonly envFile: string | null;
}

export interface RestoreReport {
  readonly manifest: Manifest;
  readonly migrationsApplied: string[];
  readonly counts: CountRow[];
  readonly folders: Record<FolderName, { readonly dir: string; readonly files: number }>;
  /** Where the archived env file was written (null: the archive has none). */
  readonly envWritten: string | null;
  /** Whether this machine's PBX_SECRET_KEY opens the restored SIP passwords (null: none kept). */
  readonly sipSecretsOpen: boolean | null;
}

type Say = (line: string) => void;

const PROGRESS_EVERY_MS = 5_000;

/** Replaces what schema public holds; the dump does not make the schema itself. */
const PREAMBLE = `SET client_min_messages = warning;
DROP SCHEMA IF EXISTS public CASCADE;
CREATE SCHEMA public AUTHORIZATION pg_database_owner;
GRANT USAGE ON SCHEMA public TO PUBLIC;
`;

export async function readManifest(file: string): Promise<Manifest> {
  if (!(await stat(file).catch(() => null))?.isFile()) throw new BackupError(`${file}: no such file`);
  return parseManifest(await runTool('tar', ['--extract', '--gzip', `--file=${file}`, '--to-stdout', '--occurrence=1', MANIFEST_FILE]));
}

export async function restoreBackup(config: Config, db: Db, opts: RestoreOptions, say: Say): Promise<RestoreReport> {
  const file = path.resolve(opts.file);
  const manifest = await readManifest(file);
  say(`backup of ${manifest.host} made ${manifest.createdAt} by pbx ${manifest.version}: database ${manifest.database.name} at ${manifest.database.migration ?? 'no migration'}`);

  await checkDatabase(db, config);
  const site = siteTablesWithRows(await tableCounts(db));
  if (site.length > 0) {
    const held = `database ${config.db.name} holds a site (rows in ${site.join(', ')})`;
    if (!opts.force) throw new BackupError(`${held}: restoring replaces it; add --force to do so`);
    say(`${held}: replaced (--force)`);
  }

  // The dump is extracted to a file first (pg_restore reading a pipe cannot restore out of order): TMPDIR needs room for it.
  const work = await mkdtemp(path.join(tmpdir(), 'pbx-restore-'));
  try {
    await runTool('tar', ['--extract', '--gzip', `--file=${file}`, `--directory=${work}`, '--occurrence=1', DUMP_FILE]);
    say(`database: restoring ${formatBytes(manifest.database.bytes)} into ${config.db.name} on ${config.db.host}:${config.db.port} (one transaction)`);
    const started = Date.now();
    await restoreDump(config, path.join(work, DUMP_FILE));
    say(`database: restored in ${((Date.now() - started) / 1000).toFixed(1)} s`);
  } finally {
    await rm(work, { recursive: true, force: true });
  }

  const { error, results } = await migrateToLatest(db);
  const migrationsApplied = (results ?? []).filter((r) => r.status === 'Success').map((r) => r.migrationName);
  if (error) throw new BackupError(`the restored database did not migrate: ${(error as Error).message}`);
  say(migrationsApplied.length ? `database: upgraded with ${migrationsApplied.length} migration(s): ${migrationsApplied.join(', ')}` : 'database: schema already current');

  const folders = await restoreFolders(config, file, manifest, say);
  const moved = await moveVoicemailPaths(db, manifest.folders.voicemail.from, folders.voicemail.dir);
  if (moved > 0) say(`voicemail: ${moved} message and greeting paths moved from ${manifest.folders.voicemail.from} to ${folders.voicemail.dir}`);
  const envWritten = manifest.env ? await restoreEnvFile(config, file, opts.envFile, say) : null;
  if (!manifest.env) say('env file: not in the backup; this machine\'s PBX_SECRET_KEY must be the old one for provisioning to read SIP passwords');
  const sipSecretsOpen = await sipSecretsReadable(config, db);
  if (sipSecretsOpen === false) say('WARN  the SIP passwords kept for provisioning do not open with this PBX_SECRET_KEY: set the old key in the env file, or rotate every extension\'s password');
  else if (sipSecretsOpen) say('ok    SIP passwords open with this PBX_SECRET_KEY');

  const counts = compareCounts(manifest.database.counts, await tableCounts(db));
  for (const line of countLines(counts)) say(line);
  say('restored: start the daemon (systemctl start pbx, or make run), then run pbx doctor and pbx test-call');
  return { manifest, migrationsApplied, counts, folders, envWritten, sipSecretsOpen };
}

/** pg_restore's SQL, after PREAMBLE, into psql as one transaction that stops at the first error. */
async function restoreDump(config: Config, dump: string): Promise<void> {
  const env = pgEnv(config.db, 'pbx-restore');
  const psql = startTool('psql', ['--no-psqlrc', '--quiet', '--set=ON_ERROR_STOP=1', '--single-transaction', '--file=-'], { env, stdin: 'pipe' });
  const restore = startTool('pg_restore', ['--no-owner', '--no-acl', '--file=-', dump], { env, stdout: 'pipe' });
  psql.child.stdin!.write(PREAMBLE);
  // psql may stop first (an error): its stdin then breaks, and its own failure is the one to report.
  const piped = pipeline(restore.child.stdout!, psql.child.stdin!).catch(() => undefined);
  const [psqlResult, restoreResult] = await Promise.allSettled([psql.done, restore.done, piped]);
  if (psqlResult.status === 'rejected') throw psqlResult.reason as Error;
  if (restoreResult.status === 'rejected') throw restoreResult.reason as Error;
}

/**
 * The folders in one pass over the archive (tar -C / renaming files/<name> to this machine's
 * folders; existing folders keep their owner and mode), the archive fed through a byte counter
 * for the progress lines.
 */
async function restoreFolders(config: Config, file: string, manifest: Manifest, say: Say): Promise<RestoreReport['folders']> {
  const dirs = siteFolders(config);
  const owner = await pbxOwner();
  const wanted = FOLDERS.filter((name) => manifest.folders[name].files > 0);
  if (wanted.length > 0) {
    for (const name of wanted) {
      say(`${name}: extracting ${manifest.folders[name].files} files (${formatBytes(manifest.folders[name].bytes)}) into ${dirs[name]}`);
      await mkdir(dirs[name], { recursive: true });
    }
    const tar = startTool('tar', [
      '--extract', '--gzip', '--file=-', '--directory=/', '--no-same-owner', '--no-overwrite-dir',
      ...wanted.map((name) => `--transform=${tarRestoreTransform(name, path.resolve(dirs[name]))}`), ...wanted.map(folderMember),
    ], { stdin: 'pipe' });
    const counter = progressCounter((await stat(file)).size, PROGRESS_EVERY_MS, say, 'files', ' of the archive read');
    // tar may stop first (an error): its stdin then breaks, and its own failure is the one to report.
    const fed = pipeline(createReadStream(file), counter, tar.child.stdin!).catch(() => undefined);
    await Promise.all([tar.done, fed]);
    if (owner) for (const name of wanted) await giveTo(dirs[name], owner.uid);
  }
  const out = {} as Record<FolderName, { dir: string; files: number }>;
  for (const name of FOLDERS) {
    const m = manifest.folders[name];
    const now = await summarizeFolder(dirs[name]);
    out[name] = { dir: dirs[name], files: now.files };
    say(`${name}: ${now.files} files in ${dirs[name]} (backup: ${m.files})${m.files > 0 ? (owner ? ', owned by pbx' : `, owned by uid ${process.getuid?.() ?? '?'} (not root, or no user pbx)`) : ''}`);
  }
  return out;
}

/** The user pbx, when this runs as root and it exists. */
async function pbxOwner(): Promise<{ uid: number } | null> {
  if (process.getuid?.() !== 0) return null;
  const out = await runTool('id', ['-u', 'pbx']).catch(() => null);
  return out && /^\d+$/.test(out.trim()) ? { uid: Number(out.trim()) } : null;
}

/** Everything under `dir` to `uid`, each entry keeping the folder's group. */
async function giveTo(dir: string, uid: number): Promise<void> {
  const gid = (await stat(dir)).gid;
  const visit = async (at: string): Promise<void> => {
    for (const e of await readdir(at, { withFileTypes: true })) {
      const p = path.join(at, e.name);
      await lchown(p, uid, gid);
      if (e.isDirectory() && !(await lstat(p)).isSymbolicLink()) await visit(p);
    }
  };
  await visit(dir);
}

async function restoreEnvFile(config: Config, file: string, envFile: string | null, say: Say): Promise<string> {
  const text = await runTool('tar', ['--extract', '--gzip', `--file=${file}`, '--to-stdout', '--occurrence=1', ENV_FILE]);
  // Beside the env file in use; with none known, in the data folder (never the working directory).
  const target = path.join(envFile ? path.dirname(path.resolve(envFile)) : config.dataDir, `${ENV_FILE}.from-backup`);
  await writeFile(target, text, { mode: 0o600 });
  const oldKey = parseEnv(text)['PBX_SECRET_KEY'];
  say(`env file: the old machine's written to ${target} (0600; this machine's env file is not changed)`);
  if (oldKey && oldKey !== config.secretKey) say('WARN  its PBX_SECRET_KEY differs from this machine\'s: copy it into the env file in use (then restart the daemon), or rotate every extension\'s password');
  return target;
}

/** Whether one SIP password kept for provisioning opens with this machine's key (null: none kept). */
async function sipSecretsReadable(config: Config, db: Db): Promise<boolean | null> {
  const row = await db.selectFrom('sip_secrets').select(['extension_number', 'sealed_password']).limit(1).executeTakeFirst();
  if (!row) return null;
  try {
    new SecretBox(Buffer.from(config.secretKey, 'base64')).open(row.sealed_password, sipSecretContext(row.extension_number));
    return true;
  } catch {
    return false;
  }
}
