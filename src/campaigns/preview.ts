/**
 * Preview mode (docs/campaigns.md#preview-mode): the dialer offers each contact to one agent
 * before dialing it, and dials it only when that agent accepts.
 *
 *   step (dialer tick)   for each ready agent of the campaign's queue: claim ONE due contact (the
 *                        same claim as the other modes: campaign row lock, SKIP LOCKED) as an
 *                        attempt 'offered' to that agent, then reserve the agent in the ACD (the
 *                        'offer' event with the attempt id as the call: no inbound call is offered
 *                        to them meanwhile). The agent taken meanwhile (an inbound call, another
 *                        daemon): the claim is undone. Then campaign.preview 'offered' on the event
 *                        stream, and the agent's phone is rung with the contact's name spoken
 *                        (PreviewHandset; 1 accepts, 2 skips).
 *   accept               'offered' -> 'queued', and the attempt job dials it as in the other modes;
 *                        the agent stays reserved for it, and when the contact answers the call is
 *                        offered to that agent first (acd/engine.ts join, reservedFor)
 *   skip / expire        the attempt ends 'skipped' / 'expired' (never dialed, not a try); the
 *                        contact is ready again behind every fresh contact (outcomes.ts); the agent
 *                        is ready again (an expired offer counts as a missed offer: the queue's
 *                        missedOffersPause applies)
 *   ended (any attempt)  an accepted offer that did not reach the agent (busy, no answer, machine,
 *                        abandoned) lets the agent go: reserved -> ready
 *
 * An offer not answered within the campaign's `preview_seconds` expires (this daemon's timer; a
 * daemon that died leaves it to every daemon's reconciliation, a minute later). Every step checks
 * the attempt's state in Postgres first, so two daemons, the API and the handset never both win.
 */
import type { Db } from '../db/database.js';
import type { Logger } from '../logger.js';
import type { EventPublisher } from '../events/bus.js';
import type { EventInput } from '../events/model.js';
import { AppError } from '../errors.js';
import { logRejection } from '../shared/log-rejection.js';
import { attemptsStuck, claimContacts, findAttempt, releaseAttempt, type FinishFacts } from './attempt-repository.js';
import type { CampaignRow } from './tables.js';

/** A queue's agent who can be offered a contact. */
export interface PreviewAgent {
  readonly id: string;
  readonly number: string;
  readonly extension: string;
}

/** The ACD as preview mode needs it (acd-floor.ts previewAgents). */
export interface PreviewAgents {
  /** The queue's ready agents logged in at a phone, longest idle first. */
  ready(queueId: string): Promise<readonly PreviewAgent[]>;
  /** Reserve the agent for the offer (ready -> reserved, the attempt id as the call); false: not ready any more. */
  reserve(agentId: string, attemptId: string, queueId: string): Promise<boolean>;
  /** Let the agent go if still reserved for this attempt; `missed`: the offer went unanswered. */
  release(agentId: string, attemptId: string, missed: boolean): Promise<void>;
}

/** The agent's phone (src/calls/preview-call.ts): rung with the contact's name spoken; 1 accepts, 2 skips. */
export interface PreviewHandset {
  ring(offer: PreviewOffer, ringSeconds: number): Promise<void>;
  /** The offer is over (accepted or skipped elsewhere, expired): hang the phone's call up, if any. */
  hangup(attemptId: string): Promise<void>;
}

/** An offer as the API, the event and the handset show it. */
export interface PreviewOffer {
  readonly attemptId: string;
  readonly campaignId: string;
  readonly campaign: string;
  readonly agentId: string;
  readonly agent: string;
  readonly extension: string | null;
  /** The agent's phone answers offers at once (agents.auto_answer): the offer call asks it to as well. */
  readonly autoAnswer: boolean;
  readonly contactId: string;
  readonly number: string;
  readonly name: string | null;
  readonly data: Readonly<Record<string, string>>;
  readonly offeredAt: Date;
  readonly expiresAt: Date;
}

export type PreviewAnswer = 'accept' | 'skip';

export interface PreviewDeps {
  readonly db: Db;
  readonly agents: PreviewAgents;
  readonly handset?: PreviewHandset;
  readonly events?: EventPublisher;
  /** The dialer's: end an attempt (its event and metrics), queue an accepted one's job, tick again. */
  readonly endAttempt: (c: CampaignRow, attemptId: string, facts: FinishFacts) => Promise<boolean>;
  readonly enqueue: (attemptId: string) => Promise<void>;
  readonly kick: () => void;
  readonly log: Logger;
  readonly now: () => Date;
}

/** An offer older than its preview_seconds plus this is expired by any daemon (its own died). */
const ORPHAN_GRACE_MS = 60_000;

