import { sql, type Kysely } from 'kysely';

// Frozen in time: never import from src/.
//
// A queue callback's CDR (the agent's phone calling the customer; linked_id = the caller's
// queued call) now names the agent and the queue, and says `agent` when the agent hung up
// (docs/acd.md#callbacks). Rows written before, where they can be told truthfully: the ACD's
// queue_call_log has one 'answered' row per callback try an agent took (call id = the caller's
// call id + '-cb'), with the queue and the agent; the try whose agent answered nearest the CDR's
// start is this CDR's. Their ended_by 'caller' was the agent's phone hanging up: 'agent'.
// Not recoverable, left as they are: answered_at (the agent's answer, not the customer's), so
// wait and talk, answered_by, and a try whose customer never answered being ANSWERED.
export async function up(db: Kysely<any>): Promise<void> {
  await sql`
    with tries as (
      select c.id, q.name as queue, a.number as agent
      from cdrs c
      join lateral (
        select ql.queue_id, ql.agent_id
        from queue_call_log ql
        where ql.call_id = c.linked_id || '-cb' and ql.outcome = 'answered' and ql.answered_at is not null
        order by abs(extract(epoch from (ql.answered_at - c.started_at)))
        limit 1
      ) l on true
      left join queues q on q.id = l.queue_id -- statistics outlive a deleted queue
      left join agents a on a.id = l.agent_id
      where c.direction = 'outbound' and c.linked_id is not null and c.linked_id <> c.call_id and c.agent is null
    )
    update cdrs c set
      queue = t.queue,
      agent = t.agent,
      ended_by = case when c.ended_by = 'caller' then 'agent' else c.ended_by end
    from tries t
    where t.id = c.id`.execute(db);
}

// The rows' earlier values are not kept: nothing to undo (the new values stay true).
export async function down(_db: Kysely<any>): Promise<void> {}
