import { sql, type Kysely } from 'kysely';

// Frozen in time: never import from src/.
//
// Call recordings (issue #16; docs/recording.md). One row per recorded file; a call (CDR call_id)
// may have several. `path` is relative to PBX_RECORDINGS_DIR. States:
//   recording -> stored (the original is final: sha256 and bytes known) -> compressed
//   stored -> failed (compression failed after its last attempt; the original is kept)
//   any -> deleting (retention or erasure: the row is marked, then the file goes, then the row)
// A row in 'deleting' whose file is gone is finished by the next retention run or `pbx doctor`.
// cdrs.recording_erased: the CDR stays when its recordings are erased (data-subject request).
// queues.recording_retention_days: a queue's own retention (null: the site default).
export async function up(db: Kysely<any>): Promise<void> {
  await db.schema
    .createTable('recordings')
    .addColumn('id', 'uuid', (c) => c.primaryKey().defaultTo(sql`gen_random_uuid()`))
    .addColumn('call_id', 'text', (c) => c.notNull())
    .addColumn('linked_id', 'text')
    .addColumn('agent', 'text')
    .addColumn('queue', 'text')
    .addColumn('caller', 'text')
    .addColumn('called', 'text')
    .addColumn('parts', 'jsonb', (c) => c.notNull().defaultTo(sql`'[]'::jsonb`))
    .addColumn('state', 'text', (c) =>
      c.notNull().defaultTo('recording').check(sql`state in ('recording', 'stored', 'compressed', 'failed', 'deleting')`))
    .addColumn('path', 'text', (c) => c.notNull().unique())
    .addColumn('format', 'text', (c) => c.notNull().defaultTo('wav'))
    .addColumn('channels', 'smallint', (c) => c.notNull().defaultTo(2).check(sql`channels in (1, 2)`))
    .addColumn('sha256', 'char(64)')
    .addColumn('bytes', 'bigint', (c) => c.check(sql`bytes >= 0`))
    .addColumn('started_at', 'timestamptz', (c) => c.notNull())
    .addColumn('ended_at', 'timestamptz')
    .addColumn('duration_ms', 'integer', (c) => c.check(sql`duration_ms >= 0`))
    .addColumn('pauses', 'jsonb', (c) => c.notNull().defaultTo(sql`'[]'::jsonb`))
    .addColumn('legal_hold', 'boolean', (c) => c.notNull().defaultTo(false))
    .addColumn('retain_until', 'timestamptz')
    .addColumn('last_error', 'text')
    .addColumn('attempts', 'integer', (c) => c.notNull().defaultTo(0).check(sql`attempts >= 0`))
    .addColumn('created_at', 'timestamptz', (c) => c.notNull().defaultTo(sql`now()`))
    .addColumn('updated_at', 'timestamptz', (c) => c.notNull().defaultTo(sql`now()`))
    .execute();
  // Keyset list (newest first), the CDR link, searches, the retention run.
  await db.schema.createIndex('recordings_started_idx').on('recordings').columns(['started_at', 'id']).execute();
  await db.schema.createIndex('recordings_call_idx').on('recordings').column('call_id').execute();
  await db.schema.createIndex('recordings_caller_idx').on('recordings').column('caller').execute();
  await db.schema.createIndex('recordings_retain_idx').on('recordings').column('retain_until').where(sql.ref('legal_hold'), '=', false).execute();

  await db.schema.alterTable('cdrs').addColumn('recording_erased', 'boolean', (c) => c.notNull().defaultTo(false)).execute();
  await db.schema
    .alterTable('queues')
    .addColumn('recording_retention_days', 'integer', (c) => c.check(sql`recording_retention_days between 1 and 36500`))
    .execute();
}

export async function down(db: Kysely<any>): Promise<void> {
  await db.schema.alterTable('queues').dropColumn('recording_retention_days').execute();
  await db.schema.alterTable('cdrs').dropColumn('recording_erased').execute();
  await db.schema.dropTable('recordings').ifExists().execute();
}