/** Pure: the campaign.preview event of an offer in `state`. */
export function previewEvent(offer: PreviewOffer, state: 'offered' | 'accepted' | 'skipped' | 'expired'): EventInput {
  return {
    type: 'campaign.preview',
    attemptId: offer.attemptId,
    campaignId: offer.campaignId,
    campaign: offer.campaign,
    agent: offer.agent,
    state,
    contactId: offer.contactId,
    contactNumber: offer.number,
    contactName: offer.name,
    data: { ...offer.data },
    expiresAt: offer.expiresAt.toISOString(),
  };
}

export class PreviewDialer {
  private readonly timers = new Map<string, NodeJS.Timeout>();

  constructor(private readonly deps: PreviewDeps) {}

  stop(): void {
    for (const t of this.timers.values()) clearTimeout(t);
    this.timers.clear();
  }

  /** One dialer tick of a running preview campaign: an offer to each ready agent. Returns the offers made and whether any agent was ready. */
  async step(c: CampaignRow, now: Date, limit: number): Promise<{ readonly offered: number; readonly agents: number }> {
    if (c.queue_id === null) return { offered: 0, agents: 0 };
    const agents = await this.deps.agents.ready(c.queue_id);
    let offered = 0;
    for (const agent of agents) {
      if (offered >= limit) break;
      let claimed;
      try {
        claimed = await claimContacts(this.deps.db, c, { lines: 1, inFlightSeen: 0, offerTo: agent.id }, now);
      } catch (err) {
        // another daemon offered this agent a contact just now (one offer per agent: unique index)
        this.deps.log.debug({ campaign: c.name, agent: agent.number, err: (err as Error).message }, 'preview offer not claimed');
        continue;
      }
      const a = claimed[0];
      if (!a) break; // no contact due
      if (!(await this.deps.agents.reserve(agent.id, a.id, c.queue_id).catch(() => false))) {
        await releaseAttempt(this.deps.db, a.id);
        continue;
      }
      offered += 1;
      const offer = await this.offerOf(a.id);
      if (!offer) continue;
      this.deps.log.info({ campaign: c.name, attempt: a.id, agent: agent.number }, 'preview: contact offered to an agent');
      this.armTimer(c, offer);
      this.deps.events?.publish(previewEvent(offer, 'offered'));
      if (this.deps.handset) logRejection(this.deps.handset.ring(offer, c.preview_seconds), this.deps.log, 'preview: the agent phone was not rung', { attempt: a.id });
    }
    return { offered, agents: agents.length };
  }

  private armTimer(c: CampaignRow, offer: PreviewOffer): void {
    const ms = Math.max(0, offer.expiresAt.getTime() - this.deps.now().getTime());
    const t = setTimeout(() => {
      this.timers.delete(offer.attemptId);
      logRejection(this.end(c, offer.attemptId, 'expired').catch(() => undefined), this.deps.log, 'preview offer not expired', { attempt: offer.attemptId });
    }, ms);
    t.unref();
    this.timers.set(offer.attemptId, t);
  }

  /** The offer `attemptId` as it stands (still offered), or null. */
  async offerOf(attemptId: string): Promise<PreviewOffer | null> {
    return (await this.query().where('a.id', '=', attemptId).executeTakeFirst().then((r) => (r ? toOffer(r) : null))) ?? null;
  }

  /** The agent's current offer, or null. */
  async offerFor(agentId: string): Promise<PreviewOffer | null> {
    const r = await this.query().where('a.agent_id', '=', agentId).executeTakeFirst();
    return r ? toOffer(r) : null;
  }

  private query() {
    return this.deps.db
      .selectFrom('campaign_attempts as a')
      .innerJoin('campaigns as c', 'c.id', 'a.campaign_id')
      .innerJoin('campaign_contacts as k', 'k.id', 'a.contact_id')
      .innerJoin('agents as g', 'g.id', 'a.agent_id')
      .select(['a.id', 'a.campaign_id', 'c.name as campaign', 'c.preview_seconds', 'a.agent_id', 'g.number as agent', 'g.extension', 'g.auto_answer', 'a.contact_id', 'a.number', 'k.name', 'k.data', 'a.created_at'])
      .where('a.state', '=', 'offered');
  }

