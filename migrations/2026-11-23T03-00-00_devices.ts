import { sql, type Kysely } from 'kysely';

// Frozen in time: never import from src/.
// A desk phone, known by its MAC, bound to one extension (its SIP account), with BLF keys and its
// own provisioning credentials and/or IP allowlist. The phone fetches its configuration file from
// /provision/... at boot; nothing here is read by Asterisk.
export async function up(db: Kysely<any>): Promise<void> {
  await db.schema
    .createTable('devices')
    .addColumn('id', 'bigserial', (c) => c.primaryKey())
    .addColumn('mac', 'char(12)', (c) => c.notNull().unique().check(sql`mac ~ '^[0-9a-f]{12}$'`))
    .addColumn('vendor', 'varchar(16)', (c) => c.notNull().check(sql`vendor in ('yealink','polycom','grandstream')`))
    .addColumn('model', 'varchar(40)', (c) => c.notNull().defaultTo(''))
    // An extension with a bound phone cannot be deleted until the phone is removed or rebound.
    .addColumn('extension_number', 'varchar(16)', (c) => c.notNull().references('extensions.number').onUpdate('cascade').onDelete('restrict'))
    .addColumn('label', 'varchar(80)')
    // Ordered extension numbers the phone shows BLF keys for; checked against extensions on write.
    .addColumn('blf_keys', 'jsonb', (c) => c.notNull().defaultTo(sql`'[]'::jsonb`).check(sql`jsonb_typeof(blf_keys) = 'array'`))
    // SHA-256 (hex) of the provisioning password; NULL = HTTP credentials disabled.
    .addColumn('prov_password_hash', 'char(64)')
    // CIDR strings allowed to fetch without credentials, e.g. ["10.1.2.0/24"].
    .addColumn('prov_allowed_networks', 'jsonb', (c) => c.notNull().defaultTo(sql`'[]'::jsonb`).check(sql`jsonb_typeof(prov_allowed_networks) = 'array'`))
    .addColumn('last_provisioned_at', 'timestamptz')
    .addColumn('last_provisioned_ip', 'varchar(45)')
    .addColumn('created_at', 'timestamptz', (c) => c.notNull().defaultTo(sql`now()`))
    .addColumn('updated_at', 'timestamptz', (c) => c.notNull().defaultTo(sql`now()`))
    .addCheckConstraint('devices_provisioning_auth', sql`prov_password_hash is not null or jsonb_array_length(prov_allowed_networks) > 0`)
    .execute();
  await db.schema.createIndex('devices_extension_idx').on('devices').column('extension_number').execute();
}

export async function down(db: Kysely<any>): Promise<void> {
  await db.schema.dropTable('devices').ifExists().execute();
}
