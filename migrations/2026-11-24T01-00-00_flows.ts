import { sql, type Kysely } from 'kysely';

// Frozen in time: never import from src/.
//
// IVR flows. A flow is a name plus numbered versions of its definition (jsonb). A version is a
// 'draft' (at most one per flow, edited in place), 'published' (at most one: what calls run,
// also named by flows.published_version) or 'retired' (published once; rollback can bring it
// back). Inbound routes may send calls to a flow (target_kind 'flow', target_flow); a flow a
// route uses cannot be deleted. cdrs.ivr_path records the nodes a caller went through.
export async function up(db: Kysely<any>): Promise<void> {
  await db.schema
    .createTable('flows')
    .addColumn('id', 'bigserial', (c) => c.primaryKey())
    .addColumn('name', 'varchar(64)', (c) => c.notNull().unique().check(sql`name ~ '^[a-z0-9][a-z0-9-]{0,63}$'`))
    .addColumn('description', 'varchar(200)')
    .addColumn('published_version', 'integer')
    .addColumn('created_at', 'timestamptz', (c) => c.notNull().defaultTo(sql`now()`))
    .addColumn('updated_at', 'timestamptz', (c) => c.notNull().defaultTo(sql`now()`))
    .execute();

  await db.schema
    .createTable('flow_versions')
    .addColumn('flow_id', 'bigint', (c) => c.notNull().references('flows.id').onDelete('cascade'))
    .addColumn('version', 'integer', (c) => c.notNull().check(sql`version >= 1`))
    .addColumn('definition', 'jsonb', (c) => c.notNull().check(sql`jsonb_typeof(definition) = 'object'`))
    .addColumn('state', 'varchar(16)', (c) => c.notNull().check(sql`state in ('draft','published','retired')`))
    .addColumn('created_at', 'timestamptz', (c) => c.notNull().defaultTo(sql`now()`))
    .addColumn('published_at', 'timestamptz')
    .addColumn('created_by', 'text')
    .addPrimaryKeyConstraint('flow_versions_pkey', ['flow_id', 'version'])
    // A draft has never been published; published and retired versions have.
    .addCheckConstraint('flow_versions_published_at', sql`(state = 'draft') = (published_at is null)`)
    .execute();
  await sql`create unique index flow_versions_one_draft on flow_versions (flow_id) where state = 'draft'`.execute(db);
  await sql`create unique index flow_versions_one_published on flow_versions (flow_id) where state = 'published'`.execute(db);
  // flows.published_version names an existing version of the same flow (null: never published).
  await sql`alter table flows add constraint flows_published_version_fkey
    foreign key (id, published_version) references flow_versions (flow_id, version)`.execute(db);

  await db.schema
    .alterTable('inbound_routes')
    .addColumn('target_flow', 'bigint', (c) => c.references('flows.id').onDelete('restrict'))
    .execute();
  await db.schema.createIndex('inbound_routes_target_flow_idx').on('inbound_routes').column('target_flow').execute();
  // The column check of target_kind (inline in the trunks migration, so Postgres named it).
  await sql`alter table inbound_routes drop constraint inbound_routes_target_kind_check`.execute(db);
  await sql`alter table inbound_routes drop constraint inbound_routes_target`.execute(db);
  await sql`alter table inbound_routes add constraint inbound_routes_target_kind_check check (target_kind in ('extension','hangup','flow'))`.execute(db);
  await sql`alter table inbound_routes add constraint inbound_routes_target check (
    (target_kind = 'extension') = (target_extension is not null)
    and (target_kind = 'flow') = (target_flow is not null))`.execute(db);

  await db.schema.alterTable('cdrs').addColumn('ivr_path', 'jsonb').execute();
}

export async function down(db: Kysely<any>): Promise<void> {
  await db.schema.alterTable('cdrs').dropColumn('ivr_path').execute();
  await sql`delete from inbound_routes where target_kind = 'flow'`.execute(db);
  await sql`alter table inbound_routes drop constraint inbound_routes_target`.execute(db);
  await sql`alter table inbound_routes drop constraint inbound_routes_target_kind_check`.execute(db);
  await db.schema.dropIndex('inbound_routes_target_flow_idx').ifExists().execute();
  await db.schema.alterTable('inbound_routes').dropColumn('target_flow').execute();
  await sql`alter table inbound_routes add constraint inbound_routes_target_kind_check check (target_kind in ('extension','hangup'))`.execute(db);
  await sql`alter table inbound_routes add constraint inbound_routes_target check ((target_kind = 'extension') = (target_extension is not null))`.execute(db);
  await sql`alter table flows drop constraint flows_published_version_fkey`.execute(db);
  await db.schema.dropTable('flow_versions').ifExists().execute();
  await db.schema.dropTable('flows').ifExists().execute();
}
