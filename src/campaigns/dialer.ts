/**
 * The dialer (docs/campaigns.md, "How a contact is dialed"): every tick (1 s) each running
 * campaign is paced (pacing.ts over a snapshot of the queue's agents and the lines in flight),
 * the lines it may dial are claimed from Postgres (attempt-repository.ts claimContacts: row locks,
 * SKIP LOCKED) and queued as BullMQ jobs (attempt-jobs.ts), whose worker runs `dial`:
 *
 *   dial(attempt)   still queued? campaign still running? (stopped or paused: cancelled, at once)
 *                   number on a DNC list now? (blocked-dnc) inside the contact's window now?
 *                   (blocked-window) -> 'dialing' (one runner wins) -> AMI Originate (ports.ts);
 *                   Asterisk not reachable -> failed (the retry rule decides)
 *
 * Redis down: the job cannot be added, the claim is undone, and the campaign waits for the next
 * tick (dialing pauses; nothing is lost, nothing is dialed twice). A reconciliation every 15 s
 * re-queues attempts left 'queued' by a crash between claim and queueing (same job id), and ends
 * attempts whose call is gone from Asterisk (a restart while they rang or waited).
 */
import type { Db } from '../db/database.js';
import type { Logger } from '../logger.js';
import type { Actor } from '../audit/repository.js';
import {
  attemptsStuck, attemptsToday, claimContacts, finishAttempt, findAttempt, linesInFlight, markDialing, releaseAttempt, windowOf, type FinishFacts,
} from './attempt-repository.js';
import type { AttemptQueue } from './attempt-jobs.js';
import { createPacer, decide, observe, type BusyAgent, type PacerState, type PacingDecision, type PacingObservation, type PacingSettings } from './pacing.js';
import type { AttemptDialer } from './ports.js';
import type { CampaignRow } from './tables.js';
import { inWindow } from './window.js';
import { abandonCounts, ringingSeconds } from './floor.js';
import { PreviewDialer, type PreviewDeps } from './preview.js';

/** The agents of a queue as the pacing sees them. */
export interface AgentFloor {
  agents(queueId: string, now: number): Promise<{ readonly ready: number; readonly busy: readonly BusyAgent[] }>;
}

export interface DialerDeps {
  readonly db: Db;
  readonly queue: AttemptQueue;
  readonly asterisk: AttemptDialer;
  readonly floor: AgentFloor;
  /** The number is on the site's or the campaign's do-not-call list (checked just before each dial). */
  readonly isDoNotCall: (campaignId: string, number: string) => Promise<boolean>;
  /** Whether a channel lives in Asterisk; null: cannot tell now (ARI down). */
  readonly channelExists: (channelId: string) => Promise<boolean | null>;
  readonly log: Logger;
  /** Mark a campaign finished (CampaignService.apply 'finish': audit row, NOTIFY, campaign.state event); absent: the state is written alone. */
  readonly finish?: (campaignId: string) => Promise<void>;
  /** An attempt ended (its transaction committed): the campaign.attempt event and metrics (attempt-events.ts). */
  readonly onAttemptEnded?: (attemptId: string, campaign: CampaignRow) => void;
  /** A pacing decision of this daemon (metrics: pbx_campaign_pacing_level). */
  readonly onPacing?: (campaign: CampaignRow, decision: PacingDecision) => void;
  readonly tickMs?: number;
  readonly now?: () => Date;
  /** Preview mode's agents, the agents' phones and the event stream (preview.ts); absent: preview campaigns offer nothing. */
  readonly preview?: Pick<PreviewDeps, 'agents' | 'handset' | 'events'>;
}

/** Who finishes a campaign in the audit log. */
export const DIALER_ACTOR: Actor = { userId: null, tokenId: null, label: 'system:dialer', requestId: null };

const RECONCILE_EVERY_MS = 15_000;
/** A queued attempt older than this has lost its job (a crash between claim and queueing). */
const QUEUED_LOST_MS = 30_000;
/** Beyond the ring time: an attempt still 'dialing' after this has lost its originate's answer. */
const DIALING_GRACE_MS = 60_000;
/** An answered attempt still waiting for an agent after this: its call may be gone. */
const ANSWERED_LOST_MS = 60_000;

function pacingOf(c: CampaignRow): PacingSettings {
  const abandonCap = Number(c.abandon_cap);
  const graceSeconds = Number(c.connect_seconds);
  if (c.mode === 'progressive' || c.mode === 'preview') return { mode: 'progressive', abandonCap, graceSeconds };
  if (c.mode === 'agentless' || c.pacing.mode === 'fixed') return { mode: 'fixed', level: c.pacing.mode === 'fixed' ? c.pacing.level : 1, abandonCap, graceSeconds, fixedObeysCap: true };
  return { mode: 'predictive', abandonCap: Math.min(abandonCap, c.pacing.targetAbandonRate), graceSeconds };
}

