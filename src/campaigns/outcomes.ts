/**
 * What an attempt's outcome does to its contact (pure). The rules (docs/campaigns.md, "Retries"):
 *
 *   human (an agent talked with them)      -> done (the agent's disposition may change it after)
 *   machine, the campaign leaves a message -> done
 *   busy | no-answer | machine | failed | abandoned
 *                                          -> ready again after the outcome's delay, ahead of fresh
 *                                             contacts (priority 1), while the contact has been
 *                                             dialed fewer times than the outcome's maxAttempts and
 *                                             the campaign's maxAttempts; else exhausted
 *   blocked-dnc                            -> dnc (never dialed)
 *   blocked-window                         -> ready at the window's next opening (not a try); no
 *                                             opening within 8 days (zones unknown) -> unreachable
 *   cancelled (stopped or paused before it was dialed) -> ready as it was (not a try)
 *   skipped | expired (a preview offer the agent skipped or left unanswered: never dialed)
 *                                          -> ready at once, behind every fresh contact and retry
 *                                             (priority -1): the next agent is offered the next
 *                                             contact first (not a try)
 *
 * A retry never comes sooner than its delay, and the dialer dials it only inside the window and
 * through pacing like any contact: the due time is a column (Postgres keeps it across restarts and
 * Redis loss), not a delayed job that would dial by itself.
 */
import type { AttemptOutcome, ContactState, RetryOutcome, RetryRule, RetryRules } from './tables.js';

/** Used for an outcome a campaign has no rule for. */
export const DEFAULT_RETRY_RULES: Readonly<Record<RetryOutcome, RetryRule>> = Object.freeze({
  busy: { delayMinutes: 10, maxAttempts: 3 },
  'no-answer': { delayMinutes: 60, maxAttempts: 3 },
  machine: { delayMinutes: 240, maxAttempts: 2 },
  failed: { delayMinutes: 15, maxAttempts: 3 },
  abandoned: { delayMinutes: 60, maxAttempts: 3 },
});

const RETRY_OUTCOMES: ReadonlySet<string> = new Set(['busy', 'no-answer', 'machine', 'failed', 'abandoned']);
export const RETRY_PRIORITY = 1;
/** A preview offer skipped (or expired) puts its contact behind fresh ones (priority 0). */
export const SKIPPED_PRIORITY = -1;

export interface OutcomeInput {
  readonly outcome: AttemptOutcome;
  /** Times the contact has been dialed, this attempt included. */
  readonly dialed: number;
  readonly rules: RetryRules;
  readonly maxAttempts: number;
  /** The campaign leaves a message on machines. */
  readonly machineMessage: boolean;
  readonly at: Date;
  /** For blocked-window: the window's next opening for the contact (window.ts nextOpening). */
  readonly nextOpening?: Date | null;
}

export type ContactNext =
  | { readonly state: Extract<ContactState, 'ready'>; readonly nextAttemptAt: Date; readonly priority: number | null }
  | { readonly state: Exclude<ContactState, 'ready' | 'dialing' | 'callback'> }
  /** Leave the contact as the claim left it, put back to ready with its due time unchanged. */
  | { readonly state: 'unchanged' };

export function contactAfter(input: OutcomeInput): ContactNext {
  const { outcome } = input;
  switch (outcome) {
    case 'human':
      return { state: 'done' };
    case 'blocked-dnc':
      return { state: 'dnc' };
    case 'blocked-window':
      return input.nextOpening ? { state: 'ready', nextAttemptAt: input.nextOpening, priority: null } : { state: 'unreachable' };
    case 'cancelled':
      return { state: 'unchanged' };
    case 'skipped':
    case 'expired':
      return { state: 'ready', nextAttemptAt: input.at, priority: SKIPPED_PRIORITY };
    default:
      break;
  }
  if (outcome === 'machine' && input.machineMessage) return { state: 'done' };
  if (!RETRY_OUTCOMES.has(outcome)) return { state: 'exhausted' };
  const rule = input.rules[outcome as RetryOutcome] ?? DEFAULT_RETRY_RULES[outcome as RetryOutcome];
  const limit = Math.min(rule.maxAttempts, input.maxAttempts);
  if (input.dialed >= limit) return { state: 'exhausted' };
  return { state: 'ready', nextAttemptAt: new Date(input.at.getTime() + Math.max(0, rule.delayMinutes) * 60_000), priority: RETRY_PRIORITY };
}

/** The campaign_days counters an outcome adds to (besides `attempts`, counted when dialed). */
export type DayCounter = 'live_answers' | 'machines' | 'connects' | 'abandons' | 'outside_window' | 'dnc_blocked' | 'short_rings';

/** The US rule: a number must ring at least 15 s before the dialer gives up. */
export const MIN_RING_MS = 15_000;

/** A no-answer the dialer gave up on before MIN_RING_MS is a short ring (must stay 0). */
export function isShortRing(outcome: AttemptOutcome, ringMs: number | null): boolean {
  return outcome === 'no-answer' && ringMs !== null && ringMs < MIN_RING_MS;
}

/**
 * The outcome of an answered live call that ends with none yet (no agent connected it, no abandon
 * was marked): an agentless campaign's contact was served by the campaign's flow ('human', not an
 * abandon: nobody waited for an agent), unless they hung up during AMD, before the flow; anyone
 * else waited for an agent in vain or hung up during AMD ('abandoned', counted against the cap:
 * the conservative reading of the rule).
 */
export function unsettledAnswerOutcome(campaign: { readonly mode: string; readonly flow_id: string | null }, amdStatus: string | null): 'human' | 'abandoned' {
  return campaign.mode === 'agentless' && campaign.flow_id !== null && amdStatus !== 'HANGUP' ? 'human' : 'abandoned';
}
