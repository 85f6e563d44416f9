import { sql, type Kysely } from 'kysely';

// Frozen in time: never import from src/.
//
// The ACD keeps its routing view (agents, queues, members, skills) warm in each daemon's memory
// instead of reading it for every decision. Two things make that safe with several daemons and the
// admin API writing too:
//
//   agents.version   bumped by a trigger on every UPDATE of the row, whoever makes it. A daemon
//                    writes an agent event with `WHERE version = <the version it holds>` (one
//                    statement, optimistic), and falls back to locking the row when that misses.
//   NOTIFY pbx_acd   'agent:<id>:<version>' after any change to an agent row ('<id>:-1' when
//                    deleted); 'config:<table>' after any change to queues, queue_members,
//                    agent_skills or pause_reasons. Daemons LISTEN and reload what changed.
//   queue_call_log   gets its talk_seconds when an answered call ends, found by call_id.
export async function up(db: Kysely<any>): Promise<void> {
  await db.schema.createIndex('queue_call_log_call_idx').on('queue_call_log').column('call_id').execute();
  await db.schema.alterTable('agents').addColumn('version', 'bigint', (c) => c.notNull().defaultTo(0)).execute();
  await sql`
    create function pbx_agent_version() returns trigger language plpgsql as $$
    begin
      new.version := old.version + 1;
      return new;
    end $$`.execute(db);
  await sql`create trigger agents_version before update on agents for each row execute function pbx_agent_version()`.execute(db);
  await sql`
    create function pbx_acd_agent_notify() returns trigger language plpgsql as $$
    begin
      if tg_op = 'DELETE' then
        perform pg_notify('pbx_acd', 'agent:' || old.id || ':-1');
        return old;
      end if;
      perform pg_notify('pbx_acd', 'agent:' || new.id || ':' || new.version);
      return new;
    end $$`.execute(db);
  await sql`create trigger agents_notify after insert or update or delete on agents for each row execute function pbx_acd_agent_notify()`.execute(db);
  await sql`
    create function pbx_acd_config_notify() returns trigger language plpgsql as $$
    begin
      perform pg_notify('pbx_acd', 'config:' || tg_table_name);
      return null;
    end $$`.execute(db);
  for (const table of ['queues', 'queue_members', 'agent_skills', 'pause_reasons']) {
    await sql`create trigger ${sql.raw(`${table}_notify`)} after insert or update or delete or truncate on ${sql.table(table)} for each statement execute function pbx_acd_config_notify()`.execute(db);
  }
}

export async function down(db: Kysely<any>): Promise<void> {
  for (const table of ['queues', 'queue_members', 'agent_skills', 'pause_reasons']) {
    await sql`drop trigger if exists ${sql.raw(`${table}_notify`)} on ${sql.table(table)}`.execute(db);
  }
  await sql`drop trigger if exists agents_notify on agents`.execute(db);
  await sql`drop trigger if exists agents_version on agents`.execute(db);
  await sql`drop function if exists pbx_acd_config_notify()`.execute(db);
  await sql`drop function if exists pbx_acd_agent_notify()`.execute(db);
  await sql`drop function if exists pbx_agent_version()`.execute(db);
  await db.schema.alterTable('agents').dropColumn('version').execute();
  await db.schema.dropIndex('queue_call_log_call_idx').execute();
}
