/**
 * The migrations folder as a Kysely migration provider for tests that migrate step by step
 * (a migration's up/down against rows written before it). Loaded through vitest, which compiles
 * the .ts files (Kysely's own file provider cannot).
 */
import { readdir } from 'node:fs/promises';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import type { Migration, MigrationProvider } from 'kysely';
import { REPO } from './asterisk.js';

export const migrationsFolder: MigrationProvider = {
  async getMigrations(): Promise<Record<string, Migration>> {
    const dir = path.join(REPO, 'migrations');
    const files = (await readdir(dir)).filter((f) => f.endsWith('.ts')).sort();
    const out: Record<string, Migration> = {};
    for (const f of files) out[f.replace(/\.ts$/, '')] = (await import(pathToFileURL(path.join(dir, f)).href)) as Migration;
    return out;
  },
};
