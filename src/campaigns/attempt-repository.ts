/**
 * campaign_attempts and the contact side of each step (docs/campaigns.md, "How a contact is
 * dialed"). Every step is one transaction that checks the attempt's state first, so a step run
 * twice (a stalled job run again, a repeated event, two daemons) changes nothing the second time:
 *
 *   claim      ready/callback contacts due now, in the window, row-locked with SKIP LOCKED (two
 *              dialers never take the same one) -> contact 'dialing', attempt `<contact>-<n>` 'queued'
 *              (preview mode: 'offered' to one agent until they accept: preview-repository.ts)
 *   release    the job could not be queued (Redis down): attempt deleted, contact back as it was
 *   dial       'queued' -> 'dialing' (only one caller wins; campaign_days.attempts + 1)
 *   answered   'dialing' -> 'answered' (live answer or machine)
 *   connected  'answered' -> 'connected' (an agent talks with the contact)
 *   abandoned  outcome 'abandoned' on an answered call no agent took in time
 *   finish     -> 'ended' with its outcome; the contact moves on (outcomes.ts); counters added
 *
 * The campaign_days counters are added in the same transaction as the step they count, on the
 * day (campaign's time zone) the attempt was dialed, so the 30-day abandon rate is exact.
 */
import { sql } from 'kysely';
import { DateTime } from 'luxon';
import type { DbOrTx, Db } from '../db/database.js';
import { contactAfter, isShortRing, unsettledAnswerOutcome, type DayCounter } from './outcomes.js';
import { inWindow, nextOpening, type CallingWindow } from './window.js';
import type { AmdResult } from './ports.js';
import type { AttemptOutcome, CampaignAttemptRow, CampaignRow } from './tables.js';

export interface ClaimedAttempt {
  readonly id: string;
  readonly contactId: string;
  readonly number: string;
}

export const windowOf = (c: Pick<CampaignRow, 'window_start' | 'window_end' | 'window_days'>): CallingWindow => ({
  start: c.window_start,
  end: c.window_end,
  days: c.window_days,
});

/** The campaign's day of an instant ('YYYY-MM-DD' in its time zone). */
export function dayOf(timeZone: string, at: Date): string {
  const d = DateTime.fromJSDate(at, { zone: timeZone });
  return (d.isValid ? d : DateTime.fromJSDate(at, { zone: 'UTC' })).toISODate()!;
}

async function addToDay(db: DbOrTx, campaignId: string, day: string, counters: readonly (DayCounter | 'attempts')[]): Promise<void> {
  if (counters.length === 0) return;
  const values: Record<string, number> = {};
  for (const c of counters) values[c] = (values[c] ?? 0) + 1;
  const set: Record<string, unknown> = {};
  for (const [c, n] of Object.entries(values)) set[c] = sql`campaign_days.${sql.ref(c)} + ${n}`;
  await db
    .insertInto('campaign_days')
    .values({ campaign_id: campaignId, day, ...values })
    .onConflict((oc) => oc.columns(['campaign_id', 'day']).doUpdateSet(set))
    .execute();
}

/**
 * A "call back at" for one agent (callback_agent_id) waits for that agent this long after its
 * time; after it, any agent of the queue may take it (docs/campaigns.md#call-back-at).
 */
export const CALLBACK_AGENT_GRACE_MS = 15 * 60_000;

/** What a claim is for, beside plain lines: a preview offer to an agent, or an agent's own callback. */
export interface ClaimWanted {
  readonly lines: number;
  readonly inFlightSeen: number;
  /** Preview: offered to this agent (attempt 'offered'); their own callbacks come first. */
  readonly offerTo?: string;
  /** Only this agent's callbacks that are due, queued with the agent on the attempt (reserved for it). */
  readonly callbackFor?: string;
}

/**
 * Up to `wanted.lines` contacts of a running campaign (fewer if lines were claimed since the
 * caller counted `inFlightSeen`), due now and inside their calling window, become queued attempts. Contacts due but outside their window are moved to the window's next opening
 * (or 'unreachable' when there is none) in the same transaction, so they are not looked at again
 * every tick. A callback for one agent is claimed only for that agent (`callbackFor`, or a
 * preview `offerTo`) until CALLBACK_AGENT_GRACE_MS after its time; then by anyone.
 */
