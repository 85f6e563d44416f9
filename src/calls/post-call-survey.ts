/**
 * Post-call survey, the call side (docs/acd.md#post-call-survey). When the agent hangs up an
 * answered queue call and the queue names a survey flow, the caller is not hung up: the call goes
 * on as its next part, the survey, with a CDR of its own. So the queue call's CDR stays what it
 * was (endedBy agent, talk = the conversation, the queue and the agent), and the survey part's
 * CDR says how the survey ended (caller, or system when the flow hung up), linked to the queue
 * call by linkedId. Each survey node's answer is stored with the queue call's id, queue and agent.
 */
import type { CallFacts } from './cdr.js';
import { nextPartFacts } from './transfer.js';

/** Who a survey's answers belong to: the surveyed queue call (its CDR part), its queue and agent. */
export interface SurveyContext {
  readonly callId: string;
  readonly queueId: string;
  readonly agentId: string | null;
}

/** The survey part: like a transfer's next part (transfer.ts), but to the number the caller dialed, with a call id of its own kind. */
export function surveyPartFacts(current: CallFacts, part: number, now: Date): CallFacts {
  const next = nextPartFacts(current, part, current.dialedNumber ?? '', now);
  return { ...next, callId: `${next.linkedId ?? next.callId}-s${part}`, dialedNumber: current.dialedNumber };
}
