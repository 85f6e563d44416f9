import { sql, type Kysely } from 'kysely';

// Frozen in time: never import from src/.
// IVR prompts: audio uploaded by admins or rendered from text (espeak-ng), converted for Asterisk
// into <id>.wav (8 kHz) and <id>.sln16 (16 kHz) in the prompts folder. The id is the public id and
// the file name. checksum is the sha256 of the 8 kHz WAV; tts_key (sha256 of text, language and
// voice) lets an identical text-to-speech request reuse the prompt already rendered.
export async function up(db: Kysely<any>): Promise<void> {
  await db.schema
    .createTable('prompts')
    .addColumn('id', 'uuid', (c) => c.primaryKey())
    .addColumn('name', 'varchar(64)', (c) => c.notNull().unique().check(sql`name ~ '^[A-Za-z0-9 _.-]{1,64}$'`))
    .addColumn('source', 'varchar(8)', (c) => c.notNull().check(sql`source in ('upload', 'tts')`))
    .addColumn('text', 'text', (c) => c.check(sql`char_length(text) between 1 and 500`))
    .addColumn('language', 'varchar(64)')
    .addColumn('voice', 'varchar(64)')
    .addColumn('tts_key', 'char(64)', (c) => c.unique())
    .addColumn('checksum', 'char(64)', (c) => c.notNull())
    .addColumn('duration_ms', 'integer', (c) => c.notNull().check(sql`duration_ms > 0`))
    .addColumn('bytes', 'integer', (c) => c.notNull().check(sql`bytes > 0`))
    .addColumn('created_at', 'timestamptz', (c) => c.notNull().defaultTo(sql`now()`))
    // A text-to-speech prompt has its text, language and key; an upload has none of them.
    .addCheckConstraint(
      'prompts_source_fields',
      sql`(source = 'tts' and text is not null and language is not null and tts_key is not null)
        or (source = 'upload' and text is null and language is null and voice is null and tts_key is null)`,
    )
    .execute();
}

export async function down(db: Kysely<any>): Promise<void> {
  await db.schema.dropTable('prompts').ifExists().execute();
}