export async function claimContacts(db: Db, campaign: CampaignRow, wanted: ClaimWanted, now: Date): Promise<ClaimedAttempt[]> {
  if (wanted.lines <= 0) return [];
  const window = windowOf(campaign);
  return db.transaction().execute(async (tx) => {
    // The campaign's row lock serialises the claims of every daemon pacing it: lines another one
    // claimed since this one looked are taken off what it may claim now.
    const state = await tx.selectFrom('campaigns').select('state').where('id', '=', campaign.id).forUpdate().executeTakeFirst();
    if (state?.state !== 'running') return [];
    // A preview offer (offerTo) or an agent's callback is not a line: the agent's reservation is its limit.
    const agent = wanted.callbackFor ?? wanted.offerTo;
    const n = agent !== undefined ? wanted.lines : wanted.lines - Math.max(0, (await linesInFlight(tx, campaign.id)) - wanted.inFlightSeen);
    if (n <= 0) return [];
    const graceOver = new Date(now.getTime() - CALLBACK_AGENT_GRACE_MS);
    let q = tx
      .selectFrom('campaign_contacts')
      .select(['id', 'number', 'attempts', 'time_zones'])
      .where('campaign_id', '=', campaign.id)
      .where('next_attempt_at', '<=', now);
    if (wanted.callbackFor !== undefined) {
      q = q.where('state', '=', 'callback').where('callback_agent_id', '=', wanted.callbackFor);
    } else {
      // Another agent's callback still waits for them.
      q = q.where('state', 'in', ['ready', 'callback']).where((eb) => eb.or([
        eb('state', '=', 'ready'),
        eb('callback_agent_id', 'is', null),
        eb('next_attempt_at', '<=', graceOver),
        ...(agent !== undefined ? [eb('callback_agent_id', '=', agent)] : []),
      ]));
      // A preview agent's own callbacks first.
      // ("is true": null, for a contact with no callback agent, would sort first in a descending order.)
      if (agent !== undefined) q = q.orderBy(sql`(state = 'callback' and callback_agent_id = ${agent}) is true`, 'desc');
    }
    const due = await q
      .orderBy('priority', 'desc')
      .orderBy('next_attempt_at')
      .orderBy('id')
      .limit(Math.min(500, n * 4 + 20))
      .forUpdate()
      .skipLocked()
      .execute();
    const claimed: ClaimedAttempt[] = [];
    for (const c of due) {
      if (claimed.length >= n) break;
      if (!inWindow(c.time_zones, window, now)) {
        const opening = nextOpening(c.time_zones, window, now);
        await tx
          .updateTable('campaign_contacts')
          .set(opening ? { next_attempt_at: opening, updated_at: now } : { state: 'unreachable', last_outcome: 'no-window', updated_at: now })
          .where('id', '=', c.id)
          .execute();
        continue;
      }
      const id = `${c.id}-${c.attempts + 1}`;
      await tx.updateTable('campaign_contacts').set({ state: 'dialing', attempts: c.attempts + 1, updated_at: now }).where('id', '=', c.id).execute();
      const offer = wanted.callbackFor !== undefined ? { state: 'queued' as const, agent_id: wanted.callbackFor }
        : wanted.offerTo !== undefined ? { state: 'offered' as const, agent_id: wanted.offerTo } : { state: 'queued' as const };
      await tx.insertInto('campaign_attempts').values({ id, campaign_id: campaign.id, contact_id: c.id, number: c.number, created_at: now, ...offer }).execute();
      claimed.push({ id, contactId: c.id, number: c.number });
    }
    return claimed;
  });
}

/** The job for a claimed attempt could not be queued (or a preview offer's agent was taken meanwhile): undo the claim. */
export async function releaseAttempt(db: Db, attemptId: string): Promise<void> {
  await db.transaction().execute(async (tx) => {
    const a = await tx.deleteFrom('campaign_attempts').where('id', '=', attemptId).where('state', 'in', ['queued', 'offered']).returning(['contact_id']).executeTakeFirst();
    if (!a) return;
    await tx
      .updateTable('campaign_contacts')
      .set((eb) => ({ state: 'ready', attempts: eb('attempts', '-', 1), updated_at: new Date() }))
      .where('id', '=', a.contact_id)
      .where('state', '=', 'dialing')
      .execute();
  });
}

export const findAttempt = (db: DbOrTx, id: string): Promise<CampaignAttemptRow | undefined> =>
  db.selectFrom('campaign_attempts').selectAll().where('id', '=', id).executeTakeFirst();

/**
 * 'queued' -> 'dialing', counted as an attempt of its day. False when the attempt is not queued
 * any more (another run of the job got there first, or it was cancelled): do not dial.
 */
