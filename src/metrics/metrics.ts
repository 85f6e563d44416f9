/**
 * The daemon's Prometheus metrics (docs/metrics.md), on a Registry src/app.ts creates and passes in
 * (no global registry). Three kinds of figure:
 * - counted as it happens, from the event bus (`deliver`: call and queue events) and the HTTP hook
 *   (`observeRequest`), and from the telephony connections (`asteriskConnected`);
 * - read at scrape time through the MetricSources port (gauges' collect());
 * - the process itself (prom-client's default collectors: CPU, memory, event-loop lag, handles).
 * Labels stay bounded: queue names, states, directions, dispositions, route patterns; never a
 * caller number or a call id.
 */
import { Counter, Gauge, Histogram, collectDefaultMetrics, type Registry } from 'prom-client';
import type { PbxEvent } from '../events/model.js';
import type { MetricSources } from './port.js';

export type AsteriskInterface = 'ari' | 'ami';

/** Seconds; an ARI request on the same host answers in about a millisecond. */
const ARI_BUCKETS = [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 10];

/** Seconds; an API answer is usually well under 50 ms, a CSV export may take minutes. */
const HTTP_BUCKETS = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30];

/** Seconds; a webhook receiver answers in tens of milliseconds, an attempt times out at PBX_WEBHOOK_TIMEOUT_MS. */
const WEBHOOK_BUCKETS = [0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30];

/** What became of one webhook delivery attempt (src/webhooks/service.ts). */
export type WebhookOutcome = 'delivered' | 'gone' | 'retrying' | 'failed';
const WEBHOOK_OUTCOMES: readonly WebhookOutcome[] = ['delivered', 'gone', 'retrying', 'failed'];

/**
 * `read` once for the collects that run together in one scrape: registry.metrics() calls every
 * collect in the same tick, before any read can settle; once it has settled the next call reads again.
 */
export function oncePerScrape<T>(read: () => Promise<T>): () => Promise<T> {
  let inFlight: Promise<T> | null = null;
  return () =>
    (inFlight ??= read().finally(() => {
      inFlight = null;
    }));
}

/** How long a scrape-time read may take before its series are left out of this scrape. */
export const SCRAPE_READ_MS = 2_000;

/** `read`'s answer, or `fallback` when it fails or takes longer than `ms` (Redis or Postgres down). */
export async function within<T>(ms: number, read: () => Promise<T>, fallback: T): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  try {
    return await Promise.race([read(), new Promise<T>((resolve) => (timer = setTimeout(() => resolve(fallback), ms)))]);
  } catch {
    return fallback;
  } finally {
    clearTimeout(timer);
  }
}

export class PbxMetrics {
  private readonly callsStarted: Counter<'direction'>;
  private readonly callsAnswered: Counter;
  private readonly callsEnded: Counter<'disposition'>;
  private readonly queueJoined: Counter<'queue'>;
  private readonly queueLeft: Counter<'queue' | 'reason'>;
  private readonly connections: Counter<'interface'>;
  private readonly httpDuration: Histogram<'method' | 'route' | 'status_code'>;
  private readonly ariDuration: Histogram<'method' | 'resource' | 'outcome'>;
  private readonly webhookAttempts: Counter<'outcome'>;
  private readonly webhookDuration: Histogram<'outcome'>;
  private readonly campaignAttempts: Counter<'campaign' | 'outcome'>;
  /** This daemon's last pacing decision per campaign name (observeCampaignPacing). */
  private readonly pacing = new Map<string, { readonly level: number; readonly reason: string }>();

