/**
 * A campaign's answered contact, the call side (docs/campaigns.md#the-call-side). The contact's
 * channel reaches the app from [pbx-campaign] (after AMD when the campaign asks for it); this
 * runner tells the dialer (CampaignCallReports.answered) and carries out its plan:
 *   - connect: the contact waits in the campaign's queue through the ACD as an inbound caller
 *     would (QueueRunner: agents' phones rung, screen pop with the contact's name and data,
 *     wrap-up, queue events), first in line and in silence (no music); if no agent is bridged by the connect deadline
 *     (campaign-originate.ts connectWaitMs: within 2 s of the answer, less the time to start the
 *     message) any ringing offer is withdrawn, the contact hears the abandon message and is hung
 *     up: reports.abandoned. An agent bridged in time: reports.connected;
 *   - machine: the campaign's message, or nothing, then hang up;
 *   - flow: the campaign's IVR flow (the session runs it as any flow: "press 1" into a queue...);
 *   - hangup: hang up.
 * The session reports the end (reports.ended) whatever runner has the call by then (dispatcher).
 */
import type { AnsweredPlan, CampaignCallReports, ContactView } from '../campaigns/ports.js';
import { logRejection } from '../shared/log-rejection.js';
import type { SessionEvent } from './events.js';
import type { CallRunner } from './runner.js';
import { QueueRunner, type QueueHost } from './queue-call.js';
import { connectWaitMs, type CampaignStart } from './campaign-originate.js';
import type { CallFacts } from './cdr.js';
import type { OfferedAgent } from '../acd/engine.js';
import type { HandsetDisposition } from './disposition-call.js';
import type { PreviewPort } from './preview-call.js';

/** What the call side needs of the rest of the daemon for campaign calls (app.ts). */
export interface CampaignCallPort {
  /** The dialer's side of the seam (src/campaigns); null until the dialer is wired: contacts are hung up. */
  reports(): CampaignCallReports | null;
  /** A flow's name by its id (campaigns name their flow by id), or null. */
  flowName(flowId: string): Promise<string | null>;
  /** Media URI of the uploaded prompt called `name`, or null when there is none. */
  promptMedia(name: string): Promise<string | null>;
  /** The disposition feature code (disposition-call.ts); absent: not wired yet (the phone hears an error tone). */
  readonly disposeAtPhone?: (extension: string, code: string) => Promise<HandsetDisposition>;
  /** Preview offers on the handset (preview-call.ts); absent: an offer call hears an error tone. */
  readonly preview?: PreviewPort;
}

export interface CampaignHost extends QueueHost {
  readonly campaign: CampaignCallPort | null;
  /** An agent's phone rings with `facts` as the caller (the screen pop: agent.offered). */
  offerShown(facts: CallFacts, agent: OfferedAgent, variables: Readonly<Record<string, string>>): void;
}

/** What an abandoned contact hears when the campaign has no abandon prompt. */
export const DEFAULT_ABANDON_MEDIA: readonly string[] = ['sound:all-circuits-busy-now', 'sound:please-try-call-later'];
/** The live call's mode while a contact waits for an agent: `campaign-wait:<queue>` (a restart rejoins it with its deadline). */
export const CAMPAIGN_WAIT_MODE = 'campaign-wait:';
/** A campaign contact goes before inbound callers waiting in the same queue (the law's 2 s). */
const CAMPAIGN_PRIORITY = 100;

type Phase = 'asking' | 'waiting' | 'connected' | 'message' | 'over';

export class CampaignRunner implements CallRunner {
  readonly mode = 'campaign';
  private phase: Phase = 'asking';
  private queueRunner: QueueRunner | null = null;
  private message: string | null = null;
  private abandonMedia: Promise<readonly string[]> = Promise.resolve(DEFAULT_ABANDON_MEDIA);

  /** `at`: when the contact reached the app (after AMD): the connect deadline counts from here. */
  constructor(
    private readonly host: CampaignHost,
    private readonly call: CampaignStart,
    private at: Date,
  ) {}

  /** The queue call inside, while the contact waits for or talks to an agent (its agent may transfer). */
  get queue(): QueueRunner | null {
    return this.queueRunner;
  }

