import type { Kysely } from 'kysely';

// Frozen in time: never import from src/.
// A live call's mode names its queue ('queue:<name>', names up to 64), flow ('ivr:<name>') or
// callback ('callback:<id>'): varchar(16) cut off all but short names, so the write failed and a
// restarted daemon did not find such a caller's queue or flow.
export async function up(db: Kysely<any>): Promise<void> {
  await db.schema.alterTable('live_calls').alterColumn('mode', (c) => c.setDataType('varchar(80)')).execute();
}

export async function down(db: Kysely<any>): Promise<void> {
  await db.schema.alterTable('live_calls').alterColumn('mode', (c) => c.setDataType('varchar(16)')).execute();
}
