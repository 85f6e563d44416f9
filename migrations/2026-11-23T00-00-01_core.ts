import { sql, type Kysely } from 'kysely';

// Frozen in time: never import from src/.
export async function up(db: Kysely<any>): Promise<void> {
  await db.schema
    .createTable('users')
    .addColumn('id', 'bigserial', (c) => c.primaryKey())
    .addColumn('username', 'varchar(64)', (c) => c.notNull().unique())
    .addColumn('role', 'varchar(16)', (c) => c.notNull().check(sql`role in ('admin','supervisor','viewer')`))
    .addColumn('disabled', 'boolean', (c) => c.notNull().defaultTo(false))
    .addColumn('created_at', 'timestamptz', (c) => c.notNull().defaultTo(sql`now()`))
    .execute();

  await db.schema
    .createTable('api_tokens')
    .addColumn('id', 'bigserial', (c) => c.primaryKey())
    .addColumn('user_id', 'bigint', (c) => c.notNull().references('users.id').onDelete('cascade'))
    .addColumn('name', 'varchar(100)', (c) => c.notNull())
    .addColumn('token_hash', 'char(64)', (c) => c.notNull().unique())
    .addColumn('prefix', 'varchar(16)', (c) => c.notNull())
    .addColumn('expires_at', 'timestamptz')
    .addColumn('revoked_at', 'timestamptz')
    .addColumn('last_used_at', 'timestamptz')
    .addColumn('created_at', 'timestamptz', (c) => c.notNull().defaultTo(sql`now()`))
    .execute();

  await db.schema
    .createTable('audit_log')
    .addColumn('id', 'bigserial', (c) => c.primaryKey())
    .addColumn('at', 'timestamptz', (c) => c.notNull().defaultTo(sql`now()`))
    .addColumn('actor_user_id', 'bigint')
    .addColumn('actor_token_id', 'bigint')
    .addColumn('actor_label', 'varchar(100)', (c) => c.notNull())
    .addColumn('action', 'varchar(64)', (c) => c.notNull())
    .addColumn('entity', 'varchar(64)', (c) => c.notNull())
    .addColumn('entity_id', 'varchar(128)')
    .addColumn('details', 'jsonb', (c) => c.notNull().defaultTo(sql`'{}'::jsonb`))
    .addColumn('request_id', 'varchar(64)')
    .execute();
  await db.schema.createIndex('audit_log_at_idx').on('audit_log').column('at').execute();

  await db.schema
    .createTable('live_calls')
    .addColumn('call_id', 'varchar(64)', (c) => c.primaryKey())
    .addColumn('channel_id', 'varchar(128)', (c) => c.notNull())
    .addColumn('direction', 'varchar(16)', (c) => c.notNull())
    .addColumn('caller_number', 'varchar(80)')
    .addColumn('caller_name', 'varchar(80)')
    .addColumn('dialed_number', 'varchar(80)')
    .addColumn('state', 'varchar(32)', (c) => c.notNull())
    .addColumn('digits', 'varchar(64)', (c) => c.notNull().defaultTo(''))
    .addColumn('started_at', 'timestamptz', (c) => c.notNull())
    .addColumn('answered_at', 'timestamptz')
    .addColumn('updated_at', 'timestamptz', (c) => c.notNull().defaultTo(sql`now()`))
    .execute();

  await db.schema
    .createTable('cdrs')
    .addColumn('id', 'bigserial', (c) => c.primaryKey())
    .addColumn('call_id', 'varchar(64)', (c) => c.notNull().unique())
    .addColumn('direction', 'varchar(16)', (c) => c.notNull())
    .addColumn('caller_number', 'varchar(80)')
    .addColumn('caller_name', 'varchar(80)')
    .addColumn('dialed_number', 'varchar(80)')
    .addColumn('started_at', 'timestamptz', (c) => c.notNull())
    .addColumn('answered_at', 'timestamptz')
    .addColumn('ended_at', 'timestamptz', (c) => c.notNull())
    .addColumn('duration_seconds', 'integer', (c) => c.notNull().check(sql`duration_seconds >= 0`))
    .addColumn('billable_seconds', 'integer', (c) => c.notNull().check(sql`billable_seconds >= 0`))
    .addColumn('hangup_cause', 'integer')
    .addColumn('hangup_cause_text', 'varchar(80)')
    .addColumn('disposition', 'varchar(16)', (c) =>
      c.notNull().check(sql`disposition in ('ANSWERED','NO ANSWER','BUSY','FAILED')`),
    )
    .addColumn('ended_by', 'varchar(16)', (c) => c.notNull())
    .addColumn('digits', 'varchar(64)', (c) => c.notNull().defaultTo(''))
    .addColumn('reconciled', 'boolean', (c) => c.notNull().defaultTo(false))
    .addColumn('created_at', 'timestamptz', (c) => c.notNull().defaultTo(sql`now()`))
    .execute();
  await db.schema.createIndex('cdrs_started_at_idx').on('cdrs').columns(['started_at', 'id']).execute();
  await db.schema.createIndex('cdrs_caller_idx').on('cdrs').column('caller_number').execute();
  await db.schema.createIndex('cdrs_dialed_idx').on('cdrs').column('dialed_number').execute();
}

export async function down(db: Kysely<any>): Promise<void> {
  for (const t of ['cdrs', 'live_calls', 'audit_log', 'api_tokens', 'users']) {
    await db.schema.dropTable(t).ifExists().execute();
  }
}
