import type { Kysely } from 'kysely';

// Frozen in time: never import from src/.
//
// Live supervision (docs/supervision.md): an extension may supervise from its phone (*55) only
// when an admin allowed it. Off for every extension until then.
export async function up(db: Kysely<any>): Promise<void> {
  await db.schema.alterTable('extensions').addColumn('can_supervise', 'boolean', (c) => c.notNull().defaultTo(false)).execute();
}

export async function down(db: Kysely<any>): Promise<void> {
  await db.schema.alterTable('extensions').dropColumn('can_supervise').execute();
}