  /**
   * The agent's answer (the API, or the handset's key). `expected`: the offer the answer is for
   * (the API's attemptId; the handset's call): another one now is 409 preview-offer-changed.
   * No offer: 409 no-preview-offer.
   */
  async answer(agentId: string, answer: PreviewAnswer, expected?: string): Promise<PreviewOffer> {
    const offer = await this.offerFor(agentId);
    if (!offer) throw new AppError('no-preview-offer', 409, 'the agent has no preview offer now', { agentId });
    if (expected !== undefined && expected !== offer.attemptId) {
      throw new AppError('preview-offer-changed', 409, `the agent's offer is ${offer.attemptId} now, not ${expected}`, { attemptId: offer.attemptId });
    }
    const c = await this.deps.db.selectFrom('campaigns').selectAll().where('id', '=', offer.campaignId).executeTakeFirstOrThrow();
    const done = answer === 'accept' ? await this.accept(c, offer) : await this.end(c, offer.attemptId, 'skipped');
    if (!done) throw new AppError('no-preview-offer', 409, 'the offer ended meanwhile', { agentId, attemptId: offer.attemptId });
    return offer;
  }

  /** 'offered' -> 'queued', and its job dials it. */
  private async accept(c: CampaignRow, offer: PreviewOffer): Promise<boolean> {
    const moved = await this.deps.db
      .updateTable('campaign_attempts')
      .set({ state: 'queued' })
      .where('id', '=', offer.attemptId)
      .where('state', '=', 'offered')
      .executeTakeFirst();
    if (Number(moved.numUpdatedRows) === 0) return false;
    this.clearTimer(offer.attemptId);
    this.deps.log.info({ campaign: c.name, attempt: offer.attemptId, agent: offer.agent }, 'preview: offer accepted; dialing the contact');
    this.deps.events?.publish(previewEvent(offer, 'accepted'));
    if (this.deps.handset) logRejection(this.deps.handset.hangup(offer.attemptId), this.deps.log, 'preview call not hung up', { attempt: offer.attemptId });
    // Redis down: the reconciliation queues attempts left 'queued' (30 s later).
    await this.deps.enqueue(offer.attemptId).catch((err: Error) => this.deps.log.warn({ attempt: offer.attemptId, err: err.message }, 'preview: accepted attempt not queued yet (Redis?)'));
    return true;
  }

  /** Skipped or expired: the attempt ends, the agent goes (ended() lets them go), the next offer comes. */
  private async end(c: CampaignRow, attemptId: string, outcome: 'skipped' | 'expired'): Promise<boolean> {
    const offer = await this.offerOf(attemptId);
    if (!offer) return false;
    if (!(await this.deps.endAttempt(c, attemptId, { outcome, at: this.deps.now(), onlyFrom: 'offered' }))) return false;
    this.clearTimer(attemptId);
    this.deps.log.info({ campaign: c.name, attempt: attemptId, agent: offer.agent, outcome }, 'preview: offer over');
    this.deps.events?.publish(previewEvent(offer, outcome));
    if (this.deps.handset) logRejection(this.deps.handset.hangup(attemptId), this.deps.log, 'preview call not hung up', { attempt: attemptId });
    this.deps.kick();
    return true;
  }

  private clearTimer(attemptId: string): void {
    const t = this.timers.get(attemptId);
    if (t) clearTimeout(t);
    this.timers.delete(attemptId);
  }

  /** Any attempt of a preview campaign ended: its agent, if still reserved for it, is let go. */
  async ended(attemptId: string): Promise<void> {
    const a = await findAttempt(this.deps.db, attemptId);
    if (!a?.agent_id || a.state !== 'ended' || a.connected_at !== null) return; // connected: the queue call settles the agent
    await this.deps.agents.release(a.agent_id, attemptId, a.outcome === 'expired');
  }

  /** Offers a dead daemon left (no timer anywhere): expired. */
  async reconcile(now: Date): Promise<void> {
    for (const a of await attemptsStuck(this.deps.db, 'offered', new Date(now.getTime() - ORPHAN_GRACE_MS))) {
      if (this.timers.has(a.id)) continue;
      const c = await this.deps.db.selectFrom('campaigns').selectAll().where('id', '=', a.campaign_id).executeTakeFirst();
      if (!c || now.getTime() - a.created_at.getTime() < c.preview_seconds * 1000 + ORPHAN_GRACE_MS) continue;
      await this.end(c, a.id, 'expired');
    }
  }
}

type OfferRow = {
  id: string; campaign_id: string; campaign: string; preview_seconds: number; agent_id: string | null; agent: string; extension: string | null; auto_answer: boolean;
  contact_id: string; number: string; name: string | null; data: Record<string, string>; created_at: Date;
};

function toOffer(r: OfferRow): PreviewOffer {
  return {
    attemptId: r.id,
    campaignId: r.campaign_id,
    campaign: r.campaign,
    agentId: r.agent_id ?? '',
    agent: r.agent,
    extension: r.extension,
    autoAnswer: r.auto_answer,
    contactId: r.contact_id,
    number: r.number,
    name: r.name,
    data: r.data,
    offeredAt: r.created_at,
    expiresAt: new Date(r.created_at.getTime() + r.preview_seconds * 1000),
  };
}
