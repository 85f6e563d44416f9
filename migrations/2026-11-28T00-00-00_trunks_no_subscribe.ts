import { sql, type Kysely } from 'kysely';

// Frozen in time: never import from src/.
// Phones' BLF keys subscribe to extension and agent states in the endpoints' context, which trunks
// share: a trunk (a carrier, or whoever sends from an IP-identified carrier's address) must not be
// able to watch who is on the phone. Trunk endpoints written from now on say so themselves
// (src/trunks/realtime.ts); this sets it on those that exist.
export async function up(db: Kysely<any>): Promise<void> {
  await sql`update ps_endpoints set allow_subscribe = 'no' where id like 'trunk-%'`.execute(db);
}

export async function down(db: Kysely<any>): Promise<void> {
  await sql`update ps_endpoints set allow_subscribe = null where id like 'trunk-%'`.execute(db);
}
