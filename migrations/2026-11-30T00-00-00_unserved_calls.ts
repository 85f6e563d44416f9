import { sql, type Kysely } from 'kysely';

// Frozen in time: never import from src/.
//
// A call that arrives while no daemon is connected to ARI never reaches call control: the dialplan
// fallback (asterisk/extensions.conf, [pbx-inbound] "unavailable") plays the unavailable prompt and
// hangs up. Asterisk itself writes such a call here (realtime family unserved_calls, func_realtime):
// one row when the fallback starts, and the hangup cause from a hangup handler when it ends. A
// daemon turns the rows into CDRs (src/calls/unserved.ts) once it is connected again.
//
// Both times come from Postgres' clock (started_at by default, ended_at by the trigger when the
// cause is written), so the dialplan does no time formatting. Every column is text as Asterisk
// writes it (the cause may be empty); the daemon parses and cleans it.
export async function up(db: Kysely<any>): Promise<void> {
  await db.schema
    .createTable('unserved_calls')
    .addColumn('uniqueid', 'varchar(150)', (c) => c.primaryKey())
    .addColumn('channel', 'varchar(200)')
    .addColumn('caller', 'varchar(80)')
    .addColumn('dialed', 'varchar(80)')
    .addColumn('cause', 'varchar(16)')
    .addColumn('started_at', 'timestamptz', (c) => c.notNull().defaultTo(sql`now()`))
    .addColumn('ended_at', 'timestamptz')
    .execute();
  await sql`
    create function pbx_unserved_ended() returns trigger language plpgsql as $$
    begin
      if new.cause is not null and old.ended_at is null then
        new.ended_at := now();
      end if;
      return new;
    end $$`.execute(db);
  await sql`create trigger unserved_calls_ended before update on unserved_calls for each row execute function pbx_unserved_ended()`.execute(db);
}

export async function down(db: Kysely<any>): Promise<void> {
  await db.schema.dropTable('unserved_calls').ifExists().execute();
  await sql`drop function if exists pbx_unserved_ended()`.execute(db);
}
