import { sql, type Kysely } from 'kysely';

// Frozen in time: never import from src/.
// An extension is a person's number with one SIP account (PJSIP endpoint/auth/aor rows whose id is
// the extension number). Desk phones, voicemail and routing refer to it.
export async function up(db: Kysely<any>): Promise<void> {
  await db.schema
    .createTable('extensions')
    .addColumn('id', 'bigserial', (c) => c.primaryKey())
    .addColumn('number', 'varchar(16)', (c) => c.notNull().unique().check(sql`number ~ '^[0-9]{2,16}$'`))
    .addColumn('display_name', 'varchar(80)', (c) => c.notNull())
    .addColumn('caller_id_number', 'varchar(32)')
    .addColumn('permission_class', 'varchar(16)', (c) =>
      c.notNull().defaultTo('national').check(sql`permission_class in ('internal','national','international')`),
    )
    .addColumn('dnd', 'boolean', (c) => c.notNull().defaultTo(false))
    .addColumn('forward_always', 'varchar(32)')
    .addColumn('forward_busy', 'varchar(32)')
    .addColumn('forward_no_answer', 'varchar(32)')
    .addColumn('ring_timeout_seconds', 'integer', (c) => c.notNull().defaultTo(20).check(sql`ring_timeout_seconds between 5 and 120`))
    .addColumn('voicemail_enabled', 'boolean', (c) => c.notNull().defaultTo(true))
    .addColumn('voicemail_pin_hash', 'varchar(128)')
    .addColumn('created_at', 'timestamptz', (c) => c.notNull().defaultTo(sql`now()`))
    .addColumn('updated_at', 'timestamptz', (c) => c.notNull().defaultTo(sql`now()`))
    .execute();
}

export async function down(db: Kysely<any>): Promise<void> {
  await db.schema.dropTable('extensions').ifExists().execute();
}
