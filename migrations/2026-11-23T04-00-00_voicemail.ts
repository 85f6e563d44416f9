import { sql, type Kysely } from 'kysely';

// Frozen in time: never import from src/.
// Voicemail: messages left in an extension's mailbox and its recorded greeting. The audio lives in
// the daemon's data folder (file_path, with size and sha256); Asterisk keeps its own copy as a
// stored recording (recording_name) that the phone menu plays. Rows go with their extension.
export async function up(db: Kysely<any>): Promise<void> {
  await db.schema
    .createTable('voicemail_messages')
    .addColumn('id', 'bigserial', (c) => c.primaryKey())
    .addColumn('mailbox', 'varchar(16)', (c) => c.notNull().references('extensions.number').onUpdate('cascade').onDelete('cascade'))
    .addColumn('caller_number', 'varchar(64)')
    .addColumn('caller_name', 'varchar(80)')
    // The call that left it: the CDR's call_id (no foreign key: the CDR is written after the call ends).
    .addColumn('call_id', 'varchar(128)', (c) => c.notNull())
    .addColumn('duration_ms', 'integer', (c) => c.notNull().check(sql`duration_ms > 0`))
    .addColumn('heard', 'boolean', (c) => c.notNull().defaultTo(false))
    .addColumn('recording_name', 'varchar(128)', (c) => c.notNull().unique())
    .addColumn('file_path', 'text', (c) => c.notNull())
    .addColumn('size_bytes', 'integer', (c) => c.notNull())
    .addColumn('sha256', 'char(64)', (c) => c.notNull())
    .addColumn('created_at', 'timestamptz', (c) => c.notNull().defaultTo(sql`now()`))
    .execute();
  await db.schema.createIndex('voicemail_messages_mailbox_idx').on('voicemail_messages').columns(['mailbox', 'created_at']).execute();

  await db.schema
    .createTable('voicemail_greetings')
    .addColumn('mailbox', 'varchar(16)', (c) => c.primaryKey().references('extensions.number').onUpdate('cascade').onDelete('cascade'))
    .addColumn('recording_name', 'varchar(128)', (c) => c.notNull())
    .addColumn('file_path', 'text', (c) => c.notNull())
    .addColumn('duration_ms', 'integer', (c) => c.notNull())
    .addColumn('size_bytes', 'integer', (c) => c.notNull())
    .addColumn('sha256', 'char(64)', (c) => c.notNull())
    .addColumn('created_at', 'timestamptz', (c) => c.notNull().defaultTo(sql`now()`))
    .execute();
}

export async function down(db: Kysely<any>): Promise<void> {
  await db.schema.dropTable('voicemail_greetings').ifExists().execute();
  await db.schema.dropTable('voicemail_messages').ifExists().execute();
}
