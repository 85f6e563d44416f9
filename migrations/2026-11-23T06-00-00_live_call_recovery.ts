import type { Kysely } from 'kysely';

// Frozen in time: never import from src/.
// What a restarted daemon needs to finish a call it adopts: the linked id of a transferred call's
// parts, and the voicemail recording in progress (so the message is kept, not lost).
export async function up(db: Kysely<any>): Promise<void> {
  await db.schema.alterTable('live_calls').addColumn('linked_id', 'varchar(64)').addColumn('recording_name', 'varchar(128)').execute();
}

export async function down(db: Kysely<any>): Promise<void> {
  await db.schema.alterTable('live_calls').dropColumn('linked_id').dropColumn('recording_name').execute();
}
