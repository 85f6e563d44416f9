import { sql, type Kysely } from 'kysely';

// Frozen in time: never import from src/.
//
// Putting a number on the site-wide do-not-call list makes its contacts still to be dialed 'dnc'
// in every campaign (src/campaigns/dnc.ts, in the same transaction): that looks contacts up by
// number alone, which campaign_contacts_number (campaign_id, number) cannot serve. A DNC import
// does it once per batch of 1,000 numbers.
export async function up(db: Kysely<any>): Promise<void> {
  await sql`create index campaign_contacts_by_number on campaign_contacts (number) where state in ('ready', 'callback')`.execute(db);
}

export async function down(db: Kysely<any>): Promise<void> {
  await sql`drop index campaign_contacts_by_number`.execute(db);
}
