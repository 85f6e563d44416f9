import { sql, type Kysely } from 'kysely';

// Frozen in time: never import from src/.
//
// SIP over TLS with SRTP per extension (issue #21): `none` (UDP/TCP, plain RTP, as before), `tls`
// (signalling over transport-tls only) or `tls-srtp` (TLS and SRTP with SDES keys required).
// Every existing extension keeps `none`; its ps_endpoints row is unchanged.
export async function up(db: Kysely<any>): Promise<void> {
  await sql`alter table extensions add column sip_security text not null default 'none'
    constraint extensions_sip_security_check check (sip_security in ('none', 'tls', 'tls-srtp'))`.execute(db);
}

export async function down(db: Kysely<any>): Promise<void> {
  // The endpoints of secure extensions go back to what `none` writes.
  await sql`update ps_endpoints set transport = null, media_encryption = null, media_encryption_optimistic = null
    where id in (select number from extensions where sip_security <> 'none')`.execute(db);
  await sql`alter table extensions drop column sip_security`.execute(db);
}
