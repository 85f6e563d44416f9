import { sql, type Kysely } from 'kysely';

// Frozen in time: never import from src/.
//
// Outbound campaigns (issue #18, docs/campaigns.md): a campaign dials its contacts (imported from
// CSV) through a trunk, and answered contacts are connected to the agents of one queue. Each try
// of a contact is an attempt (id `<contact id>-<n>`: deterministic, so a job run twice or a second
// daemon can never make a second attempt n), and the figures the law asks for (abandons per
// campaign per day) are kept per day in the same transaction as the attempt's outcome.
export async function up(db: Kysely<any>): Promise<void> {
  await db.schema
    .createTable('campaigns')
    .addColumn('id', 'bigserial', (c) => c.primaryKey())
    .addColumn('name', 'varchar(64)', (c) => c.notNull().unique().check(sql`name ~ '^[a-z0-9][a-z0-9-]{0,63}$'`))
    .addColumn('mode', 'varchar(12)', (c) => c.notNull().check(sql`mode in ('preview','progressive','predictive','agentless')`))
    // draft -> running <-> paused -> stopped; finished when no contact is left to try
    .addColumn('state', 'varchar(10)', (c) => c.notNull().defaultTo('draft').check(sql`state in ('draft','running','paused','stopped','finished')`))
    // the agents who work it (null only for agentless without a "press 1" transfer)
    .addColumn('queue_id', 'bigint', (c) => c.references('queues.id').onDelete('restrict'))
    .addColumn('trunk_id', 'bigint', (c) => c.notNull().references('trunks.id').onDelete('restrict'))
    .addColumn('caller_id', 'varchar(20)', (c) => c.notNull().check(sql`caller_id ~ '^\\+?[0-9]{3,19}$'`))
    .addColumn('caller_name', 'varchar(40)')
    // calling window in the contact's local time, 'HH:MM' (end exclusive)
    .addColumn('window_start', 'varchar(5)', (c) => c.notNull().defaultTo('08:00').check(sql`window_start ~ '^([01][0-9]|2[0-3]):[0-5][0-9]$'`))
    .addColumn('window_end', 'varchar(5)', (c) => c.notNull().defaultTo('21:00').check(sql`window_end ~ '^([01][0-9]|2[0-3]):[0-5][0-9]$'`))
    // ISO weekdays (1 = Monday) the campaign may call on, in the contact's local time
    .addColumn('window_days', 'jsonb', (c) => c.notNull().defaultTo(sql`'[1,2,3,4,5,6]'::jsonb`))
    // the country numbers without + are read in (ISO 3166 alpha-2)
    .addColumn('default_country', 'varchar(2)', (c) => c.notNull().defaultTo('US').check(sql`default_country ~ '^[A-Z]{2}$'`))
    // per outcome (busy, no-answer, machine, failed, abandoned): { delayMinutes, maxAttempts }
    .addColumn('retry_rules', 'jsonb', (c) => c.notNull())
    .addColumn('max_attempts', 'integer', (c) => c.notNull().defaultTo(5).check(sql`max_attempts between 1 and 50`))
    // attempts per day (campaign's time zone), null: no limit
    .addColumn('daily_limit', 'integer', (c) => c.check(sql`daily_limit > 0`))
    .addColumn('time_zone', 'varchar(64)', (c) => c.notNull().defaultTo('UTC'))
    .addColumn('abandon_cap', sql`numeric(5,4)`, (c) => c.notNull().defaultTo(0.03).check(sql`abandon_cap >= 0 and abandon_cap <= 0.03`))
    .addColumn('ring_seconds', 'integer', (c) => c.notNull().defaultTo(25).check(sql`ring_seconds between 15 and 120`))
    .addColumn('connect_seconds', sql`numeric(3,1)`, (c) => c.notNull().defaultTo(2).check(sql`connect_seconds > 0 and connect_seconds <= 2`))
    // pacing: {"mode":"fixed","level":1.5} | {"mode":"predictive","targetAbandonRate":0.03}; progressive ignores it
    .addColumn('pacing', 'jsonb', (c) => c.notNull().defaultTo(sql`'{"mode":"predictive","targetAbandonRate":0.03}'::jsonb`))
    .addColumn('amd', 'boolean', (c) => c.notNull().defaultTo(false))
    .addColumn('machine_action', 'varchar(8)', (c) => c.notNull().defaultTo('hangup').check(sql`machine_action in ('hangup','message')`))
    // prompt names (prompts.name): the machine's message, and what an abandoned caller hears
    .addColumn('machine_prompt', 'varchar(64)')
    .addColumn('abandon_prompt', 'varchar(64)')
    // agentless: the flow answered contacts run ("press 1 to talk to someone" sends them to a queue)
    .addColumn('flow_id', 'bigint', (c) => c.references('flows.id').onDelete('restrict'))
    // [{ code: '1', name: 'sale', success: true, action: 'done' | 'retry' | 'callback' | 'dnc' }]
    .addColumn('dispositions', 'jsonb', (c) => c.notNull().defaultTo(sql`'[]'::jsonb`))
    .addColumn('created_at', 'timestamptz', (c) => c.notNull().defaultTo(sql`now()`))
    .addColumn('updated_at', 'timestamptz', (c) => c.notNull().defaultTo(sql`now()`))
    .execute();

  await db.schema
    .createTable('campaign_imports')
    .addColumn('id', 'uuid', (c) => c.primaryKey())
    .addColumn('campaign_id', 'bigint', (c) => c.references('campaigns.id').onDelete('cascade'))
    // a contact list (campaign_id set) or a DNC list (campaign_id: its campaign, or null site-wide)
    .addColumn('kind', 'varchar(8)', (c) => c.notNull().check(sql`kind in ('contacts','dnc')`))
    .addColumn('state', 'varchar(10)', (c) => c.notNull().defaultTo('queued').check(sql`state in ('queued','running','done','failed')`))
    .addColumn('file_name', 'varchar(200)')
    .addColumn('bytes', 'bigint', (c) => c.notNull().defaultTo(0))
    .addColumn('rows_read', 'integer', (c) => c.notNull().defaultTo(0))
    .addColumn('accepted', 'integer', (c) => c.notNull().defaultTo(0))
    .addColumn('rejected', 'integer', (c) => c.notNull().defaultTo(0))
    // reason -> count
    .addColumn('rejected_by_reason', 'jsonb', (c) => c.notNull().defaultTo(sql`'{}'::jsonb`))
    .addColumn('error', 'varchar(500)')
    .addColumn('created_at', 'timestamptz', (c) => c.notNull().defaultTo(sql`now()`))
    .addColumn('finished_at', 'timestamptz')
    .execute();
  await db.schema
    .createTable('campaign_import_rejects')
    .addColumn('import_id', 'uuid', (c) => c.notNull().references('campaign_imports.id').onDelete('cascade'))
    .addColumn('line', 'integer', (c) => c.notNull())
    .addColumn('reason', 'varchar(32)', (c) => c.notNull())
    .addColumn('detail', 'varchar(200)')
    .addColumn('raw', 'varchar(1000)')
    .addPrimaryKeyConstraint('campaign_import_rejects_pk', ['import_id', 'line'])
    .execute();

  await db.schema
    .createTable('campaign_contacts')
    .addColumn('id', 'bigserial', (c) => c.primaryKey())
    .addColumn('campaign_id', 'bigint', (c) => c.notNull().references('campaigns.id').onDelete('cascade'))
    .addColumn('import_id', 'uuid', (c) => c.references('campaign_imports.id').onDelete('set null'))
    .addColumn('line', 'integer')
    .addColumn('number', 'varchar(20)', (c) => c.notNull().check(sql`number ~ '^\\+[1-9][0-9]{6,14}$'`))
    .addColumn('name', 'varchar(100)')
    // the IANA zones the contact may be in: one (a column, a single-zone country or a known area
    // code) or several (a multi-zone country: callable only when every one is in the window); empty: unknown, never called
    .addColumn('time_zones', 'jsonb', (c) => c.notNull().defaultTo(sql`'[]'::jsonb`))
    .addColumn('tz_source', 'varchar(10)', (c) => c.notNull().check(sql`tz_source in ('column','number','country','unknown')`))
    // the CSV's other columns (shown to the agent, passed to the screen pop)
    .addColumn('data', 'jsonb', (c) => c.notNull().defaultTo(sql`'{}'::jsonb`))
    // ready (due at next_attempt_at) -> dialing -> ready (a retry) | done | exhausted | dnc | unreachable
    .addColumn('state', 'varchar(12)', (c) => c.notNull().defaultTo('ready').check(sql`state in ('ready','dialing','done','exhausted','dnc','unreachable','callback')`))
    .addColumn('attempts', 'integer', (c) => c.notNull().defaultTo(0))
    .addColumn('next_attempt_at', 'timestamptz', (c) => c.notNull().defaultTo(sql`now()`))
    // retries and callbacks first, then list order
    .addColumn('priority', 'integer', (c) => c.notNull().defaultTo(0))
    .addColumn('last_outcome', 'varchar(16)')
    .addColumn('disposition', 'varchar(32)')
    // "call back at": the agent who asked (their next free moment at next_attempt_at)
    .addColumn('callback_agent_id', 'bigint', (c) => c.references('agents.id').onDelete('set null'))
    .addColumn('created_at', 'timestamptz', (c) => c.notNull().defaultTo(sql`now()`))
    .addColumn('updated_at', 'timestamptz', (c) => c.notNull().defaultTo(sql`now()`))
    .addUniqueConstraint('campaign_contacts_number', ['campaign_id', 'number'])
    .execute();
  await sql`create index campaign_contacts_due on campaign_contacts (campaign_id, priority desc, next_attempt_at, id) where state in ('ready','callback')`.execute(db);

  await db.schema
    .createTable('campaign_attempts')
    // `<contact id>-<n>`: the contact's n-th try
    .addColumn('id', 'varchar(40)', (c) => c.primaryKey())
    .addColumn('campaign_id', 'bigint', (c) => c.notNull().references('campaigns.id').onDelete('cascade'))
    .addColumn('contact_id', 'bigint', (c) => c.notNull().references('campaign_contacts.id').onDelete('cascade'))
    .addColumn('number', 'varchar(20)', (c) => c.notNull())
    // queued (job added) -> dialing (originate sent) -> ringing? -> answered -> connected -> ended
    .addColumn('state', 'varchar(10)', (c) => c.notNull().defaultTo('queued').check(sql`state in ('queued','dialing','answered','connected','ended')`))
    // busy | no-answer | failed | machine | human (answered, connected) | abandoned | blocked-dnc | blocked-window | cancelled
    .addColumn('outcome', 'varchar(16)')
    .addColumn('hangup_cause', 'integer')
    .addColumn('amd_status', 'varchar(10)')
    .addColumn('amd_cause', 'varchar(40)')
    .addColumn('agent_id', 'bigint', (c) => c.references('agents.id').onDelete('set null'))
    // the Asterisk channel (also the CDR's call id)
    .addColumn('channel_id', 'varchar(64)')
    .addColumn('disposition', 'varchar(32)')
    .addColumn('created_at', 'timestamptz', (c) => c.notNull().defaultTo(sql`now()`))
    .addColumn('dialed_at', 'timestamptz')
    .addColumn('answered_at', 'timestamptz')
    .addColumn('connected_at', 'timestamptz')
    .addColumn('ended_at', 'timestamptz')
    // how long the number rang before we gave up (no answer) or it answered
    .addColumn('ring_ms', 'integer')
    .execute();
  await db.schema.createIndex('campaign_attempts_by_campaign').on('campaign_attempts').columns(['campaign_id', 'created_at']).execute();
  await db.schema.createIndex('campaign_attempts_by_contact').on('campaign_attempts').column('contact_id').execute();
  await sql`create index campaign_attempts_in_flight on campaign_attempts (campaign_id) where state in ('queued','dialing','answered')`.execute(db);
  await db.schema.createIndex('campaign_attempts_by_agent').on('campaign_attempts').columns(['agent_id', 'created_at']).execute();

  // The compliance figures per campaign and day (the campaign's time zone), kept in the same
  // transaction as each attempt's outcome, so the 30-day abandon rate is exact.
  await db.schema
    .createTable('campaign_days')
    .addColumn('campaign_id', 'bigint', (c) => c.notNull().references('campaigns.id').onDelete('cascade'))
    .addColumn('day', 'date', (c) => c.notNull())
    .addColumn('attempts', 'integer', (c) => c.notNull().defaultTo(0))
    .addColumn('live_answers', 'integer', (c) => c.notNull().defaultTo(0))
    .addColumn('machines', 'integer', (c) => c.notNull().defaultTo(0))
    .addColumn('connects', 'integer', (c) => c.notNull().defaultTo(0))
    .addColumn('abandons', 'integer', (c) => c.notNull().defaultTo(0))
    .addColumn('outside_window', 'integer', (c) => c.notNull().defaultTo(0))
    .addColumn('dnc_blocked', 'integer', (c) => c.notNull().defaultTo(0))
    .addColumn('short_rings', 'integer', (c) => c.notNull().defaultTo(0))
    .addPrimaryKeyConstraint('campaign_days_pk', ['campaign_id', 'day'])
    .execute();

  // Do-not-call: site-wide (campaign_id null) or one campaign's.
  await db.schema
    .createTable('dnc_numbers')
    .addColumn('id', 'bigserial', (c) => c.primaryKey())
    .addColumn('number', 'varchar(20)', (c) => c.notNull().check(sql`number ~ '^\\+[1-9][0-9]{6,14}$'`))
    .addColumn('campaign_id', 'bigint', (c) => c.references('campaigns.id').onDelete('cascade'))
    // 'import' | 'api' | 'disposition'
    .addColumn('source', 'varchar(12)', (c) => c.notNull())
    .addColumn('note', 'varchar(200)')
    .addColumn('created_at', 'timestamptz', (c) => c.notNull().defaultTo(sql`now()`))
    .execute();
  await sql`create unique index dnc_numbers_site on dnc_numbers (number) where campaign_id is null`.execute(db);
  await sql`create unique index dnc_numbers_campaign on dnc_numbers (campaign_id, number) where campaign_id is not null`.execute(db);
}

export async function down(db: Kysely<any>): Promise<void> {
  await db.schema.dropTable('dnc_numbers').execute();
  await db.schema.dropTable('campaign_days').execute();
  await db.schema.dropTable('campaign_attempts').execute();
  await db.schema.dropTable('campaign_contacts').execute();
  await db.schema.dropTable('campaign_import_rejects').execute();
  await db.schema.dropTable('campaign_imports').execute();
  await db.schema.dropTable('campaigns').execute();
}
