import { sql, type Kysely } from 'kysely';

// Frozen in time: never import from src/.
//
// Call recording policy (issue #16, call side; docs/recording.md#policy). Each of queues,
// extensions, trunks, inbound_routes and outbound_routes may say 'always', 'never' or 'on-demand'
// (null: not set, the next level or the site default PBX_RECORDING_POLICY decides). A queue may
// record only a share of its calls (recording_sample_percent, 1-100; null = all) and play an
// announcement first (recording_announcement: {"prompt": id} or {"text": "...", "language": "en"}).
// recordings.channel_id: the caller's channel the recording runs on (Asterisk's MixMonitor), so a
// restarted daemon can tell a recording still running from one whose call is over.
const POLICY = sql`in ('always', 'never', 'on-demand')`;

export async function up(db: Kysely<any>): Promise<void> {
  for (const table of ['queues', 'extensions', 'trunks', 'inbound_routes', 'outbound_routes']) {
    await db.schema
      .alterTable(table)
      .addColumn('recording_policy', 'text', (c) => c.check(sql`recording_policy ${POLICY}`))
      .execute();
  }
  await db.schema
    .alterTable('queues')
    .addColumn('recording_sample_percent', 'integer', (c) => c.check(sql`recording_sample_percent between 1 and 100`))
    .addColumn('recording_announcement', 'jsonb')
    .execute();
  await db.schema.alterTable('recordings').addColumn('channel_id', 'text').execute();
  await db.schema.createIndex('recordings_recording_idx').on('recordings').column('state').where(sql.ref('state'), '=', 'recording').execute();
}

export async function down(db: Kysely<any>): Promise<void> {
  await db.schema.dropIndex('recordings_recording_idx').ifExists().execute();
  await db.schema.alterTable('recordings').dropColumn('channel_id').execute();
  await db.schema.alterTable('queues').dropColumn('recording_announcement').dropColumn('recording_sample_percent').execute();
  for (const table of ['queues', 'extensions', 'trunks', 'inbound_routes', 'outbound_routes']) {
    await db.schema.alterTable(table).dropColumn('recording_policy').execute();
  }
}