  async start(): Promise<void> {
    const { host, call } = this;
    const { log } = host;
    const reports = host.campaign?.reports() ?? null;
    if (!reports) {
      log.warn({ attempt: call.attemptId }, 'campaign contact answered but no dialer is wired; hanging up');
      return this.hangup();
    }
    const created = host.facts().startedAt.getTime();
    const ringMs = call.answeredAtMs !== null ? Math.max(0, call.answeredAtMs - created) : null;
    let plan: AnsweredPlan;
    try {
      plan = await reports.answered(call.attemptId, host.channelId, call.amd, ringMs);
    } catch (err) {
      log.error({ attempt: call.attemptId, err: (err as Error).message }, 'campaign contact answered: the dialer did not say what to do; hanging up');
      plan = { kind: 'hangup' };
    }
    log.info({ attempt: call.attemptId, amd: call.amd, ringMs, plan: plan.kind }, 'campaign contact answered');
    switch (plan.kind) {
      case 'hangup':
        return this.hangup();
      case 'machine':
        return this.playThenHangup(plan.prompt ? await this.media(plan.prompt) : null);
      case 'flow': {
        const flow = await host.campaign!.flowName(plan.flowId).catch(() => null);
        if (!flow) {
          log.warn({ flowId: plan.flowId }, 'campaign flow not found; hanging up');
          return this.hangup();
        }
        this.phase = 'over';
        return host.leaveTo({ kind: 'flow', flow });
      }
      case 'connect':
        return this.connect(plan, reports);
    }
  }

  /**
   * A restarted daemon found the contact waiting for an agent (live mode `campaign-wait:<queue>`,
   * switchboard.ts resume): the 2 s count from the answer, not from now. Time left: back into the
   * queue at their place for what is left of it; none (the usual case, a restart takes longer):
   * the abandon message at once, counted as abandoned. An attempt no longer waiting: hung up.
   */
  async rejoin(): Promise<void> {
    const { host, call } = this;
    const reports = host.campaign?.reports() ?? null;
    const found = reports?.rejoined ? await reports.rejoined(call.attemptId).catch((err: Error) => {
      host.log.error({ attempt: call.attemptId, err: err.message }, 'campaign contact picked up again: the dialer did not say what to do; hanging up');
      return null;
    }) : null;
    if (!reports || !found || found.plan.kind !== 'connect') return this.hangup();
    const now = host.now();
    this.at = found.since ?? host.facts().answeredAt ?? now;
    const leftMs = connectWaitMs(this.at.getTime(), now.getTime(), found.plan.connectMs);
    host.log.info({ attempt: call.attemptId, waitedMs: now.getTime() - this.at.getTime(), leftMs }, 'campaign contact waiting for an agent picked up again after a restart');
    if (leftMs > 0) return this.connect(found.plan, reports, true);
    this.reports = reports;
    this.abandonMedia = this.abandonMediaOf(found.plan);
    this.phase = 'waiting';
    return this.deadline();
  }

  private abandonMediaOf(plan: Extract<AnsweredPlan, { kind: 'connect' }>): Promise<readonly string[]> {
    return plan.abandonPrompt ? this.media(plan.abandonPrompt).then((m) => m ?? DEFAULT_ABANDON_MEDIA) : Promise.resolve(DEFAULT_ABANDON_MEDIA);
  }

  private async connect(plan: Extract<AnsweredPlan, { kind: 'connect' }>, reports: CampaignCallReports, rejoin = false): Promise<void> {
    const { host } = this;
    this.reports = reports;
    // Looked up now, played at the deadline without waiting for the database.
    this.abandonMedia = this.abandonMediaOf(plan);
    this.phase = 'waiting';
    this.queueName = plan.queue;
    // In silence: the contact expects a person, and the abandon message must be the first thing heard.
    this.queueRunner = new QueueRunner(this.queueHost(plan.contact), plan.queue, { priority: CAMPAIGN_PRIORITY, requiredSkills: null, reservedFor: plan.reservedFor ?? null }, rejoin, false);
    // A restarted daemon finds the contact waiting as a campaign contact (the deadline still
    // applies: rejoin above), and once talking as a queue call (it goes on).
    host.updateLive({ mode: `${CAMPAIGN_WAIT_MODE}${plan.queue}` });
    await this.queueRunner.start();
    if (this.phase !== 'waiting') return;
    // The session's one timer: this replaces the queue's callback offer (never made to a contact).
    // (Preview: the agent who accepted the contact, rung at once; connectMs is their ring time.)
    host.setTimer(plan.ringsAgent ? plan.connectMs : connectWaitMs(this.at.getTime(), host.now().getTime(), plan.connectMs), { type: 'campaign-deadline' });
  }

