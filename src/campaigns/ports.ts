/**
 * The seam between the dialer (src/campaigns: pacing loop, attempt jobs, outcomes, retries) and
 * the call side (src/calls: the answered contact's channel in Stasis, AMD, the agent, the abandon
 * message). Both sides speak of one attempt by its id, `<contact id>-<n>`, which is also the
 * Asterisk channel id of the contact's leg (set on the originate), so a second originate of the
 * same attempt is refused by Asterisk itself while the first leg lives.
 *
 *   dialer --originate(attempt)--> Asterisk (AMI Originate, async, into [pbx-campaign]: AMD when
 *                                  asked, then Stasis(<app>,campaign,<attempt id>,<AMD status>,<AMD cause>))
 *   Asterisk --not answered (OriginateResponse: busy / no answer / failed)--> dialer.notAnswered
 *   Stasis  --the contact answered--> call side --answered(attempt, amd)--> dialer: what to do
 *           (connect to the queue's agents / machine: hang up or play the message / agentless flow)
 *   call side --connected / abandoned / ended--> dialer (outcome, counters, retries)
 *
 * Every report is idempotent (the attempt's state in Postgres decides; a second report of the same
 * thing changes nothing), so a restarted daemon or a repeated event never double-counts.
 */

/** What the dialer asks Asterisk to place. */
export interface OriginateRequest {
  readonly attemptId: string;
  readonly campaignId: string;
  /** E.164. */
  readonly number: string;
  /** The trunk's name (its PJSIP endpoint). */
  readonly trunk: string;
  readonly callerId: string;
  readonly callerName: string | null;
  /** Ring this long before "no answer" (>= 15). */
  readonly ringSeconds: number;
  /** Run app_amd on answer before Stasis. */
  readonly amd: boolean;
  /**
   * A machine gets a message (machine_action 'message' with a prompt): on MACHINE, [pbx-campaign]
   * waits for the greeting and its beep to end (silence) before the app plays it. Absent: false.
   */
  readonly machineMessage?: boolean;
}

export type NotAnsweredOutcome = 'busy' | 'no-answer' | 'failed';

export interface AttemptDialer {
  /**
   * Hand the call to Asterisk; resolves once Asterisk took it (the outcome comes later, by
   * CampaignCallReports). Rejects when Asterisk cannot be asked (AMI down): the attempt is failed.
   */
  originate(req: OriginateRequest): Promise<void>;
}

/** AMD's verdict (app_amd's AMDSTATUS / AMDCAUSE), null when the campaign has no AMD. */
export interface AmdResult {
  readonly status: 'MACHINE' | 'HUMAN' | 'NOTSURE' | 'HANGUP';
  readonly cause: string;
}

/** What the call side is told to do with an answered contact. */
export type AnsweredPlan =
  /**
   * A live person: connect to one of the queue's agents within `connectMs`, else abandon (play `abandonPrompt`).
   * `reservedFor`: the agent reserved for the contact, offered it first: in preview mode the agent
   * who accepted it, for a "call back at" the agent who promised it. `ringsAgent` (preview):
   * `connectMs` is that agent's phone's ring time (not capped at 2 s: the agent chose to call);
   * without it the usual deadline (2 s at most) applies.
   */
  | { readonly kind: 'connect'; readonly queue: string; readonly connectMs: number; readonly abandonPrompt: string | null; readonly contact: ContactView; readonly reservedFor?: string; readonly ringsAgent?: boolean }
  /** A machine: hang up, or play `prompt` (after the beep) and hang up. */
  | { readonly kind: 'machine'; readonly prompt: string | null }
  /** Agentless: run this flow (it may send the contact to a queue). */
  | { readonly kind: 'flow'; readonly flowId: string; readonly contact: ContactView }
  /** The attempt is unknown, already over, or its campaign was stopped: hang up. */
  | { readonly kind: 'hangup' };

/** What an agent (screen pop, caller-ID) sees of the contact. */
export interface ContactView {
  readonly contactId: string;
  readonly campaign: string;
  readonly number: string;
  readonly name: string | null;
  readonly data: Readonly<Record<string, string>>;
}

export interface CampaignCallReports {
  /** Asterisk says the number was not answered (OriginateResponse, or the leg ended before answer). */
  notAnswered(attemptId: string, outcome: NotAnsweredOutcome, details: { readonly cause: number | null; readonly ringMs: number | null }): Promise<void>;
  /** The contact answered (after AMD when asked): what to do with the call. */
  answered(attemptId: string, channelId: string, amd: AmdResult | null, ringMs: number | null): Promise<AnsweredPlan>;
  /** An agent is talking with the contact. */
  connected(attemptId: string, agentId: string, at: Date): Promise<void>;
  /** No agent within connectMs: the contact heard the abandon message. */
  abandoned(attemptId: string, at: Date): Promise<void>;
  /** The contact's leg is gone (whatever came before). */
  ended(attemptId: string, at: Date): Promise<void>;
  /**
   * A restarted daemon found the contact waiting for an agent (the live call's mode says so): the
   * connect plan again and when the wait began (`since`: the answer, from which the 2 s count), or
   * hangup when the attempt is unknown or no longer waiting (connected, abandoned, ended). Absent
   * (a fake in tests): the contact is hung up.
   */
  rejoined?(attemptId: string): Promise<{ readonly plan: AnsweredPlan; readonly since: Date | null }>;
}
