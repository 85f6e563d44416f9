import type { Kysely } from 'kysely';

// Frozen in time: never import from src/.
// A call to an extension has a second leg and a bridge; keep them so that a restarted daemon can
// adopt a connected call and still end both legs together.
export async function up(db: Kysely<any>): Promise<void> {
  await db.schema
    .alterTable('live_calls')
    .addColumn('mode', 'varchar(16)', (c) => c.notNull().defaultTo('routing'))
    .addColumn('peer_channel_id', 'varchar(128)')
    .addColumn('bridge_id', 'varchar(128)')
    .execute();
}

export async function down(db: Kysely<any>): Promise<void> {
  await db.schema.alterTable('live_calls').dropColumn('mode').dropColumn('peer_channel_id').dropColumn('bridge_id').execute();
}
