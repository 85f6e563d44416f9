/**
 * A queue caller whose call ended while no daemon watched it (docs/queue-events.md#after-a-restart).
 * The restarted daemon's reconciliation (src/calls/dispatcher.ts) closes the call's CDR; this
 * writes what the queue would have: a caller still stored as waiting (queue_calls: waiting, or an
 * agent's phone ringing for them) left the queue then, so the waiting row goes and the call log
 * row and the `abandon` event come, at the time the CDR ends.
 *
 * Exactly once: the waiting row is read under its lock and deleted in the same transaction as the
 * log row and the event are written, so a second reconciliation (a second restart before the CDR
 * was written, two daemons) finds no row and writes nothing; queueCallLeft's `once` also skips a
 * log row already there for this stay in the queue.
 *
 * An answer already stored for this stay (the `answer` event) means the caller reached an agent and
 * the waiting row outlived it (the answer's own leave was not written before the daemon died): the
 * call log says answered, with no event of its own; the agent's `end` is written when the agent is
 * released (the ACD's ended-call check).
 */
import type { DbOrTx } from '../db/database.js';
import { queueCallLeft } from './call-repository.js';
import type { QueueCallOutcome } from './tables.js';

export async function queueCallEndedUnseen(db: DbOrTx, callId: string, endedAt: Date): Promise<QueueCallOutcome | null> {
  const closeIn = async (tx: DbOrTx): Promise<QueueCallOutcome | null> => {
    const row = await tx.selectFrom('queue_calls').select(['queue_id', 'enqueued_at']).where('call_id', '=', callId).forUpdate().executeTakeFirst();
    if (!row) return null;
    const answer = await tx
      .selectFrom('queue_events')
      .select(['at', 'agent_id'])
      .where('call_id', '=', callId)
      .where('queue_id', '=', row.queue_id)
      .where('type', '=', 'answer')
      .where('at', '>=', row.enqueued_at)
      .orderBy('at', 'desc')
      .executeTakeFirst();
    // Never before the join (the live row's last write may be older than the waiting row's).
    const at = new Date(Math.max(endedAt.getTime(), row.enqueued_at.getTime()));
    const stay = { queueId: row.queue_id, callId, enqueuedAt: row.enqueued_at, endedAt: at };
    const outcome: QueueCallOutcome = answer ? 'answered' : 'abandoned';
    await queueCallLeft(tx, answer ? { ...stay, outcome, answeredAt: answer.at, agentId: answer.agent_id } : { ...stay, outcome }, { once: true });
    return outcome;
  };
  return db.isTransaction ? closeIn(db) : db.transaction().execute(closeIn);
}