  constructor(
    readonly registry: Registry,
    sources: MetricSources,
    version: string,
  ) {
    const registers = [registry];
    collectDefaultMetrics({ register: registry });

    new Gauge({ name: 'pbx_info', help: 'Always 1; the daemon version as a label', labelNames: ['version'], registers }).set({ version }, 1);

    // ---- calls
    new Gauge({ name: 'pbx_calls_in_progress', help: 'Calls this daemon is handling now (Stasis sessions)', registers, collect() {
      this.set(sources.liveCalls());
    } });
    new Gauge({ name: 'pbx_calls_in_setup', help: 'New calls this daemon is setting up now (arrived, not yet routed and started); PBX_MAX_CALLS_IN_SETUP caps it', registers, collect() {
      this.set(sources.overload().callsInSetup);
    } });
    new Counter({ name: 'pbx_calls_refused_total', help: 'New calls refused by overload control (SIP 503), by reason: max-calls (PBX_MAX_CALLS), setup-backlog (PBX_MAX_CALLS_IN_SETUP), event-loop-lag (PBX_OVERLOAD_LAG_MS) by the daemon; shed by the dialplan before Stasis while the daemon refuses', labelNames: ['reason'], registers, collect() {
      this.reset();
      for (const [reason, n] of sources.overload().refused) this.inc({ reason }, n);
    } });
    this.callsStarted = new Counter({ name: 'pbx_calls_started_total', help: 'Calls (and call parts after a transfer) that reached the daemon, by direction', labelNames: ['direction'], registers });
    this.callsAnswered = new Counter({ name: 'pbx_calls_answered_total', help: 'Calls a person answered', registers });
    this.callsEnded = new Counter({ name: 'pbx_calls_ended_total', help: 'Calls ended with their CDR written, by disposition', labelNames: ['disposition'], registers });
    new Counter({ name: 'pbx_cdr_write_failures_total', help: 'CDR write attempts that failed (each is retried until it lands)', registers, collect() {
      this.reset();
      this.inc(sources.cdrWriteFailures());
    } });
    new Gauge({ name: 'pbx_cdr_pending_writes', help: 'CDRs waiting to be written (Postgres slow or down; retried)', registers, collect() {
      this.set(sources.cdrPending());
    } });
    new Gauge({ name: 'pbx_acd_writes_waiting', help: 'ACD writes (queue events, agent state changes, callbacks) waiting in memory for Postgres (unreachable)', registers, collect() {
      this.set(sources.acdWrites().waiting);
    } });
    new Counter({ name: 'pbx_acd_writes_dropped_total', help: 'ACD writes never written: too many waited for Postgres (the oldest dropped)', registers, collect() {
      this.reset();
      this.inc(sources.acdWrites().dropped);
    } });

    // ---- queues and agents (Postgres, at scrape time)
    // One query fills both gauges: the collects of one scrape run together and share it.
    const queues = oncePerScrape(() => within(SCRAPE_READ_MS, () => sources.queues(), null));
    const fillQueues = async (): Promise<void> => {
      const figures = await queues();
      waiting.reset();
      longest.reset();
      // null: Postgres unreachable, no series this scrape (pbx_postgres_up says why).
      for (const f of figures ?? []) {
        waiting.set({ queue: f.queue }, f.waiting);
        longest.set({ queue: f.queue }, f.longestWaitSeconds);
      }
    };
    const waiting = new Gauge({ name: 'pbx_queue_waiting_calls', help: 'Callers in line per queue (waiting or being offered)', labelNames: ['queue'], registers, collect: fillQueues });
    const longest = new Gauge({ name: 'pbx_queue_longest_wait_seconds', help: 'How long the longest-waiting caller of each queue has waited; 0 when none waits', labelNames: ['queue'], registers, collect: fillQueues });
    this.queueJoined = new Counter({ name: 'pbx_queue_joined_total', help: 'Callers who joined each queue', labelNames: ['queue'], registers });
    this.queueLeft = new Counter({ name: 'pbx_queue_left_total', help: 'Callers who left each queue, by reason (answered, abandoned, overflow, timeout)', labelNames: ['queue', 'reason'], registers });
    const agents = oncePerScrape(() => within(SCRAPE_READ_MS, () => sources.agents(), []));
    new Gauge({ name: 'pbx_agents', help: 'Agents by state (each agent once)', labelNames: ['state'], registers, async collect() {
      this.reset();
      const counts = await agents();
      for (const c of counts) if (c.queue === null) this.set({ state: c.state }, c.count);
    } });
    new Gauge({ name: 'pbx_queue_agents', help: 'Member agents of each queue by state (an agent in two queues counts in both)', labelNames: ['queue', 'state'], registers, async collect() {
      this.reset();
      const counts = await agents();
      for (const c of counts) if (c.queue !== null) this.set({ queue: c.queue, state: c.state }, c.count);
    } });

    // ---- connections and dependencies
    new Gauge({ name: 'pbx_asterisk_connected', help: '1 while the connection to Asterisk is up (interface ari: the event socket; ami: the manager login)', labelNames: ['interface'], registers, collect() {
      const up = sources.asterisk();
      this.set({ interface: 'ari' }, up.ari ? 1 : 0);
      this.set({ interface: 'ami' }, up.ami ? 1 : 0);
    } });
    this.connections = new Counter({ name: 'pbx_asterisk_connections_total', help: 'Successful connections to Asterisk (first one and each reconnect)', labelNames: ['interface'], registers });
    for (const i of ['ari', 'ami'] as const) this.connections.inc({ interface: i }, 0);
    this.ariDuration = new Histogram({ name: 'pbx_ari_request_duration_seconds', help: 'ARI REST requests by method, resource (channels, bridges, playbacks...) and outcome (ok: 2xx, error: any other answer or no answer)', labelNames: ['method', 'resource', 'outcome'], buckets: ARI_BUCKETS, registers });
    const readDeps = oncePerScrape(() => sources.dependencies());
    new Gauge({ name: 'pbx_postgres_up', help: '1 when Postgres answered a query at this scrape (the /health/ready check)', registers, async collect() {
      this.set((await readDeps()).postgres ? 1 : 0);
    } });
    new Gauge({ name: 'pbx_redis_up', help: '1 when Redis answered a PING at this scrape (the /health/ready check)', registers, async collect() {
      this.set((await readDeps()).redis ? 1 : 0);
    } });
    new Gauge({ name: 'pbx_jobs', help: 'BullMQ jobs by queue and state (waiting, active, delayed, failed)', labelNames: ['queue', 'state'], registers, async collect() {
      this.reset();
      const counts = await within(SCRAPE_READ_MS, () => sources.jobs(), []);
      for (const c of counts) this.set({ queue: c.queue, state: c.state }, c.count);
    } });

    // ---- outbound campaigns (src/campaigns, docs/campaigns.md): running and paused ones only
    this.campaignAttempts = new Counter({ name: 'pbx_campaign_attempts_total', help: 'Campaign attempts ended, by campaign and outcome (human, abandoned, machine, busy, no-answer, failed, blocked-dnc, blocked-window, cancelled)', labelNames: ['campaign', 'outcome'], registers });
    const campaigns = oncePerScrape(() => within(SCRAPE_READ_MS, () => sources.campaigns(), null));
    const pacing = this.pacing;
    const fillCampaigns = async (): Promise<void> => {
      const figures = await campaigns();
      for (const g of [inFlight, contacts, level, reason]) g.reset();
      if (figures === null) return; // Postgres unreachable: no series this scrape
      for (const f of figures) {
        inFlight.set({ campaign: f.campaign }, f.linesInFlight);
        for (const [state, n] of Object.entries(f.contacts)) contacts.set({ campaign: f.campaign, state }, n);
        const p = pacing.get(f.campaign);
        if (p) {
          level.set({ campaign: f.campaign }, p.level);
          reason.set({ campaign: f.campaign, reason: p.reason }, 1);
        }
      }
      // campaigns no longer running or paused are forgotten
      const live = new Set(figures.map((f) => f.campaign));
      for (const name of pacing.keys()) if (!live.has(name)) pacing.delete(name);
    };
    const inFlight = new Gauge({ name: 'pbx_campaign_lines_in_flight', help: 'Lines a running or paused campaign has in flight: attempts queued, dialing, or answered and waiting for an agent', labelNames: ['campaign'], registers, collect: fillCampaigns });
    const contacts = new Gauge({ name: 'pbx_campaign_contacts', help: 'Contacts of each running or paused campaign by state (ready, dialing, callback, done, exhausted, dnc, unreachable)', labelNames: ['campaign', 'state'], registers, collect: fillCampaigns });
    const level = new Gauge({ name: 'pbx_campaign_pacing_level', help: "This daemon's last pacing decision per running or paused campaign: lines in flight per ready agent after it", labelNames: ['campaign'], registers, collect: fillCampaigns });
    const reason = new Gauge({ name: 'pbx_campaign_pacing_reason', help: "Always 1, for the reason of this daemon's last pacing decision (no-agents, progressive, fixed, learning, cap-near, predictive)", labelNames: ['campaign', 'reason'], registers, collect: fillCampaigns });

    // ---- event stream and HTTP
    new Gauge({ name: 'pbx_event_stream_clients', help: 'Event stream (GET /api/v1/events) clients connected', registers, collect() {
      this.set(sources.streamClients().clients);
    } });
    new Counter({ name: 'pbx_event_stream_closed_total', help: 'Event stream clients closed by the daemon, by reason (slow-consumer, shutdown...)', labelNames: ['reason'], registers, collect() {
      this.reset();
      for (const [reason, n] of Object.entries(sources.streamClients().closed)) this.inc({ reason }, n);
    } });
    // ---- webhooks (each delivery attempt, src/webhooks)
    this.webhookAttempts = new Counter({ name: 'pbx_webhook_deliveries_total', help: 'Webhook delivery attempts by outcome (delivered: 2xx; gone: 410, the webhook disabled; retrying: failed, another try follows; failed: the last try failed, dead-lettered)', labelNames: ['outcome'], registers });
    this.webhookDuration = new Histogram({ name: 'pbx_webhook_delivery_duration_seconds', help: 'Webhook delivery attempts by outcome: from the POST to its answer, timeout or error', labelNames: ['outcome'], buckets: WEBHOOK_BUCKETS, registers });
    for (const outcome of WEBHOOK_OUTCOMES) this.webhookAttempts.inc({ outcome }, 0);
    new Gauge({ name: 'pbx_webhook_events_waiting', help: 'Events waiting in memory for Postgres (unreachable) before their webhook deliveries are written', registers, collect() {
      this.set(sources.webhookOutbox().waiting);
    } });
    new Counter({ name: 'pbx_webhook_events_dropped_total', help: 'Events whose webhook deliveries were never written: too many waited for Postgres (the oldest dropped)', registers, collect() {
      this.reset();
      this.inc(sources.webhookOutbox().dropped);
    } });
    this.httpDuration = new Histogram({ name: 'pbx_http_request_duration_seconds', help: 'HTTP requests by method, route pattern and status code (event streams not included)', labelNames: ['method', 'route', 'status_code'], buckets: HTTP_BUCKETS, registers });
  }

