/**
 * Table types of reporting (migration 2026-12-08T00-00-00_queue_events): post-call survey answers.
 * The queue event log that reports are computed from is the ACD's (src/acd/tables.ts,
 * QueueEventTable): the ACD writes it with the state it describes. docs/reporting.md.
 */
import type { ColumnType, Generated, Selectable } from 'kysely';

export type SurveyScale = '1-5' | '0-10';

export interface SurveyResponseTable {
  id: Generated<string>;
  at: ColumnType<Date, Date | undefined, never>;
  call_id: string;
  queue_id: string | null;
  agent_id: string | null;
  question: string;
  scale: SurveyScale;
  /** null: no response (hung up, no key). */
  score: number | null;
}
export type SurveyResponseRow = Selectable<SurveyResponseTable>;