  private reports: CampaignCallReports | null = null;
  /** The queue the contact waits in (connect). */
  private queueName = '';

  /**
   * The queue runner's host: the session's, with the contact shown as the caller (to the ACD, the
   * agent's phone and the screen pop: name, number and the contact's data as variables), and a
   * contact that cannot wait (no agent can take the queue, or it is refused) abandoned at once.
   */
  private queueHost(contact: ContactView): QueueHost {
    const host = this.host;
    const contactFacts = (): CallFacts => ({ ...host.facts(), callerNumber: contact.number, callerName: contact.name });
    const variables = { ...contact.data, campaign: contact.campaign };
    const abandonNow = async (): Promise<void> => {
      if (this.phase === 'waiting') host.deliver({ type: 'campaign-deadline' });
    };
    const own: Partial<QueueHost> = {
      facts: contactFacts,
      ivrVariables: () => variables,
      agentRinging: (agent) => host.offerShown(contactFacts(), agent, variables),
      leaveTo: () => abandonNow(),
      hangupCaller: (reason, by) => (this.phase === 'waiting' ? abandonNow() : host.hangupCaller(reason, by)),
    };
    // The session's host has accessors (channelId, bridgeId...): inherit them rather than copy.
    return Object.assign(Object.create(host) as QueueHost, own);
  }

  async onEvent(event: SessionEvent): Promise<void> {
    if (event.type === 'campaign-deadline') return this.deadline();
    if (event.type === 'playback-finished' && event.playbackId === this.message) return this.hangup();
    const queue = this.queueRunner;
    if (!queue || (this.phase !== 'waiting' && this.phase !== 'connected')) return;
    await queue.onEvent(event);
    if (this.phase === 'waiting' && queue.agent) {
      this.phase = 'connected';
      this.host.clearTimer();
      this.host.updateLive({ mode: `queue:${this.queueName}` });
      const agent = queue.agent;
      this.host.log.info({ attempt: this.call.attemptId, agent, waitedMs: this.host.now().getTime() - this.at.getTime() }, 'campaign contact connected to an agent');
      logRejection(this.reports?.connected(this.call.attemptId, agent, this.host.now()), this.host.log, 'campaign connect not reported', { attempt: this.call.attemptId });
    }
  }

  /** No agent in time: withdraw the offers, the message at once, then hang up. */
  private async deadline(): Promise<void> {
    if (this.phase !== 'waiting') return;
    // (No queue call: a restart found the contact past the deadline, see rejoin.)
    if (this.queueRunner && !(await this.queueRunner.giveUp())) return; // an agent was bridged just now
    const media = await this.abandonMedia;
    const at = this.host.now();
    this.host.log.info({ attempt: this.call.attemptId, waitedMs: at.getTime() - this.at.getTime() }, 'campaign contact abandoned: no agent in time');
    await this.playThenHangup(media);
    logRejection(this.reports?.abandoned(this.call.attemptId, at), this.host.log, 'campaign abandon not reported', { attempt: this.call.attemptId });
  }

  private async playThenHangup(media: readonly string[] | null): Promise<void> {
    if (!media) return this.hangup();
    this.phase = 'message';
    this.message = `${this.host.facts().callId}-campaign-message`;
    await this.host.control.play(this.host.channelId, media, this.message).catch((err: Error) => {
      this.host.log.warn({ err: err.message }, 'campaign message not played');
      return this.hangup();
    });
  }

  private async media(prompt: string): Promise<readonly string[] | null> {
    const uri = await this.host.campaign!.promptMedia(prompt).catch(() => null);
    if (!uri) this.host.log.warn({ prompt }, 'campaign prompt not found');
    return uri ? [uri] : null;
  }

  private hangup(): Promise<void> {
    this.phase = 'over';
    return this.host.hangupCaller('normal');
  }

  channelGone(): void {
    this.queueRunner?.channelGone();
    this.phase = 'over';
  }

  /** The contact was handed on (a flow, an agent's transfer): the queue call inside has let go. */
  stop(): void {
    this.queueRunner?.stop();
  }
}
