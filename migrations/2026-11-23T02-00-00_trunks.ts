import { sql, type Kysely } from 'kysely';

// Frozen in time: never import from src/.
//
// Trunks (SIP providers), outbound routes (dial patterns -> trunk), inbound routes (DID / caller
// number -> target) and the emergency numbers that always route. A trunk's PJSIP objects are
// realtime rows named trunk-<name> in the ps_* tables, written by the daemon in the same
// transaction as the trunk row.
//
// ps_registrations is Asterisk's outbound registration table (contrib/ast-db-manage column names;
// checked against Asterisk 22.10 `config show help res_pjsip_outbound_registration registration`).
// Asterisk reads it through sorcery.conf [res_pjsip_outbound_registration] registration=realtime.

const DIAL = `'^[0-9*#+]+$'`;

export async function up(db: Kysely<any>): Promise<void> {
  let reg = db.schema.createTable('ps_registrations').addColumn('id', 'varchar(255)', (c) => c.primaryKey());
  for (const [col, type] of [
    ['auth_rejection_permanent', 'varchar(40)'],
    ['client_uri', 'varchar(255)'],
    ['contact_user', 'varchar(40)'],
    ['contact_header_params', 'varchar(255)'],
    ['expiration', 'integer'],
    ['max_retries', 'integer'],
    ['security_negotiation', 'varchar(40)'],
    ['security_mechanisms', 'varchar(512)'],
    ['outbound_auth', 'varchar(255)'],
    ['outbound_proxy', 'varchar(255)'],
    ['max_random_initial_delay', 'integer'],
    ['retry_interval', 'integer'],
    ['forbidden_retry_interval', 'integer'],
    ['fatal_retry_interval', 'integer'],
    ['server_uri', 'varchar(255)'],
    ['transport', 'varchar(40)'],
    ['line', 'varchar(40)'],
    ['endpoint', 'varchar(255)'],
    ['support_path', 'varchar(40)'],
    ['support_outbound', 'varchar(40)'],
    ['user_agent', 'varchar(255)'],
  ] as const) {
    reg = reg.addColumn(col, type);
  }
  await reg.execute();

  await db.schema
    .createTable('trunks')
    .addColumn('id', 'bigserial', (c) => c.primaryKey())
    .addColumn('name', 'varchar(32)', (c) => c.notNull().unique().check(sql`name ~ '^[a-z0-9][a-z0-9-]{0,31}$'`))
    .addColumn('kind', 'varchar(16)', (c) => c.notNull().check(sql`kind in ('registration','ip')`))
    .addColumn('host', 'varchar(253)', (c) => c.notNull().check(sql`host ~ '^[A-Za-z0-9]([A-Za-z0-9.-]*[A-Za-z0-9])?$'`))
    .addColumn('port', 'integer', (c) => c.notNull().defaultTo(5060).check(sql`port between 1 and 65535`))
    .addColumn('transport', 'varchar(8)', (c) => c.notNull().defaultTo('udp').check(sql`transport in ('udp','tcp')`))
    .addColumn('username', 'varchar(64)')
    .addColumn('password', 'varchar(80)')
    .addColumn('from_user', 'varchar(40)')
    .addColumn('from_domain', 'varchar(40)')
    .addColumn('codecs', sql`text[]`, (c) =>
      c.notNull().defaultTo(sql`'{ulaw,alaw}'`).check(sql`cardinality(codecs) between 1 and 5 and codecs <@ array['ulaw','alaw','g722','gsm','opus']::text[]`),
    )
    .addColumn('max_channels', 'integer', (c) => c.notNull().defaultTo(30).check(sql`max_channels between 1 and 1000`))
    .addColumn('enabled', 'boolean', (c) => c.notNull().defaultTo(true))
    .addColumn('created_at', 'timestamptz', (c) => c.notNull().defaultTo(sql`now()`))
    .addColumn('updated_at', 'timestamptz', (c) => c.notNull().defaultTo(sql`now()`))
    .addCheckConstraint('trunks_registration_credentials', sql`kind <> 'registration' or (username is not null and password is not null)`)
    .execute();

  await db.schema
    .createTable('outbound_routes')
    .addColumn('id', 'bigserial', (c) => c.primaryKey())
    .addColumn('name', 'varchar(80)', (c) => c.notNull().unique())
    .addColumn('pattern', 'varchar(64)', (c) => c.notNull())
    .addColumn('strip', 'integer', (c) => c.notNull().defaultTo(0).check(sql`strip between 0 and 32`))
    .addColumn('prepend', 'varchar(16)', (c) => c.notNull().defaultTo('').check(sql.raw(`prepend = '' or prepend ~ ${DIAL}`)))
    .addColumn('trunk_id', 'bigint', (c) => c.notNull().references('trunks.id').onDelete('restrict'))
    .addColumn('priority', 'integer', (c) => c.notNull().defaultTo(100).check(sql`priority between 0 and 10000`))
    .addColumn('required_class', 'varchar(16)', (c) => c.notNull().defaultTo('national').check(sql`required_class in ('national','international')`))
    .addColumn('created_at', 'timestamptz', (c) => c.notNull().defaultTo(sql`now()`))
    .addColumn('updated_at', 'timestamptz', (c) => c.notNull().defaultTo(sql`now()`))
    .execute();
  await db.schema.createIndex('outbound_routes_trunk_idx').on('outbound_routes').column('trunk_id').execute();

  // did_pattern / caller_pattern: a literal (exact) or an Asterisk pattern starting with '_'.
  // A row with neither is the default route (at most one).
  await db.schema
    .createTable('inbound_routes')
    .addColumn('id', 'bigserial', (c) => c.primaryKey())
    .addColumn('name', 'varchar(80)', (c) => c.notNull().unique())
    .addColumn('did_pattern', 'varchar(64)')
    .addColumn('caller_pattern', 'varchar(64)')
    .addColumn('priority', 'integer', (c) => c.notNull().defaultTo(100).check(sql`priority between 0 and 10000`))
    .addColumn('target_kind', 'varchar(16)', (c) => c.notNull().check(sql`target_kind in ('extension','hangup')`))
    .addColumn('target_extension', 'varchar(16)', (c) => c.references('extensions.number').onUpdate('cascade').onDelete('restrict'))
    .addColumn('created_at', 'timestamptz', (c) => c.notNull().defaultTo(sql`now()`))
    .addColumn('updated_at', 'timestamptz', (c) => c.notNull().defaultTo(sql`now()`))
    .addCheckConstraint('inbound_routes_target', sql`(target_kind = 'extension') = (target_extension is not null)`)
    .execute();
  await sql`create unique index inbound_routes_one_default on inbound_routes ((true)) where did_pattern is null and caller_pattern is null`.execute(db);
  await db.schema.createIndex('inbound_routes_target_extension_idx').on('inbound_routes').column('target_extension').execute();

  await db.schema
    .createTable('emergency_numbers')
    .addColumn('number', 'varchar(16)', (c) => c.primaryKey().check(sql.raw(`number ~ ${DIAL}`)))
    .addColumn('created_at', 'timestamptz', (c) => c.notNull().defaultTo(sql`now()`))
    .execute();
  await db.insertInto('emergency_numbers').values([{ number: '112' }, { number: '911' }]).execute();
}

export async function down(db: Kysely<any>): Promise<void> {
  for (const t of ['emergency_numbers', 'inbound_routes', 'outbound_routes', 'trunks', 'ps_registrations']) {
    await db.schema.dropTable(t).ifExists().execute();
  }
}
