import type { Kysely } from 'kysely';

// Frozen in time: never import from src/.
//
// A CDR notes that a supervisor listened, whispered or barged in on the call (docs/supervision.md).
// False for the calls before.
export async function up(db: Kysely<any>): Promise<void> {
  await db.schema.alterTable('cdrs').addColumn('monitored', 'boolean', (c) => c.notNull().defaultTo(false)).execute();
}

export async function down(db: Kysely<any>): Promise<void> {
  await db.schema.alterTable('cdrs').dropColumn('monitored').execute();
}
