import type { Kysely } from 'kysely';

// Frozen in time: never import from src/.
//
// Post-call survey (docs/acd.md#post-call-survey): a queue may name an IVR flow the caller goes
// into when the agent hangs up. A flow a queue surveys with cannot be deleted (restrict; the flow
// API says which queue uses it). Existing queues have none.
export async function up(db: Kysely<any>): Promise<void> {
  await db.schema
    .alterTable('queues')
    .addColumn('survey_flow_id', 'bigint', (c) => c.references('flows.id').onDelete('restrict'))
    .execute();
  await db.schema.createIndex('queues_survey_flow_idx').on('queues').column('survey_flow_id').execute();
}

export async function down(db: Kysely<any>): Promise<void> {
  await db.schema.dropIndex('queues_survey_flow_idx').execute();
  await db.schema.alterTable('queues').dropColumn('survey_flow_id').execute();
}
