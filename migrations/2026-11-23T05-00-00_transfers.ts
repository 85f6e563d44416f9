import { sql, type Kysely } from 'kysely';

// Frozen in time: never import from src/.
// Transfers: a transferred call is written as one CDR per part (before and after the transfer).
// The parts share linked_id, the call_id of the first part; a call never transferred links to itself.
export async function up(db: Kysely<any>): Promise<void> {
  await db.schema.alterTable('cdrs').addColumn('linked_id', 'varchar(64)').execute();
  await sql`update cdrs set linked_id = call_id where linked_id is null`.execute(db);
  await db.schema.createIndex('cdrs_linked_id_idx').on('cdrs').column('linked_id').execute();
}

export async function down(db: Kysely<any>): Promise<void> {
  await db.schema.dropIndex('cdrs_linked_id_idx').ifExists().execute();
  await db.schema.alterTable('cdrs').dropColumn('linked_id').execute();
}