export async function markDialing(db: Db, campaign: Pick<CampaignRow, 'id' | 'time_zone'>, attemptId: string, at: Date): Promise<boolean> {
  return db.transaction().execute(async (tx) => {
    const a = await tx
      .updateTable('campaign_attempts')
      .set({ state: 'dialing', dialed_at: at })
      .where('id', '=', attemptId)
      .where('state', '=', 'queued')
      .returning('id')
      .executeTakeFirst();
    if (!a) return false;
    await addToDay(tx, campaign.id, dayOf(campaign.time_zone, at), ['attempts']);
    return true;
  });
}

/** 'dialing' -> 'answered'. False: not dialing (unknown, over, or answered already). */
export async function markAnswered(db: Db, campaign: Pick<CampaignRow, 'id' | 'time_zone'>, attemptId: string, channelId: string, amd: AmdResult | null, ringMs: number | null, at: Date): Promise<boolean> {
  return db.transaction().execute(async (tx) => {
    const a = await tx
      .updateTable('campaign_attempts')
      .set({
        state: 'answered',
        answered_at: at,
        channel_id: channelId,
        ring_ms: ringMs,
        amd_status: amd?.status ?? null,
        amd_cause: amd?.cause ?? null,
        ...(amd?.status === 'MACHINE' ? { outcome: 'machine' as const } : {}),
      })
      .where('id', '=', attemptId)
      .where('state', '=', 'dialing')
      .returning(['dialed_at'])
      .executeTakeFirst();
    if (!a) return false;
    await addToDay(tx, campaign.id, dayOf(campaign.time_zone, a.dialed_at ?? at), [amd?.status === 'MACHINE' ? 'machines' : 'live_answers']);
    return true;
  });
}

/**
 * A step of an answered live call not yet settled (no outcome): `set` written, `counter` added
 * to the day it was dialed. False when the call was settled already (or is not answered).
 */
async function settleAnswered(
  db: Db, campaign: Pick<CampaignRow, 'id' | 'time_zone'>, attemptId: string,
  set: { readonly state?: 'connected'; readonly connected_at?: Date; readonly agent_id?: string; readonly outcome: 'human' | 'abandoned' },
  counter: DayCounter, at: Date,
): Promise<boolean> {
  return db.transaction().execute(async (tx) => {
    const a = await tx
      .updateTable('campaign_attempts')
      .set(set)
      .where('id', '=', attemptId)
      .where('state', '=', 'answered')
      .where('outcome', 'is', null)
      .returning(['dialed_at'])
      .executeTakeFirst();
    if (!a) return false;
    await addToDay(tx, campaign.id, dayOf(campaign.time_zone, a.dialed_at ?? at), [counter]);
    return true;
  });
}

/** 'answered' -> 'connected' with the agent. */
export const markConnected = (db: Db, campaign: Pick<CampaignRow, 'id' | 'time_zone'>, attemptId: string, agentId: string, at: Date): Promise<boolean> =>
  settleAnswered(db, campaign, attemptId, { state: 'connected', connected_at: at, agent_id: agentId, outcome: 'human' }, 'connects', at);

/** An answered live call no agent took in time: outcome 'abandoned' (counted once). */
export const markAbandoned = (db: Db, campaign: Pick<CampaignRow, 'id' | 'time_zone'>, attemptId: string, at: Date): Promise<boolean> =>
  settleAnswered(db, campaign, attemptId, { outcome: 'abandoned' }, 'abandons', at);

export interface FinishFacts {
  /** The outcome when the attempt has none yet (an answered call keeps the one it got). */
  readonly outcome: AttemptOutcome;
  readonly cause?: number | null;
  readonly ringMs?: number | null;
  readonly at: Date;
  /** End it only from this state (a preview offer skipped: not once accepted). */
  readonly onlyFrom?: CampaignAttemptRow['state'];
}

/**
 * The attempt is over: 'ended' with its outcome, the contact moved on by outcomes.ts, the day's
 * counters added. An answered call that was neither connected nor marked abandoned (the contact
 * hung up while waiting for an agent) counts as abandoned: the conservative reading of the rule;
 * an agentless campaign's contact served by its flow is 'human' (unsettledAnswerOutcome).
 * False when it had ended already.
 */