export class CampaignDialer {
  private timer: NodeJS.Timeout | null = null;
  private running: Promise<void> | null = null;
  private lastReconcile = 0;
  /** Campaign id -> its pacer (learned as it runs; a restart learns again) and the settings it was made with. */
  private readonly pacers = new Map<string, { key: string; state: PacerState }>();
  private readonly now: () => Date;
  /** Preview mode's offers (preview.ts); null when not wired. */
  readonly preview: PreviewDialer | null;

  constructor(private readonly deps: DialerDeps) {
    this.now = deps.now ?? (() => new Date());
    this.preview = deps.preview
      ? new PreviewDialer({
          ...deps.preview,
          db: deps.db,
          log: deps.log,
          now: this.now,
          endAttempt: (c, id, facts) => this.endAttempt(c, id, facts),
          enqueue: (id) => deps.queue.enqueue(id),
          kick: () => this.kick(),
        })
      : null;
  }

  start(): void {
    if (this.timer) return;
    this.timer = setInterval(() => this.kick(), this.deps.tickMs ?? 1_000);
    this.timer.unref();
  }

  async stop(): Promise<void> {
    if (this.timer) clearInterval(this.timer);
    this.timer = null;
    this.preview?.stop();
    await this.running;
  }

  /** One tick now (unless one is running): agents became ready, a campaign started. */
  kick(): void {
    if (this.running) return;
    this.running = this.tick()
      .catch((err: Error) => this.deps.log.warn({ err: err.message }, 'campaign dialer tick failed'))
      .finally(() => {
        this.running = null;
      });
  }

  /** Teach a campaign's pacer what happened on one of its calls (call-reports.ts). */
  observe(campaign: CampaignRow, o: PacingObservation): void {
    const p = this.pacerOf(campaign);
    p.state = observe(p.state, o);
  }

  async tick(): Promise<void> {
    const now = this.now();
    const campaigns = await this.deps.db.selectFrom('campaigns').selectAll().where('state', '=', 'running').execute();
    for (const c of campaigns) {
      try {
        await this.step(c, now);
      } catch (err) {
        this.deps.log.warn({ campaign: c.name, err: (err as Error).message }, 'campaign step failed');
      }
    }
    if (now.getTime() - this.lastReconcile >= RECONCILE_EVERY_MS) {
      this.lastReconcile = now.getTime();
      await this.reconcile(now);
    }
  }

  private pacerOf(c: CampaignRow): { key: string; state: PacerState } {
    const settings = pacingOf(c);
    const key = JSON.stringify(settings);
    let p = this.pacers.get(c.id);
    if (!p || p.key !== key) {
      p = { key, state: createPacer(settings) };
      this.pacers.set(c.id, p);
    }
    return p;
  }

  /** Lines to dial now for one campaign, and the lines in flight it counted. */
  private async linesFor(c: CampaignRow, now: Date): Promise<{ lines: number; inFlightSeen: number }> {
    const { db } = this.deps;
    if (c.mode === 'agentless' && c.queue_id === null) {
      const level = c.pacing.mode === 'fixed' ? c.pacing.level : 1;
      const inFlightSeen = await linesInFlight(db, c.id);
      return { lines: Math.max(0, Math.floor(level) - inFlightSeen), inFlightSeen };
    }
    if (c.queue_id === null) return { lines: 0, inFlightSeen: 0 };
    const [floor, ringing, abandons] = await Promise.all([
      this.deps.floor.agents(c.queue_id, now.getTime()),
      ringingSeconds(db, c.id, now),
      abandonCounts(db, c, now),
    ]);
    const d = decide(this.pacerOf(c).state, {
      readyAgents: floor.ready,
      busyAgents: floor.busy,
      ringingLines: ringing.ringing,
      waitingCalls: ringing.waiting,
      abandons,
    });
    this.deps.onPacing?.(c, d);
    if (d.lines > 0) this.deps.log.debug({ campaign: c.name, lines: d.lines, level: d.level, reason: d.reason, ready: floor.ready }, 'campaign pacing');
    return { lines: d.lines, inFlightSeen: ringing.ringing.length + ringing.waiting };
  }

