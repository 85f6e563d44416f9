import { sql, type Kysely } from 'kysely';

// Frozen in time: never import from src/.
//
// A CDR names who answered and where the time went (docs/calls-and-routing.md#cdrs):
// answered_by (the extension or number that answered, after forwards; the agent's extension in a
// queue), agent (the agent's number), queue, wait_seconds (before the answering party answered)
// and talk_seconds (from then to the end; what billable_seconds now holds). live_calls keeps the
// queue and the party too, so a restarted daemon's CDR still has them.
//
// Existing rows, where they can be told truthfully:
// - never answered: no talk, all of it was waiting (wait = duration, talk = 0);
// - queue calls: the ACD's queue_call_log has the queue, the agent and the agent's answer, so
//   queue, agent, wait, talk and billable (talk; it held the queue wait too) are set from it.
//   answered_by stays null: the agent's extension then is not recorded (agents change desks);
// - answered, no queue, no IVR flow: answered_at was the callee's answer (or the mailbox's):
//   wait = answered - started, talk = billable;
// - answered after an IVR flow, no queue: answered_at was the flow's answer and the callee's is
//   not known: wait and talk stay null, billable stays as it was (it includes the time in the flow).
// answered_by of calls without a queue (which number answered after forwards) and ended_by
// (callee or agent instead of system) were never recorded and stay null / as they are.
export async function up(db: Kysely<any>): Promise<void> {
  await db.schema
    .alterTable('cdrs')
    .addColumn('answered_by', 'text')
    .addColumn('agent', 'text')
    .addColumn('queue', 'text')
    .addColumn('wait_seconds', 'integer')
    .addColumn('talk_seconds', 'integer')
    .execute();
  await db.schema
    .alterTable('live_calls')
    .addColumn('queue', 'text')
    .addColumn('answered_by', 'text')
    .addColumn('agent', 'text')
    .addColumn('connected_at', 'timestamptz')
    .execute();

  await sql`update cdrs set wait_seconds = duration_seconds, talk_seconds = 0 where answered_at is null`.execute(db);
  // A call may have left more than one queue (an overflow to another): the answered one, else the last.
  await sql`
    update cdrs c set
      queue = l.queue,
      agent = l.agent,
      wait_seconds = case when l.answered_at is null then c.duration_seconds
        else greatest(0, floor(extract(epoch from (least(l.answered_at, c.ended_at) - c.started_at))))::integer end,
      talk_seconds = case when l.answered_at is null or c.answered_at is null then 0
        else greatest(0, floor(extract(epoch from (c.ended_at - greatest(l.answered_at, c.started_at)))))::integer end,
      billable_seconds = case when l.answered_at is null or c.answered_at is null then 0
        else greatest(0, floor(extract(epoch from (c.ended_at - greatest(l.answered_at, c.started_at)))))::integer end
    from (
      select distinct on (ql.call_id) ql.call_id, ql.answered_at, q.name as queue, a.number as agent
      from queue_call_log ql
      left join queues q on q.id = ql.queue_id -- statistics outlive a deleted queue
      left join agents a on a.id = ql.agent_id
      order by ql.call_id, ql.answered_at is null, ql.ended_at desc
    ) l
    where l.call_id = c.call_id`.execute(db);
  await sql`
    update cdrs set
      wait_seconds = greatest(0, floor(extract(epoch from (answered_at - started_at))))::integer,
      talk_seconds = billable_seconds
    where answered_at is not null and wait_seconds is null and ivr_path is null`.execute(db);
}

export async function down(db: Kysely<any>): Promise<void> {
  await db.schema.alterTable('live_calls').dropColumn('queue').dropColumn('answered_by').dropColumn('agent').dropColumn('connected_at').execute();
  await db.schema.alterTable('cdrs').dropColumn('answered_by').dropColumn('agent').dropColumn('queue').dropColumn('wait_seconds').dropColumn('talk_seconds').execute();
}
