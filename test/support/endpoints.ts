import { sql } from 'kysely';
import type { Db } from '../../src/db/database.js';

/**
 * A SIP phone as PJSIP realtime rows. Asterisk reads these from Postgres on demand,
 * so the phone exists for Asterisk the moment this commits: no reload.
 * (The extensions API of a later issue writes the same rows.)
 */
export async function insertPhone(db: Db, id: string, password: string, callerId: string): Promise<void> {
  await db.transaction().execute(async (tx) => {
    await sql`insert into ps_auths (id, auth_type, username, password) values (${id}, 'userpass', ${id}, ${password})`.execute(tx);
    await sql`insert into ps_aors (id, max_contacts, remove_existing) values (${id}, 1, 'yes')`.execute(tx);
    await sql`insert into ps_endpoints (id, transport, aors, auth, context, disallow, allow, dtmf_mode, callerid, direct_media, rtp_symmetric, force_rport, rewrite_contact)
              values (${id}, 'transport-udp', ${id}, ${id}, 'pbx-inbound', 'all', 'ulaw', 'rfc4733', ${callerId}, 'no', 'yes', 'yes', 'yes')`.execute(tx);
  });
}