  private async step(c: CampaignRow, now: Date): Promise<void> {
    const { db, log } = this.deps;
    if (c.mode === 'preview') return this.previewStep(c, now);
    await this.callbackStep(c, now);
    const wanted = await this.linesFor(c, now);
    let { lines } = wanted;
    if (lines > 0 && c.daily_limit !== null) lines = Math.min(lines, c.daily_limit - (await attemptsToday(db, c, now)));
    if (lines <= 0) return;
    const claimed = await claimContacts(db, c, { lines, inFlightSeen: wanted.inFlightSeen }, now);
    for (const a of claimed) {
      try {
        await this.deps.queue.enqueue(a.id);
      } catch (err) {
        // Redis unreachable: give every claim of this round back; the next tick tries again.
        log.warn({ campaign: c.name, err: (err as Error).message }, 'campaign attempts cannot be queued (Redis?): dialing waits');
        for (const b of claimed.slice(claimed.indexOf(a))) await releaseAttempt(db, b.id);
        return;
      }
    }
    if (claimed.length === 0) await this.finishIfDone(c);
  }

  /**
   * "Call back at" for one agent (docs/campaigns.md#call-back-at): each due callback whose agent is
   * ready now is claimed for that agent (the attempt carries agent_id) and the agent reserved for
   * it in the ACD, as a preview offer's agent is (preview.ts PreviewAgents): no other call is
   * offered to them while it rings, and the answered contact is offered to them first. Not ready:
   * it waits (claimContacts leaves it to them) until CALLBACK_AGENT_GRACE_MS after its time.
   */
  private async callbackStep(c: CampaignRow, now: Date): Promise<void> {
    const agents = this.deps.preview?.agents;
    if (!agents || c.queue_id === null) return;
    const { db, log } = this.deps;
    const due = await db.selectFrom('campaign_contacts').select('callback_agent_id').distinct()
      .where('campaign_id', '=', c.id).where('state', '=', 'callback').where('callback_agent_id', 'is not', null).where('next_attempt_at', '<=', now)
      .execute();
    if (due.length === 0) return;
    const waiting = new Set(due.map((d) => d.callback_agent_id));
    for (const agent of await agents.ready(c.queue_id)) {
      if (!waiting.has(agent.id)) continue;
      const [a] = await claimContacts(db, c, { lines: 1, inFlightSeen: 0, callbackFor: agent.id }, now);
      if (!a) continue;
      if (!(await agents.reserve(agent.id, a.id, c.queue_id).catch(() => false))) {
        await releaseAttempt(db, a.id); // taken meanwhile (a call, another daemon): next tick
        continue;
      }
      try {
        await this.deps.queue.enqueue(a.id);
        log.info({ campaign: c.name, attempt: a.id, agent: agent.number }, 'callback for its agent: agent reserved, dialing');
      } catch (err) {
        log.warn({ campaign: c.name, err: (err as Error).message }, 'campaign callback cannot be queued (Redis?): dialing waits');
        await releaseAttempt(db, a.id);
        await agents.release(agent.id, a.id, false).catch(() => undefined);
        return;
      }
    }
  }

  /** Preview mode: an offer to each ready agent (preview.ts), within the daily limit. */
  private async previewStep(c: CampaignRow, now: Date): Promise<void> {
    if (!this.preview) return;
    const limit = c.daily_limit === null ? Number.MAX_SAFE_INTEGER : c.daily_limit - (await attemptsToday(this.deps.db, c, now));
    if (limit <= 0) return;
    const { offered, agents } = await this.preview.step(c, now, limit);
    if (agents > 0 && offered === 0) await this.finishIfDone(c);
  }

  /** No contact is left to try and no call is in progress: the campaign is finished. */
  private async finishIfDone(c: CampaignRow): Promise<void> {
    const { db } = this.deps;
    const left = await db
      .selectFrom('campaign_contacts')
      .select('id')
      .where('campaign_id', '=', c.id)
      .where('state', 'in', ['ready', 'callback', 'dialing'])
      .limit(1)
      .executeTakeFirst();
    if (left) return;
    if (this.deps.finish) {
      // refused (409) when another daemon or a supervisor changed the state first: nothing to do
      await this.deps.finish(c.id).catch((err: Error) => this.deps.log.debug({ campaign: c.name, err: err.message }, 'campaign not finished'));
      return;
    }
    const done = await db.updateTable('campaigns').set({ state: 'finished', updated_at: new Date() }).where('id', '=', c.id).where('state', '=', 'running').executeTakeFirst();
    if (Number(done.numUpdatedRows) > 0) this.deps.log.info({ campaign: c.name }, 'campaign finished: every contact tried');
  }

