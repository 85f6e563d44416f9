import { sql, type Kysely } from 'kysely';

// Frozen in time: never import from src/.
//
// Idempotency keys (issue #19): per API token and key, the first request (method, path, body
// hash) and its answer. A key is used once per token; rows older than 24 h are ignored and purged
// (the index on created_at serves the purge).
export async function up(db: Kysely<any>): Promise<void> {
  await db.schema
    .createTable('idempotency_keys')
    .addColumn('token_id', 'bigint', (c) => c.notNull().references('api_tokens.id').onDelete('cascade'))
    .addColumn('key', 'varchar(255)', (c) => c.notNull())
    .addColumn('method', 'varchar(10)', (c) => c.notNull())
    .addColumn('path', 'text', (c) => c.notNull())
    .addColumn('body_hash', 'char(64)', (c) => c.notNull())
    .addColumn('state', 'varchar(10)', (c) => c.notNull().check(sql`state in ('pending', 'done')`))
    .addColumn('claim', 'uuid', (c) => c.notNull())
    .addColumn('response_status', 'integer')
    .addColumn('response_headers', 'jsonb')
    .addColumn('response_body', 'bytea')
    .addColumn('created_at', 'timestamptz', (c) => c.notNull().defaultTo(sql`now()`))
    .addPrimaryKeyConstraint('idempotency_keys_pkey', ['token_id', 'key'])
    .addCheckConstraint('idempotency_keys_done_has_status', sql`state = 'pending' or response_status is not null`)
    .execute();
  await db.schema.createIndex('idempotency_keys_created_at').on('idempotency_keys').column('created_at').execute();
}

export async function down(db: Kysely<any>): Promise<void> {
  await db.schema.dropTable('idempotency_keys').ifExists().execute();
}
