import { sql, type Kysely } from 'kysely';

// Frozen in time: never import from src/.
//
// Wrong voicemail PINs in a row per mailbox, and the lock they lead to (as agents have:
// agents.pin_failures / locked_until). `pin_hash` is the PIN the failures were counted against:
// a new PIN starts the count over without the extensions code having to know.
export async function up(db: Kysely<any>): Promise<void> {
  await db.schema
    .createTable('voicemail_pin_failures')
    .addColumn('mailbox', 'varchar(16)', (c) => c.primaryKey().references('extensions.number').onUpdate('cascade').onDelete('cascade'))
    .addColumn('pin_hash', 'text', (c) => c.notNull())
    .addColumn('failures', 'integer', (c) => c.notNull().defaultTo(0).check(sql`failures >= 0`))
    .addColumn('locked_until', 'timestamptz')
    .execute();
}

export async function down(db: Kysely<any>): Promise<void> {
  await db.schema.dropTable('voicemail_pin_failures').ifExists().execute();
}