  /** The attempt job: place one queued attempt's call (idempotent). */
  async dial(attemptId: string): Promise<void> {
    const { db } = this.deps;
    const a = await findAttempt(db, attemptId);
    if (!a || a.state !== 'queued') return;
    const c = await db.selectFrom('campaigns').selectAll().where('id', '=', a.campaign_id).executeTakeFirst();
    if (!c) return;
    const now = this.now();
    if (c.state !== 'running') {
      await this.endAttempt(c, attemptId, { outcome: 'cancelled', at: now });
      return;
    }
    if (await this.deps.isDoNotCall(c.id, a.number)) {
      await this.endAttempt(c, attemptId, { outcome: 'blocked-dnc', at: now });
      return;
    }
    const contact = await db.selectFrom('campaign_contacts').select(['time_zones']).where('id', '=', a.contact_id).executeTakeFirst();
    if (!contact || !inWindow(contact.time_zones, windowOf(c), now)) {
      await this.endAttempt(c, attemptId, { outcome: 'blocked-window', at: now });
      return;
    }
    const trunk = await db.selectFrom('trunks').select('name').where('id', '=', c.trunk_id).executeTakeFirst();
    if (!trunk || !(await markDialing(db, c, attemptId, now))) return;
    try {
      await this.deps.asterisk.originate({
        attemptId,
        campaignId: c.id,
        number: a.number,
        trunk: trunk.name,
        callerId: c.caller_id,
        callerName: c.caller_name,
        ringSeconds: c.ring_seconds,
        amd: c.amd,
        machineMessage: c.machine_action === 'message' && c.machine_prompt !== null,
      });
    } catch (err) {
      this.deps.log.warn({ campaign: c.name, attempt: attemptId, err: (err as Error).message }, 'campaign call not placed');
      await this.endAttempt(c, attemptId, { outcome: 'failed', at: this.now() });
      this.observe(c, { kind: 'no-answer', ringSeconds: 0 });
    }
  }

  /** finishAttempt, then onAttemptEnded when this call ended it (call-reports.ts ends attempts through here too). */
  async endAttempt(c: CampaignRow, attemptId: string, facts: FinishFacts): Promise<boolean> {
    const ended = await finishAttempt(this.deps.db, c, attemptId, facts);
    if (ended) this.deps.onAttemptEnded?.(attemptId, c);
    // The agent reserved for the contact (a preview offer's, a callback's) is let go, unless the call reached them.
    if (ended && this.preview) await this.preview.ended(attemptId).catch((err: Error) => this.deps.log.warn({ attempt: attemptId, err: err.message }, 'reserved agent not let go'));
    return ended;
  }

  /** Attempts a crash or a restart left behind (see the header). */
  async reconcile(now: Date): Promise<void> {
    const { db, log } = this.deps;
    await this.preview?.reconcile(now).catch((err: Error) => log.warn({ err: err.message }, 'preview offers not reconciled'));
    for (const a of await attemptsStuck(db, 'queued', new Date(now.getTime() - QUEUED_LOST_MS))) {
      try {
        await this.deps.queue.enqueue(a.id);
      } catch (err) {
        log.warn({ attempt: a.id, err: (err as Error).message }, 'campaign attempt not re-queued (Redis?)');
        break;
      }
    }
    const campaigns = new Map<string, CampaignRow>();
    const campaignOf = async (id: string): Promise<CampaignRow | undefined> => {
      if (!campaigns.has(id)) {
        const c = await db.selectFrom('campaigns').selectAll().where('id', '=', id).executeTakeFirst();
        if (c) campaigns.set(id, c);
      }
      return campaigns.get(id);
    };
    const stale = [
      ...(await attemptsStuck(db, 'dialing', new Date(now.getTime() - DIALING_GRACE_MS))),
      ...(await attemptsStuck(db, 'answered', new Date(now.getTime() - ANSWERED_LOST_MS))),
      ...(await attemptsStuck(db, 'connected', new Date(now.getTime() - ANSWERED_LOST_MS))),
    ];
    for (const a of stale) {
      const c = await campaignOf(a.campaign_id);
      if (!c) continue;
      if (a.state === 'dialing' && a.dialed_at && now.getTime() - a.dialed_at.getTime() < c.ring_seconds * 1000 + DIALING_GRACE_MS) continue;
      const exists = await this.deps.channelExists(a.id);
      if (exists !== false) continue;
      log.info({ campaign: c.name, attempt: a.id, state: a.state }, 'campaign attempt whose call is gone from Asterisk: ended');
      await this.endAttempt(c, a.id, { outcome: a.state === 'dialing' ? 'failed' : 'human', at: now });
    }
  }
}
