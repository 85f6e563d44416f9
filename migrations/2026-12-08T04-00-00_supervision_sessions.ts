import { sql, type Kysely } from 'kysely';

// Frozen in time: never import from src/.
//
// Live supervision (docs/supervision.md): a session ringing the supervisor's phone (an API request)
// or in progress has a row, so that a restarted daemon finds them: a request still ringing keeps
// ringing and connects when answered (or is hung up and audited when its phone is gone or its
// time is up); a session in progress is ended (its snoops and bridge were the old daemon's) and
// its end audited. A session's row goes when it ends.
export async function up(db: Kysely<any>): Promise<void> {
  await db.schema
    .createTable('supervision_sessions')
    // the session id: the supervisor's channel (sv-<uuid> for an API request)
    .addColumn('id', 'varchar(64)', (c) => c.primaryKey())
    .addColumn('state', 'varchar(8)', (c) => c.notNull().check(sql`state in ('ringing','active')`))
    .addColumn('supervisor_extension', 'varchar(16)', (c) => c.notNull())
    // {kind: agent|extension|number, number} or {kind: call, callId}
    .addColumn('target', 'jsonb', (c) => c.notNull())
    .addColumn('mode', 'varchar(8)', (c) => c.notNull().check(sql`mode in ('listen','whisper','barge')`))
    // who asked: {userId, tokenId, label, requestId} (the audit rows' actor)
    .addColumn('actor', 'jsonb', (c) => c.notNull())
    // ringing: when the supervisor's phone stops ringing
    .addColumn('ring_until', 'timestamptz')
    // active: the supervised call, the channel snooped on, whom, since when
    .addColumn('call_id', 'varchar(64)')
    .addColumn('channel_id', 'varchar(64)')
    .addColumn('extension', 'varchar(16)')
    .addColumn('agent', 'varchar(16)')
    .addColumn('started_at', 'timestamptz')
    .addColumn('updated_at', 'timestamptz', (c) => c.notNull().defaultTo(sql`now()`))
    .execute();
}

export async function down(db: Kysely<any>): Promise<void> {
  await db.schema.dropTable('supervision_sessions').execute();
}
