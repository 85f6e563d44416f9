import { sql, type Kysely } from 'kysely';

// Frozen in time: never import from src/.
//
// Calls the dialplan fallback served while Postgres refused their unserved_calls row (down as
// well as the daemon) are appended by Asterisk to a spool file instead (asterisk/extensions.conf,
// FILE()). A daemon reads what was appended since its last read into unserved_calls
// (src/calls/unserved-file.ts); how far each file has been read is kept here, updated in the same
// transaction as the rows, so every line becomes a row once.
//
// Rows read from the file carry their own end time (the line's), so the trigger stamps ended_at
// only when the update does not set it.
export async function up(db: Kysely<any>): Promise<void> {
  await db.schema
    .createTable('unserved_file_reads')
    .addColumn('file', 'varchar(1000)', (c) => c.primaryKey())
    .addColumn('inode', 'varchar(40)', (c) => c.notNull())
    .addColumn('offset_bytes', 'bigint', (c) => c.notNull())
    .addColumn('updated_at', 'timestamptz', (c) => c.notNull().defaultTo(sql`now()`))
    .execute();
  await sql`
    create or replace function pbx_unserved_ended() returns trigger language plpgsql as $$
    begin
      if new.cause is not null and old.ended_at is null and new.ended_at is null then
        new.ended_at := now();
      end if;
      return new;
    end $$`.execute(db);
}

export async function down(db: Kysely<any>): Promise<void> {
  await db.schema.dropTable('unserved_file_reads').ifExists().execute();
  await sql`
    create or replace function pbx_unserved_ended() returns trigger language plpgsql as $$
    begin
      if new.cause is not null and old.ended_at is null then
        new.ended_at := now();
      end if;
      return new;
    end $$`.execute(db);
}
