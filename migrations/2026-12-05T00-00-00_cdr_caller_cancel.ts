import { sql, type Kysely } from 'kysely';

// Frozen in time: never import from src/.
//
// A caller who hung up while the call still rang (CANCEL; Asterisk answers 487 and gives the
// caller's channel cause 127, Interworking) was recorded FAILED with cause 127. Such a call is a
// NO ANSWER with cause 16 (the calling user cleared it). The rows say so themselves: never
// answered and ended by the caller. Every such row gets what the daemon now writes.
//
// Other wrong rows cannot be told apart and stay as they are: a 603 Decline was recorded BUSY
// with cause 17 (right disposition; the 21 is lost), an unregistered phone FAILED with cause 1
// (right disposition; the 20 is lost), a carrier's 503 NO ANSWER with cause 19 (like a real ring
// timeout). See docs/calls-and-routing.md#dispositions.
export async function up(db: Kysely<any>): Promise<void> {
  await sql`
    update cdrs set disposition = 'NO ANSWER', hangup_cause = 16, hangup_cause_text = 'Normal Clearing'
    where answered_at is null and ended_by = 'caller'
      and (disposition <> 'NO ANSWER' or hangup_cause is distinct from 16)`.execute(db);
}

// The causes the rows had (127, or none) are not kept: down leaves the corrected rows as they are.
export async function down(): Promise<void> {}
