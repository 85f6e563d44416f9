import { sql, type Kysely } from 'kysely';

// Frozen in time: never import from src/.
//
// Screen pop on the handset (docs/acd.md#screen-pop-on-the-handset):
// - queues.caller_id_template: what an agent's phone shows as the caller-ID name while a call of
//   this queue rings it (e.g. 'SALES:{caller} {account}'); null: the caller's name or number.
// - queues.alert_info: the Alert-Info header of this queue's offers (distinctive ring); null: none.
// - agents.auto_answer: the agent works on a headset; their phone is asked to answer offers at
//   once (Alert-Info / Call-Info answer-after=0). Existing agents: false.
export async function up(db: Kysely<any>): Promise<void> {
  await sql`alter table queues
    add column caller_id_template text
      constraint queues_caller_id_template_check check (char_length(caller_id_template) between 1 and 64),
    add column alert_info text
      constraint queues_alert_info_check check (char_length(alert_info) between 1 and 200)`.execute(db);
  await sql`alter table agents add column auto_answer boolean not null default false`.execute(db);
}

export async function down(db: Kysely<any>): Promise<void> {
  await sql`alter table agents drop column auto_answer`.execute(db);
  await sql`alter table queues drop column caller_id_template, drop column alert_info`.execute(db);
}
