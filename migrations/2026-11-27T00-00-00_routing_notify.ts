import { sql, type Kysely } from 'kysely';

// Frozen in time: never import from src/.
//
// Each daemon keeps the inbound (DID) rules in memory instead of reading them for every call from a
// trunk. NOTIFY pbx_routing '<table>' after any change to inbound_routes, or to flows and queues
// (a rule shows its target's name); daemons LISTEN and read the rules again.
const TABLES = ['inbound_routes', 'flows', 'queues'];

export async function up(db: Kysely<any>): Promise<void> {
  await sql`
    create function pbx_routing_notify() returns trigger language plpgsql as $$
    begin
      perform pg_notify('pbx_routing', tg_table_name);
      return null;
    end $$`.execute(db);
  for (const table of TABLES) {
    await sql`create trigger ${sql.raw(`${table}_routing_notify`)} after insert or update or delete or truncate on ${sql.table(table)} for each statement execute function pbx_routing_notify()`.execute(db);
  }
}

export async function down(db: Kysely<any>): Promise<void> {
  for (const table of TABLES) {
    await sql`drop trigger if exists ${sql.raw(`${table}_routing_notify`)} on ${sql.table(table)}`.execute(db);
  }
  await sql`drop function if exists pbx_routing_notify()`.execute(db);
}
