import { sql, type Kysely } from 'kysely';

// Frozen in time: never import from src/.
//
// Asterisk writes a phone's registration to ps_contacts (realtime), but emits no AMI ContactStatus
// event for endpoints made after it started (they are unknown to its qualify machinery until a
// res_pjsip reload). The daemon needs to know when a phone registers or goes (BLF lamps of
// extensions, the mailbox lamp of a phone that just registered), so: NOTIFY pbx_contacts
// '<insert|update|delete>:<endpoint>' after each change of a contact row, whoever makes it.
export async function up(db: Kysely<any>): Promise<void> {
  await sql`
    create function pbx_contact_notify() returns trigger language plpgsql as $$
    declare
      row_endpoint text;
    begin
      if tg_op = 'DELETE' then
        row_endpoint := old.endpoint;
      else
        row_endpoint := new.endpoint;
      end if;
      if row_endpoint is not null then
        perform pg_notify('pbx_contacts', lower(tg_op) || ':' || row_endpoint);
      end if;
      return null;
    end $$`.execute(db);
  await sql`create trigger ps_contacts_notify after insert or update or delete on ps_contacts for each row execute function pbx_contact_notify()`.execute(db);
}

export async function down(db: Kysely<any>): Promise<void> {
  await sql`drop trigger if exists ps_contacts_notify on ps_contacts`.execute(db);
  await sql`drop function if exists pbx_contact_notify()`.execute(db);
}
