/**
 * The migrations folder as a Kysely migration provider for tests that migrate step by step
 * (a migration's up/down against rows written before it). Loaded through vitest, which compiles
 * the .ts files (Kysely's own file provider cannot).
 */
import { readdir } from 'node:fs/promises';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import pg from 'pg';
import { Migrator, type Migration, type MigrationProvider } from 'kysely';
import { REPO } from './asterisk.js';
import { openDb } from './db.js';
import type { DbSettings } from './env.js';
import type { Db } from '../../src/db/database.js';

export const migrationsFolder: MigrationProvider = {
  async getMigrations(): Promise<Record<string, Migration>> {
    const dir = path.join(REPO, 'migrations');
    const files = (await readdir(dir)).filter((f) => f.endsWith('.ts')).sort();
    const out: Record<string, Migration> = {};
    for (const f of files) out[f.replace(/\.ts$/, '')] = (await import(pathToFileURL(path.join(dir, f)).href)) as Migration;
    return out;
  },
};

/**
 * A new database `settings.name` migrated up to just before `migration` (`before`, the one it ends
 * at): write the rows it is to find, then `migrateTo(migration)`. The caller destroys `db` (and
 * drops the database).
 */
export async function databaseBefore(settings: DbSettings, migration: string): Promise<{ db: Db; migrator: Migrator; before: string }> {
  const admin = new pg.Client({ ...settings, database: 'postgres' });
  await admin.connect();
  await admin.query(`CREATE DATABASE ${settings.name}`).finally(() => admin.end());
  const db = openDb(settings);
  const migrator = new Migrator({ db, provider: migrationsFolder });
  const names = (await migrator.getMigrations()).map((m) => m.name);
  const before = names[names.indexOf(migration) - 1]!;
  const { error } = await migrator.migrateTo(before);
  if (error) {
    await db.destroy();
    throw error instanceof Error ? error : new Error(String(error));
  }
  return { db, migrator, before };
}
