/**
 * Post-call surveys (docs/acd.md#post-call-survey): what a call needs to put a caller into their
 * queue's survey flow when the agent hangs up, and to store each answer. Types only; the
 * repository (repository.ts) implements them over Postgres, app.ts wires them into the calls.
 */
import type { SurveyScale } from '../reports/tables.js';

/** A queue call that is to be surveyed: the queue's survey flow and the ids its answers are stored with. */
export interface PostCallSurvey {
  /** The flow's name (it has a published version). */
  readonly flow: string;
  readonly queueId: string;
  /** null: the agent is not known (deleted meanwhile). */
  readonly agentId: string | null;
}

/** One survey node's answer: one survey_responses row. */
export interface SurveyAnswerRow {
  /** The surveyed queue call's id (the CDR part with the agent); outside a post-call survey, the call's own. */
  readonly callId: string;
  readonly queueId: string | null;
  readonly agentId: string | null;
  readonly question: string;
  readonly scale: SurveyScale;
  /** null: no response (the caller hung up, pressed nothing or only keys off the scale). */
  readonly score: number | null;
}

export interface SurveyPort {
  /** The survey after a call in `queue` answered by agent `agentNumber`; null when the queue has none. */
  surveyFor(queue: string, agentNumber: string | null): Promise<PostCallSurvey | null>;
  /** Store an answer; a question answered already for this call keeps its score (a null is replaced). */
  record(answer: SurveyAnswerRow): Promise<void>;
}
