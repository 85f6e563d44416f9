import { sql, type Kysely } from 'kysely';

// Frozen in time: never import from src/.
//
// Reporting (docs/reporting.md): every step of a queue call is one queue_events row, written in
// the same transaction as the ACD state it describes (queue_calls, agents, queue_call_log,
// callbacks). Reports are computed from these rows. Times are milliseconds so that a service
// level threshold of 20 s is exact at its edge. No foreign keys: statistics outlive a deleted
// queue or agent (ids are never reused).
//
// Post-call surveys (CSAT / NPS): one survey_responses row per question asked, answered or not.
export async function up(db: Kysely<any>): Promise<void> {
  await db.schema
    .createTable('queue_events')
    .addColumn('id', 'bigserial', (c) => c.primaryKey())
    .addColumn('at', 'timestamptz', (c) => c.notNull().defaultTo(sql`now()`))
    .addColumn('queue_id', 'bigint', (c) => c.notNull())
    .addColumn('call_id', 'varchar(64)', (c) => c.notNull())
    .addColumn('type', 'varchar(24)', (c) =>
      c.notNull().check(sql`type in ('join','offer','ring-no-answer','answer','transfer','abandon','overflow','timeout','callback-requested','callback-done','end')`),
    )
    .addColumn('agent_id', 'bigint')
    .addColumn('caller_number', 'varchar(32)')
    // join..answer / abandon / overflow / timeout / callback-requested: time waited in the queue
    .addColumn('wait_ms', 'integer', (c) => c.check(sql`wait_ms >= 0`))
    // end: the answered call's parts (AHT = talk + hold + wrap-up)
    .addColumn('talk_ms', 'integer', (c) => c.check(sql`talk_ms >= 0`))
    .addColumn('hold_ms', 'integer', (c) => c.check(sql`hold_ms >= 0`))
    .addColumn('wrap_up_ms', 'integer', (c) => c.check(sql`wrap_up_ms >= 0`))
    // type-specific: overflow target, transfer target, ring-no-answer cause, callback result...
    .addColumn('details', 'jsonb')
    .execute();
  await db.schema.createIndex('queue_events_queue_at_idx').on('queue_events').columns(['queue_id', 'at']).execute();
  await db.schema.createIndex('queue_events_agent_at_idx').on('queue_events').columns(['agent_id', 'at']).where(sql.ref('agent_id'), 'is not', null).execute();
  await db.schema.createIndex('queue_events_call_idx').on('queue_events').column('call_id').execute();
  await db.schema.createIndex('queue_events_caller_at_idx').on('queue_events').columns(['caller_number', 'at']).where(sql.ref('type'), '=', 'join').execute();

  await db.schema
    .createTable('survey_responses')
    .addColumn('id', 'bigserial', (c) => c.primaryKey())
    .addColumn('at', 'timestamptz', (c) => c.notNull().defaultTo(sql`now()`))
    .addColumn('call_id', 'varchar(64)', (c) => c.notNull())
    .addColumn('queue_id', 'bigint')
    .addColumn('agent_id', 'bigint')
    // the flow's question key, e.g. 'csat' or 'nps'
    .addColumn('question', 'varchar(40)', (c) => c.notNull())
    .addColumn('scale', 'varchar(8)', (c) => c.notNull().check(sql`scale in ('1-5','0-10')`))
    // null: the caller hung up or pressed nothing (no response)
    .addColumn('score', 'smallint', (c) => c.check(sql`score between 0 and 10`))
    .execute();
  await db.schema.createIndex('survey_responses_queue_at_idx').on('survey_responses').columns(['queue_id', 'at']).execute();
  await db.schema.createIndex('survey_responses_agent_at_idx').on('survey_responses').columns(['agent_id', 'at']).execute();
  await db.schema.createIndex('survey_responses_call_question_idx').on('survey_responses').columns(['call_id', 'question']).unique().execute();
}

export async function down(db: Kysely<any>): Promise<void> {
  await db.schema.dropTable('survey_responses').execute();
  await db.schema.dropTable('queue_events').execute();
}
