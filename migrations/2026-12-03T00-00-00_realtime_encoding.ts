import { sql, type Kysely } from 'kysely';

// Frozen in time: never import from src/.
//
// Asterisk reads PJSIP realtime text split at `;` and with `^XX` decoded as a hex byte. The
// daemon wrote display names (in callerid), trunk passwords and trunk URIs (`;transport=tcp`)
// as they were, so Asterisk read something else: a password `pw;tail` as `tail`, a display name
// `^22^3C` as `"<`, and the AOR of a TCP trunk not at all. From now on every value is written
// encoded (`^` as `^5E`, `;` as `^3B`, what Asterisk's own ast_realtime_encode_chunk does); this
// encodes the values written before, in the rows the daemon owns (extensions' and trunks'
// endpoints; other rows are left alone). Encoding makes values up to three times longer, so the
// two columns that hold admin text of up to 80 characters get wider: ps_auths.password (a trunk
// password, up to 80) and ps_endpoints.callerid (a display name, up to 80, plus the number).
const COLUMNS: Record<string, readonly string[]> = {
  ps_endpoints: ['callerid', 'from_user', 'from_domain'],
  ps_auths: ['username', 'password'],
  ps_aors: ['contact'],
  ps_endpoint_id_ips: ['match'],
  ps_registrations: ['server_uri', 'client_uri', 'contact_user'],
};

const owned = sql`(select number from extensions union all select 'trunk-' || name from trunks)`;

export async function up(db: Kysely<any>): Promise<void> {
  await sql`alter table ps_auths alter column password type varchar(255)`.execute(db);
  await sql`alter table ps_endpoints alter column callerid type varchar(512)`.execute(db);
  for (const [table, columns] of Object.entries(COLUMNS)) {
    const sets = columns.map((c) => sql`${sql.ref(c)} = replace(replace(${sql.ref(c)}, '^', '^5E'), ';', '^3B')`);
    await sql`update ${sql.table(table)} set ${sql.join(sets)} where id in ${owned}`.execute(db);
  }
}

// The columns stay wide: narrowing them could fail on values that only fit encoded.
export async function down(db: Kysely<any>): Promise<void> {
  for (const [table, columns] of Object.entries(COLUMNS)) {
    const sets = columns.map((c) => sql`${sql.ref(c)} = replace(replace(${sql.ref(c)}, '^3B', ';'), '^5E', '^')`);
    await sql`update ${sql.table(table)} set ${sql.join(sets)} where id in ${owned}`.execute(db);
  }
}
