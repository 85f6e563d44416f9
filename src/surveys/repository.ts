/**
 * Post-call surveys in Postgres: a queue's survey flow (queues.survey_flow_id, published flows
 * only) and the answers (survey_responses, the table reports compute CSAT and NPS from:
 * src/reports/tables.ts).
 */
import { sql } from 'kysely';
import type { DbOrTx } from '../db/database.js';
import type { PostCallSurvey, SurveyAnswerRow, SurveyPort } from './port.js';

export async function surveyFor(db: DbOrTx, queue: string, agentNumber: string | null): Promise<PostCallSurvey | null> {
  const row = await db
    .selectFrom('queues as q')
    .innerJoin('flows as f', 'f.id', 'q.survey_flow_id')
    .select(['q.id as queue_id', 'f.name as flow'])
    .where('q.name', '=', queue)
    .where('f.published_version', 'is not', null)
    .executeTakeFirst();
  if (!row) return null;
  const agent = agentNumber === null ? undefined : await db.selectFrom('agents').select('id').where('number', '=', agentNumber).executeTakeFirst();
  return { flow: row.flow, queueId: row.queue_id, agentId: agent?.id ?? null };
}

export async function recordAnswer(db: DbOrTx, a: SurveyAnswerRow): Promise<void> {
  await db
    .insertInto('survey_responses')
    .values({ call_id: a.callId, queue_id: a.queueId, agent_id: a.agentId, question: a.question, scale: a.scale, score: a.score })
    // A question asked again in the same call (the flow came back to it): an answer replaces no response, never a score.
    .onConflict((oc) => oc.columns(['call_id', 'question']).doUpdateSet({ score: sql<number | null>`excluded.score` }).where(sql.ref('survey_responses.score'), 'is', null))
    .execute();
}

/** The port the calls use (app.ts). */
export function surveyPort(db: DbOrTx): SurveyPort {
  return { surveyFor: (queue, agent) => surveyFor(db, queue, agent), record: (a) => recordAnswer(db, a) };
}
