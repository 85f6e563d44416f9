/**
 * Dispositions (docs/campaigns.md#dispositions): after a call the agent sets its outcome, by the API
 * (POST /campaigns/:id/attempts/:attemptId/disposition) or by a code keyed on the handset during
 * wrap-up (src/calls: the feature code calls setDisposition with the agent's id). The code must be
 * one of the campaign's; the attempt must have been connected to an agent and have no disposition
 * yet. In ONE transaction: the attempt's and the contact's disposition (its name), the action's
 * effect on the contact (dispositionEffect, pure), a do-not-call row for `dnc`, and an audit row.
 *
 *   done     -> contact done
 *   retry    -> contact ready (ahead of fresh contacts) at callbackAt if given, else after the
 *               campaign's no-answer delay; exhausted when it has had maxAttempts tries
 *   callback -> contact callback at callbackAt (required: in the future, inside the calling window
 *               in the contact's time), for the same agent (callback_agent_id)
 *   dnc      -> the number on the CAMPAIGN's do-not-call list (source 'disposition'; the site-wide
 *               list is an admin's, by import or API), contact dnc
 */
import type { Actor } from '../audit/repository.js';
import { recordAudit } from '../audit/repository.js';
import type { Db, DbOrTx } from '../db/database.js';
import { AppError, invalid, notFound } from '../errors.js';
import { fullRetryRules } from './campaign-settings.js';
import { addDoNotCall } from './dnc.js';
import { RETRY_PRIORITY } from './outcomes.js';
import type { ContactState, Disposition, RetryRules } from './tables.js';
import { inWindow, type CallingWindow } from './window.js';

/** The handset path looks back this far for the agent's call to disposition. */
export const HANDSET_LOOKBACK_MS = 30 * 60_000;

export interface EffectInput {
  readonly action: Disposition['action'];
  readonly now: Date;
  readonly callbackAt?: Date | undefined;
  /** Tries the contact has had (this one included). */
  readonly attempts: number;
  readonly maxAttempts: number;
  readonly retryRules: RetryRules;
  readonly window: CallingWindow;
  readonly timeZones: readonly string[];
}

export type Effect =
  | { readonly ok: true; readonly state: Extract<ContactState, 'done' | 'ready' | 'exhausted' | 'callback' | 'dnc'>; readonly nextAttemptAt: Date | null; readonly dnc: boolean }
  | { readonly ok: false; readonly field: string; readonly message: string };

/** What a disposition's action does to its contact (pure). */
export function dispositionEffect(e: EffectInput): Effect {
  const bad = (message: string): Effect => ({ ok: false, field: 'body.callbackAt', message });
  if (e.callbackAt !== undefined && e.action !== 'callback' && e.action !== 'retry') return bad(`a ${e.action} disposition takes no time (only callback and retry do)`);
  if (e.callbackAt !== undefined && e.callbackAt.getTime() <= e.now.getTime()) return bad('must be in the future');
  switch (e.action) {
    case 'done':
      return { ok: true, state: 'done', nextAttemptAt: null, dnc: false };
    case 'dnc':
      return { ok: true, state: 'dnc', nextAttemptAt: null, dnc: true };
    case 'retry': {
      if (e.attempts >= e.maxAttempts) return { ok: true, state: 'exhausted', nextAttemptAt: null, dnc: false };
      const delay = fullRetryRules(e.retryRules)['no-answer'].delayMinutes * 60_000;
      return { ok: true, state: 'ready', nextAttemptAt: e.callbackAt ?? new Date(e.now.getTime() + delay), dnc: false };
    }
    case 'callback':
      if (e.callbackAt === undefined) return bad('a callback disposition needs callbackAt, the time to call back');
      if (!inWindow(e.timeZones, e.window, e.callbackAt)) {
        return bad(e.timeZones.length === 0
          ? "the contact's time zone is unknown, so no time is inside its calling window"
          : `outside the calling window (${e.window.start}-${e.window.end}, days ${e.window.days.join(',')}) in the contact's time (${e.timeZones.join(', ')})`);
      }
      return { ok: true, state: 'callback', nextAttemptAt: e.callbackAt, dnc: false };
  }
}

export type DispositionTarget = { readonly attemptId: string; readonly campaignId?: string } | { readonly agentId: string };

export interface DispositionOptions {
  readonly callbackAt?: Date | undefined;
  readonly actor: Actor;
  /** The clock (tests); now by default. */
  readonly now?: Date;
}

export interface DispositionResult {
  readonly attemptId: string;
  readonly campaignId: string;
  readonly contactId: string;
  readonly code: string;
  readonly name: string;
  readonly success: boolean;
  readonly action: Disposition['action'];
  readonly contactState: string;
  readonly nextAttemptAt: Date | null;
}

export type SetDispositionResult = ({ readonly ok: true } & DispositionResult) | { readonly ok: false; readonly error: AppError };

