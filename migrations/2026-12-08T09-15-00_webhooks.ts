import { sql, type Kysely } from 'kysely';

// Frozen in time: never import from src/.
//
// Webhooks (docs/webhooks.md): an admin's registration of a URL for some event types, with an
// HMAC secret sealed under PBX_SECRET_KEY, and one delivery row per (webhook, event): its state,
// attempts, last response code and error, and the body sent. The delivery id is `<webhook id>-<event id>`.
export async function up(db: Kysely<any>): Promise<void> {
  await db.schema
    .createTable('webhooks')
    .addColumn('id', 'varchar(64)', (c) => c.primaryKey())
    .addColumn('url', 'varchar(2048)', (c) => c.notNull())
    .addColumn('event_types', 'jsonb', (c) => c.notNull())
    .addColumn('queue', 'varchar(64)')
    .addColumn('active', 'boolean', (c) => c.notNull().defaultTo(true))
    // why it was switched off by the daemon (410, failing too long); null when an admin did it or it is on
    .addColumn('disabled_reason', 'varchar(200)')
    .addColumn('secret_sealed', 'text', (c) => c.notNull())
    .addColumn('description', 'varchar(200)')
    .addColumn('created_at', 'timestamptz', (c) => c.notNull().defaultTo(sql`now()`))
    .addColumn('updated_at', 'timestamptz', (c) => c.notNull().defaultTo(sql`now()`))
    .execute();
  await db.schema
    .createTable('webhook_deliveries')
    .addColumn('id', 'varchar(96)', (c) => c.primaryKey())
    .addColumn('webhook_id', 'varchar(64)', (c) => c.notNull().references('webhooks.id').onDelete('cascade'))
    .addColumn('event_id', 'bigint', (c) => c.notNull())
    .addColumn('event_type', 'varchar(32)', (c) => c.notNull())
    // the JSON body as signed and sent (the same bytes at every attempt and on redelivery)
    .addColumn('body', 'text', (c) => c.notNull())
    .addColumn('state', 'varchar(12)', (c) => c.notNull().check(sql`state in ('pending','retrying','delivered','failed','gone')`))
    .addColumn('attempts', 'integer', (c) => c.notNull().defaultTo(0))
    .addColumn('response_code', 'integer')
    .addColumn('duration_ms', 'integer')
    .addColumn('last_error', 'varchar(500)')
    .addColumn('created_at', 'timestamptz', (c) => c.notNull().defaultTo(sql`now()`))
    .addColumn('updated_at', 'timestamptz', (c) => c.notNull().defaultTo(sql`now()`))
    .execute();
  await db.schema.createIndex('webhook_deliveries_by_webhook').on('webhook_deliveries').columns(['webhook_id', 'created_at']).execute();
}

export async function down(db: Kysely<any>): Promise<void> {
  await db.schema.dropTable('webhook_deliveries').execute();
  await db.schema.dropTable('webhooks').execute();
}
