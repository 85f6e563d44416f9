import { readdir } from 'node:fs/promises';
import { fileURLToPath, pathToFileURL } from 'node:url';
import path from 'node:path';
import { Migrator, type Kysely, type Migration, type MigrationProvider, type MigrationResultSet } from 'kysely';

/**
 * Migrations live in the top-level migrations/ folder. From src/db this is ../../migrations;
 * from the compiled dist/src/db it is dist/migrations. Both .ts (tests) and .js (built) load.
 */
const MIGRATIONS_DIR = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../migrations');

class FolderMigrationProvider implements MigrationProvider {
  constructor(private readonly dir: string) {}
  async getMigrations(): Promise<Record<string, Migration>> {
    const out: Record<string, Migration> = {};
    const files = (await readdir(this.dir)).filter((f) => /\.(ts|js)$/.test(f) && !f.endsWith('.d.ts')).sort();
    for (const file of files) {
      const name = file.replace(/\.(ts|js)$/, '');
      out[name] = (await import(pathToFileURL(path.join(this.dir, file)).href)) as Migration;
    }
    return out;
  }
}

export async function migrateToLatest(db: Kysely<any>, dir = MIGRATIONS_DIR): Promise<MigrationResultSet> {
  const migrator = new Migrator({ db, provider: new FolderMigrationProvider(dir) });
  return migrator.migrateToLatest();
}