export async function finishAttempt(db: Db, campaign: CampaignRow, attemptId: string, facts: FinishFacts): Promise<boolean> {
  return db.transaction().execute(async (tx) => {
    const a = await tx.selectFrom('campaign_attempts').selectAll().where('id', '=', attemptId).forUpdate().executeTakeFirst();
    if (!a || a.state === 'ended' || (facts.onlyFrom !== undefined && a.state !== facts.onlyFrom)) return false;
    const counters: DayCounter[] = [];
    let outcome: AttemptOutcome = a.outcome ?? facts.outcome;
    if (a.state === 'answered' && a.outcome === null) {
      outcome = unsettledAnswerOutcome(campaign, a.amd_status);
      if (outcome === 'abandoned') counters.push('abandons');
    }
    const ringMs = a.ring_ms ?? facts.ringMs ?? null;
    if (a.dialed_at !== null && isShortRing(outcome, ringMs)) counters.push('short_rings');
    if (outcome === 'blocked-dnc') counters.push('dnc_blocked');
    await tx
      .updateTable('campaign_attempts')
      .set({ state: 'ended', outcome, ended_at: facts.at, hangup_cause: facts.cause ?? a.hangup_cause, ring_ms: ringMs })
      .where('id', '=', attemptId)
      .execute();
    if (counters.length > 0) await addToDay(tx, campaign.id, dayOf(campaign.time_zone, a.dialed_at ?? facts.at), counters);
    const contact = await tx.selectFrom('campaign_contacts').select(['state', 'time_zones']).where('id', '=', a.contact_id).forUpdate().executeTakeFirst();
    // A disposition set meanwhile, or a DNC import, has the last word.
    if (!contact || contact.state !== 'dialing') return true;
    const dialed = await tx
      .selectFrom('campaign_attempts')
      .select((eb) => eb.fn.countAll<string>().as('n'))
      .where('contact_id', '=', a.contact_id)
      .where('dialed_at', 'is not', null)
      .executeTakeFirstOrThrow();
    const next = contactAfter({
      outcome,
      dialed: Number(dialed.n),
      rules: campaign.retry_rules,
      maxAttempts: campaign.max_attempts,
      machineMessage: campaign.machine_action === 'message' && campaign.machine_prompt !== null,
      at: facts.at,
      nextOpening: outcome === 'blocked-window' ? nextOpening(contact.time_zones, windowOf(campaign), facts.at) : null,
    });
    if (next.state === 'unchanged') {
      // not a try (the attempt row keeps its number: attempts counts rows, the retry limit counts dials)
      await tx
        .updateTable('campaign_contacts')
        .set({ state: 'ready', last_outcome: outcome, updated_at: facts.at })
        .where('id', '=', a.contact_id)
        .execute();
    } else if (next.state === 'ready') {
      await tx
        .updateTable('campaign_contacts')
        .set({ state: 'ready', next_attempt_at: next.nextAttemptAt, ...(next.priority === null ? {} : { priority: next.priority }), last_outcome: outcome, updated_at: facts.at })
        .where('id', '=', a.contact_id)
        .execute();
    } else {
      await tx.updateTable('campaign_contacts').set({ state: next.state, last_outcome: outcome, updated_at: facts.at }).where('id', '=', a.contact_id).execute();
    }
    return true;
  });
}

/** Attempts of a campaign not over and not yet talking: queued, dialing, answered without an agent. */
export async function linesInFlight(db: DbOrTx, campaignId: string): Promise<number> {
  const r = await db
    .selectFrom('campaign_attempts')
    .select((eb) => eb.fn.countAll<string>().as('n'))
    .where('campaign_id', '=', campaignId)
    .where((eb) => eb.or([eb('state', 'in', ['queued', 'dialing']), eb.and([eb('state', '=', 'answered'), eb('outcome', 'is', null)])]))
    .executeTakeFirstOrThrow();
  return Number(r.n);
}

/** Attempts dialed (or queued) on the campaign's day of `at`: the daily limit's count. */
export async function attemptsToday(db: DbOrTx, campaign: Pick<CampaignRow, 'id' | 'time_zone'>, at: Date): Promise<number> {
  const day = dayOf(campaign.time_zone, at);
  const r = await db.selectFrom('campaign_days').select('attempts').where('campaign_id', '=', campaign.id).where(sql<boolean>`day = ${day}::date`).executeTakeFirst();
  const queued = await db
    .selectFrom('campaign_attempts')
    .select((eb) => eb.fn.countAll<string>().as('n'))
    .where('campaign_id', '=', campaign.id)
    .where('state', '=', 'queued')
    .executeTakeFirstOrThrow();
  return (r?.attempts ?? 0) + Number(queued.n);
}

/** Attempts in a state since before `before`: the reconciliation's candidates (a restart, a lost job). */
export async function attemptsStuck(db: DbOrTx, state: 'offered' | 'queued' | 'dialing' | 'answered' | 'connected', before: Date, limit = 200): Promise<CampaignAttemptRow[]> {
  const column = state === 'queued' || state === 'offered' ? 'created_at' : state === 'dialing' ? 'dialed_at' : state === 'answered' ? 'answered_at' : 'connected_at';
  return db.selectFrom('campaign_attempts').selectAll().where('state', '=', state).where(column, '<', before).orderBy(column).limit(limit).execute();
}
