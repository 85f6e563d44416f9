import { sql, type Kysely } from 'kysely';

// Frozen in time: never import from src/.
//
// Preview mode (docs/campaigns.md#preview-mode): the dialer offers a contact to one agent before
// dialing it. The offer is the attempt itself, in the new state 'offered' with the agent it is
// offered to (agent_id), until the agent accepts it ('queued': dialed as in the other modes),
// skips it or lets it time out ('ended', outcome 'skipped' or 'expired'). preview_seconds: how
// long an offer waits for the agent's answer.
export async function up(db: Kysely<any>): Promise<void> {
  await db.schema
    .alterTable('campaigns')
    .addColumn('preview_seconds', 'integer', (c) => c.notNull().defaultTo(30).check(sql`preview_seconds between 5 and 300`))
    .execute();
  await sql`alter table campaign_attempts drop constraint campaign_attempts_state_check`.execute(db);
  await sql`alter table campaign_attempts add constraint campaign_attempts_state_check check (state in ('offered','queued','dialing','answered','connected','ended'))`.execute(db);
  await sql`create unique index campaign_attempts_offer_per_agent on campaign_attempts (agent_id) where state = 'offered'`.execute(db);
}

export async function down(db: Kysely<any>): Promise<void> {
  await sql`drop index campaign_attempts_offer_per_agent`.execute(db);
  await sql`delete from campaign_attempts where state = 'offered'`.execute(db);
  await sql`alter table campaign_attempts drop constraint campaign_attempts_state_check`.execute(db);
  await sql`alter table campaign_attempts add constraint campaign_attempts_state_check check (state in ('queued','dialing','answered','connected','ended'))`.execute(db);
  await db.schema.alterTable('campaigns').dropColumn('preview_seconds').execute();
}