  /** The bus subscriber: counts call and queue events as they are published. */
  deliver(event: PbxEvent): void {
    switch (event.type) {
      case 'call.started':
        this.callsStarted.inc({ direction: event.direction });
        break;
      case 'call.answered':
        this.callsAnswered.inc();
        break;
      case 'call.ended':
        this.callsEnded.inc({ disposition: event.disposition });
        break;
      case 'queue.joined':
        this.queueJoined.inc({ queue: event.queue });
        break;
      case 'queue.left':
        this.queueLeft.inc({ queue: event.queue, reason: event.reason });
        break;
      case 'campaign.attempt':
        this.campaignAttempts.inc({ campaign: event.campaign, outcome: event.outcome });
        break;
      default:
        break;
    }
  }

  asteriskConnected(which: AsteriskInterface): void {
    this.connections.inc({ interface: which });
  }

  /** An ARI REST request answered or failed (src/telephony/ari-rest.ts). */
  observeAriRequest(method: string, resource: string, seconds: number, ok: boolean): void {
    this.ariDuration.observe({ method, resource, outcome: ok ? 'ok' : 'error' }, seconds);
  }

  /** A pacing decision for a campaign (the dialer's onPacing hook). */
  observeCampaignPacing(campaign: string, level: number, reason: string): void {
    this.pacing.set(campaign, { level, reason });
  }

  /** A webhook delivery attempt ended (WebhookService's observe hook). */
  observeWebhookDelivery(outcome: WebhookOutcome, durationMs: number): void {
    this.webhookAttempts.inc({ outcome });
    this.webhookDuration.observe({ outcome }, durationMs / 1000);
  }

  /** `route`: the matched route's pattern (never the raw URL); null for no route (404). */
  observeRequest(method: string, route: string | null, statusCode: number, seconds: number): void {
    this.httpDuration.observe({ method, route: route ?? 'unmatched', status_code: String(statusCode) }, seconds);
  }

  /** The text exposition (and its content type) of everything registered. */
  async scrape(): Promise<{ contentType: string; body: string }> {
    return { contentType: this.registry.contentType, body: await this.registry.metrics() };
  }
}
