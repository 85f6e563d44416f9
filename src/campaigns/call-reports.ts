/**
 * The dialer's side of the seam in ports.ts: what the call side reports about an attempt's call
 * becomes a step of the attempt (attempt-repository.ts, each idempotent) and an observation for
 * the campaign's pacer (dialer.ts), and `answered` says what to do with the call:
 *
 *   AMD says MACHINE          -> machine: hang up, or play the campaign's machine prompt
 *   a person (or AMD unsure)  -> agentless: the campaign's flow; else connect to the queue's agents
 *                                within connect_seconds, else the abandon prompt
 *   AMD says HANGUP           -> a person who hung up during the analysis: a live answer that no
 *                                agent took, so an abandon (the conservative reading)
 *   unknown / over / stopped  -> hang up
 */
import type { Db } from '../db/database.js';
import type { Logger } from '../logger.js';
import { findAttempt, markAbandoned, markAnswered, markConnected } from './attempt-repository.js';
import type { CampaignDialer } from './dialer.js';
import type { AmdResult, AnsweredPlan, CampaignCallReports, NotAnsweredOutcome } from './ports.js';
import type { CampaignAttemptRow, CampaignRow } from './tables.js';

export class CampaignReports implements CampaignCallReports {
  constructor(
    private readonly db: Db,
    private readonly dialer: Pick<CampaignDialer, 'observe' | 'kick' | 'endAttempt'>,
    private readonly log: Logger,
  ) {}

  private async campaignOfAttempt(attemptId: string) {
    const a = await findAttempt(this.db, attemptId);
    if (!a) return null;
    const c = await this.db.selectFrom('campaigns').selectAll().where('id', '=', a.campaign_id).executeTakeFirst();
    return c ? { a, c } : null;
  }

  async notAnswered(attemptId: string, outcome: NotAnsweredOutcome, details: { readonly cause: number | null; readonly ringMs: number | null }): Promise<void> {
    const found = await this.campaignOfAttempt(attemptId);
    if (!found) return;
    const at = new Date();
    if (await this.dialer.endAttempt(found.c, attemptId, { outcome, cause: details.cause, ringMs: details.ringMs, at })) {
      this.dialer.observe(found.c, { kind: 'no-answer', ringSeconds: (details.ringMs ?? 0) / 1000 });
      this.dialer.kick();
    }
  }

  async answered(attemptId: string, channelId: string, amd: AmdResult | null, ringMs: number | null): Promise<AnsweredPlan> {
    const found = await this.campaignOfAttempt(attemptId);
    if (!found) return { kind: 'hangup' };
    const { a, c } = found;
    const at = new Date();
    if (!(await markAnswered(this.db, c, attemptId, channelId, amd, ringMs, at))) return { kind: 'hangup' };
    if (amd?.status === 'MACHINE') {
      this.dialer.observe(c, { kind: 'no-answer', ringSeconds: (ringMs ?? 0) / 1000 });
      return { kind: 'machine', prompt: c.machine_action === 'message' ? c.machine_prompt : null };
    }
    this.dialer.observe(c, { kind: 'answered', ringSeconds: (ringMs ?? 0) / 1000 });
    if (amd?.status === 'HANGUP') return { kind: 'hangup' };
    return this.livePlan(a, c);
  }

  /** A live answer: the flow (agentless) or the queue's agents. */
  private async livePlan(a: CampaignAttemptRow, c: CampaignRow): Promise<AnsweredPlan> {
    const attemptId = a.id;
    const contact = await this.db.selectFrom('campaign_contacts').select(['id', 'number', 'name', 'data']).where('id', '=', a.contact_id).executeTakeFirstOrThrow();
    const view = { contactId: contact.id, campaign: c.name, number: contact.number, name: contact.name, data: contact.data };
    if (c.mode === 'agentless' && c.flow_id !== null) return { kind: 'flow', flowId: c.flow_id, contact: view };
    const queue = c.queue_id === null ? undefined : await this.db.selectFrom('queues').select(['name', 'ring_timeout_seconds']).where('id', '=', c.queue_id).executeTakeFirst();
    if (!queue) {
      this.log.warn({ campaign: c.name, attempt: attemptId }, 'campaign has no queue to connect an answered contact to: hung up');
      return { kind: 'hangup' };
    }
    // Preview: the agent who accepted the contact is reserved for it; their phone rings at once, for up to the queue's ring timeout.
    if (c.mode === 'preview' && a.agent_id !== null) {
      return { kind: 'connect', queue: queue.name, connectMs: queue.ring_timeout_seconds * 1000, abandonPrompt: c.abandon_prompt, contact: view, reservedFor: a.agent_id, ringsAgent: true };
    }
    // A callback for its agent (dialer.ts callbackStep): offered to that agent, reserved for it, within the usual 2 s.
    const connectMs = Math.round(Number(c.connect_seconds) * 1000);
    if (a.agent_id !== null) return { kind: 'connect', queue: queue.name, connectMs, abandonPrompt: c.abandon_prompt, contact: view, reservedFor: a.agent_id };
    return { kind: 'connect', queue: queue.name, connectMs, abandonPrompt: c.abandon_prompt, contact: view };
  }

  async rejoined(attemptId: string): Promise<{ plan: AnsweredPlan; since: Date | null }> {
    const found = await this.campaignOfAttempt(attemptId);
    if (!found || found.a.state !== 'answered' || found.a.outcome !== null || found.c.mode === 'agentless') return { plan: { kind: 'hangup' }, since: null };
    return { plan: await this.livePlan(found.a, found.c), since: found.a.answered_at };
  }

  async connected(attemptId: string, agentId: string, at: Date): Promise<void> {
    const found = await this.campaignOfAttempt(attemptId);
    if (found && (await markConnected(this.db, found.c, attemptId, agentId, at))) this.dialer.observe(found.c, { kind: 'connected' });
  }

  async abandoned(attemptId: string, at: Date): Promise<void> {
    const found = await this.campaignOfAttempt(attemptId);
    if (found && (await markAbandoned(this.db, found.c, attemptId, at))) {
      this.log.info({ campaign: found.c.name, attempt: attemptId }, 'campaign call abandoned: no agent in time');
      this.dialer.observe(found.c, { kind: 'abandoned' });
    }
  }

  async ended(attemptId: string, at: Date): Promise<void> {
    const found = await this.campaignOfAttempt(attemptId);
    if (!found) return;
    const { a, c } = found;
    if (!(await this.dialer.endAttempt(c, attemptId, { outcome: 'failed', at }))) return;
    if (a.state === 'connected' && a.connected_at) {
      this.dialer.observe(c, { kind: 'talk-ended', talkSeconds: (at.getTime() - a.connected_at.getTime()) / 1000 });
      await this.observeWrapUp(c);
    } else if (a.state === 'answered' && a.outcome === null) {
      // hung up while waiting for an agent: finishAttempt counted it as abandoned
      this.dialer.observe(c, { kind: 'abandoned' });
    }
    this.dialer.kick();
  }

  /** The queue's wrap-up time is what the agent will spend after this call (fixed in this ACD). */
  private async observeWrapUp(c: CampaignRow): Promise<void> {
    if (c.queue_id === null) return;
    const q = await this.db.selectFrom('queues').select('wrap_up_seconds').where('id', '=', c.queue_id).executeTakeFirst();
    if (q) this.dialer.observe(c, { kind: 'wrap-up-ended', wrapUpSeconds: q.wrap_up_seconds });
  }
}
