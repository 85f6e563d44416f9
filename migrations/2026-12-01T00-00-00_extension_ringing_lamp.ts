import { sql, type Kysely } from 'kysely';

// Frozen in time: never import from src/.
//
// Extensions were made with device_state_busy_at = 1. Asterisk 22 then reports the phone BUSY as
// soon as it has a channel, ringing included: a colleague's BLF key showed a ringing phone as on a
// call instead of blinking. Off (0) for every extension's endpoint; trunks keep theirs (their
// max_channels).
export async function up(db: Kysely<any>): Promise<void> {
  await sql`update ps_endpoints set device_state_busy_at = 0 where device_state_busy_at = 1 and id in (select number from extensions)`.execute(db);
}

export async function down(db: Kysely<any>): Promise<void> {
  await sql`update ps_endpoints set device_state_busy_at = 1 where device_state_busy_at = 0 and id in (select number from extensions)`.execute(db);
}
