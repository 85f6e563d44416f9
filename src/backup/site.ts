/**
 * What a site holds (adapter): the folders a backup carries (from the configuration), their file
 * counts and sizes, and the database's row counts and schema migration.
 */
import { stat } from 'node:fs/promises';
import path from 'node:path';
import { sql } from 'kysely';
import type { Config } from '../config.js';
import type { DbOrTx } from '../db/database.js';
import { walkFiles } from '../recordings/disk.js';
import { BackupError, type FolderName, type FolderSummary } from './archive.js';

/** The site's folders on this machine, as the configuration names them. */
export function siteFolders(config: Config): Record<FolderName, string> {
  return { recordings: config.recordings.dir, voicemail: path.join(config.dataDir, 'voicemail'), prompts: config.prompts.dir };
}

/** Files under `dir` and their bytes (a missing folder: present false). */
export async function summarizeFolder(dir: string): Promise<FolderSummary> {
  const info = await stat(dir).catch(() => null);
  if (!info?.isDirectory()) return { from: dir, present: false, files: 0, bytes: 0 };
  let bytes = 0;
  const files = await walkFiles(dir);
  for (const f of files) bytes += (await stat(path.join(dir, f))).size;
  return { from: dir, present: true, files: files.length, bytes };
}

/** Rows of every table in schema public but Kysely's own (the migration is named apart), in the caller's transaction. */
export async function tableCounts(db: DbOrTx): Promise<Record<string, number>> {
  const tables = await sql<{ name: string }>`select table_name as name from information_schema.tables
    where table_schema = 'public' and table_type = 'BASE TABLE' and table_name not in ('kysely_migration', 'kysely_migration_lock') order by table_name`.execute(db);
  const counts: Record<string, number> = {};
  for (const { name } of tables.rows) {
    const r = await sql<{ n: string }>`select count(*)::text as n from ${sql.table(name)}`.execute(db);
    counts[name] = Number(r.rows[0]!.n);
  }
  return counts;
}

/** The last migration applied (null: the database was never migrated). */
export async function lastMigration(db: DbOrTx): Promise<string | null> {
  const table = await sql<{ t: string | null }>`select to_regclass('public.kysely_migration')::text as t`.execute(db);
  if (table.rows[0]?.t == null) return null;
  return (await sql<{ name: string | null }>`select max(name) as name from kysely_migration`.execute(db)).rows[0]?.name ?? null;
}

export async function serverVersion(db: DbOrTx): Promise<string> {
  return (await sql<{ v: string }>`show server_version`.execute(db)).rows[0]!.v;
}

/**
 * Voicemail rows name their files by absolute path (<PBX_DATA_DIR>/voicemail/<mailbox>/...):
 * restored into another folder, the paths under `from` are moved to `to`. Returns the rows moved.
 */
export async function moveVoicemailPaths(db: DbOrTx, from: string, to: string): Promise<number> {
  const old = from.replace(/\/+$/, '');
  const now = to.replace(/\/+$/, '');
  if (old === now) return 0;
  let moved = 0;
  for (const table of ['voicemail_messages', 'voicemail_greetings'] as const) {
    const r = await db.updateTable(table)
      .set({ file_path: sql<string>`${now} || substr(file_path, ${old.length + 1})` })
      .where(sql<boolean>`starts_with(file_path, ${`${old}/`})`)
      .executeTakeFirst();
    moved += Number(r.numUpdatedRows);
  }
  return moved;
}

/** The site database answers, or a BackupError that says what to do. */
export async function checkDatabase(db: DbOrTx, config: Config): Promise<void> {
  try {
    await sql`select 1`.execute(db);
  } catch (err) {
    throw new BackupError(`database ${config.db.name} on ${config.db.host}:${config.db.port}: ${(err as Error).message} (make setup creates the database; pbx doctor checks the settings)`);
  }
}
