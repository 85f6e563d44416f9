import { type Kysely } from 'kysely';

// Frozen in time: never import from src/.
//
// Queue events (docs/queue-events.md): an answered queue call's 'end' event is written when the
// agent's handling of it is over (wrap-up done, cut short, or at once without wrap-up), with its
// talk, hold and wrap-up times. Between the hang-up and the end of wrap-up the call's talk and
// hold times are kept on the agent's row, written with the state change that starts wrap-up, so a
// restart meanwhile loses nothing:
//
//   agents.call_talk_ms   talk time of the call the agent is wrapping up (answer to hang-up)
//   agents.call_hold_ms   time that call spent on hold (either side)
//
// Both are null outside wrap-up.
export async function up(db: Kysely<any>): Promise<void> {
  await db.schema
    .alterTable('agents')
    .addColumn('call_talk_ms', 'integer')
    .addColumn('call_hold_ms', 'integer')
    .execute();
}

export async function down(db: Kysely<any>): Promise<void> {
  await db.schema.alterTable('agents').dropColumn('call_talk_ms').dropColumn('call_hold_ms').execute();
}