/**
 * Set the disposition of an attempt (the API: by its id) or of the agent's latest connected
 * attempt of the last 30 minutes (the handset; refused when that one has a disposition already). Never throws an AppError: it is the
 * result's `error` (codes: attempt-not-found 404, attempt-not-connected 409,
 * disposition-already-set 409, validation-failed 400 naming body.code or body.callbackAt).
 */
export async function setDisposition(db: Db, target: DispositionTarget, code: string, opts: DispositionOptions): Promise<SetDispositionResult> {
  try {
    return { ok: true, ...(await db.transaction().execute((tx) => apply(tx, target, code, opts))) };
  } catch (err) {
    if (err instanceof AppError) return { ok: false, error: err };
    throw err;
  }
}

async function apply(tx: DbOrTx, target: DispositionTarget, code: string, opts: DispositionOptions): Promise<DispositionResult> {
  const now = opts.now ?? new Date();
  const attempt = await findAttempt(tx, target, now);
  if (!attempt.connected_at) throw new AppError('attempt-not-connected', 409, `attempt ${attempt.id} was never connected to an agent: there is nothing to disposition`, { attemptId: attempt.id });
  if (attempt.disposition !== null) throw new AppError('disposition-already-set', 409, `attempt ${attempt.id} has the disposition ${attempt.disposition} already`, { attemptId: attempt.id, disposition: attempt.disposition });
  const campaign = await tx.selectFrom('campaigns').selectAll().where('id', '=', attempt.campaign_id).executeTakeFirstOrThrow();
  const disposition = campaign.dispositions.find((d) => d.code === code);
  if (!disposition) {
    throw invalid('body.code', `campaign ${campaign.name} has no disposition ${code}; its codes: ${campaign.dispositions.map((d) => `${d.code} ${d.name}`).join(', ') || 'none'}`);
  }
  const contact = await tx.selectFrom('campaign_contacts').selectAll().where('id', '=', attempt.contact_id).forUpdate().executeTakeFirstOrThrow();
  const effect = dispositionEffect({
    action: disposition.action, now, callbackAt: opts.callbackAt, attempts: contact.attempts, maxAttempts: campaign.max_attempts,
    retryRules: campaign.retry_rules, window: { start: campaign.window_start, end: campaign.window_end, days: campaign.window_days }, timeZones: contact.time_zones,
  });
  if (!effect.ok) throw invalid(effect.field, effect.message);

  await tx.updateTable('campaign_attempts').set({ disposition: disposition.name }).where('id', '=', attempt.id).execute();
  await tx.updateTable('campaign_contacts').set({
    disposition: disposition.name,
    state: effect.state,
    updated_at: now,
    ...(effect.nextAttemptAt ? { next_attempt_at: effect.nextAttemptAt, priority: RETRY_PRIORITY } : {}),
    ...(effect.state === 'callback' ? { callback_agent_id: attempt.agent_id } : {}),
  }).where('id', '=', contact.id).execute();
  // The DNC module's one way in: the entry (unless the campaign's list has the number already) and
  // the number's other contacts still to dial in this campaign made dnc (none today: a number is in
  // a campaign once), in this transaction.
  if (effect.dnc) await addDoNotCall(tx, { number: contact.number, campaignId: campaign.id, source: 'disposition', note: `attempt ${attempt.id}: ${disposition.name}` });
  await recordAudit(tx, opts.actor, {
    action: 'campaign.disposition', entity: 'campaign', entityId: campaign.id,
    details: { attemptId: attempt.id, contactId: contact.id, code, name: disposition.name, action: disposition.action, contactState: effect.state, ...(effect.nextAttemptAt ? { nextAttemptAt: effect.nextAttemptAt.toISOString() } : {}) },
  });
  return {
    attemptId: attempt.id, campaignId: campaign.id, contactId: contact.id, code, name: disposition.name, success: disposition.success,
    action: disposition.action, contactState: effect.state, nextAttemptAt: effect.nextAttemptAt,
  };
}

async function findAttempt(tx: DbOrTx, target: DispositionTarget, now: Date) {
  const base = tx.selectFrom('campaign_attempts').selectAll();
  if ('attemptId' in target) {
    const row = await base.where('id', '=', target.attemptId).forUpdate().executeTakeFirst();
    if (!row || (target.campaignId !== undefined && row.campaign_id !== target.campaignId)) throw notFound('attempt-not-found', 'attempt', target.attemptId);
    return row;
  }
  // The agent's LAST call only: once it has a disposition a code keyed again is refused
  // (disposition-already-set), never written to an older call the agent left without one.
  const row = await base
    .where('agent_id', '=', target.agentId)
    .where('connected_at', '>=', new Date(now.getTime() - HANDSET_LOOKBACK_MS))
    .orderBy('connected_at', 'desc')
    .limit(1)
    .forUpdate()
    .executeTakeFirst();
  if (!row) throw new AppError('attempt-not-found', 404, `agent ${target.agentId} has no connected campaign call of the last 30 minutes`, { agentId: target.agentId });
  return row;
}
