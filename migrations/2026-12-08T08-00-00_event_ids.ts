import { sql, type Kysely } from 'kysely';

// Frozen in time: never import from src/.
//
// Event stream ids (docs/events.md#ids): each daemon run takes the next block number and numbers
// its events within it (block * 2^32 + n), so ids grow across restarts and never collide between
// daemons, without a write per event.
export async function up(db: Kysely<any>): Promise<void> {
  await sql`create sequence event_id_blocks minvalue 1 maxvalue 2097151 no cycle`.execute(db);
}

export async function down(db: Kysely<any>): Promise<void> {
  await sql`drop sequence if exists event_id_blocks`.execute(db);
}
