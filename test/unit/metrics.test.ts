/**
 * src/metrics without Postgres or Redis: the bus counters, the scrape-time gauges from a fake
 * port (one read per scrape for the gauges that share it, a failing or hanging source leaves its
 * series out instead of failing or hanging the scrape), and PBX_METRICS_ACCESS=loopback.
 */
import { readFileSync } from 'node:fs';
import { Registry } from 'prom-client';
import { describe, expect, it } from 'vitest';
import type { AuthService } from '../../src/auth/service.js';
import { buildHttp } from '../../src/http/server.js';
import { createLogger } from '../../src/logger.js';
import { PbxMetrics, within } from '../../src/metrics/metrics.js';
import { metricsPlugin } from '../../src/metrics/plugin.js';
import type { MetricSources } from '../../src/metrics/port.js';
import { isLoopback } from '../../src/metrics/routes.js';

function fakeSources(over: Partial<MetricSources> = {}): MetricSources & { queueReads: number } {
  const s = {
    queueReads: 0,
    liveCalls: () => 3,
    overload: () => ({ callsInSetup: 2, refused: new Map([['max-calls', 5], ['setup-backlog', 0], ['event-loop-lag', 1]]) }),
    asterisk: () => ({ ari: true, ami: false }),
    dependencies: async () => ({ postgres: true, redis: false }),
    queues: async () => {
      s.queueReads++;
      return [{ queue: 'sales', waiting: 2, longestWaitSeconds: 41.5 }, { queue: 'support', waiting: 0, longestWaitSeconds: 0 }];
    },
    agents: async () => [{ queue: null, state: 'ready', count: 4 }, { queue: 'sales', state: 'ready', count: 2 }],
    jobs: async () => [{ queue: 'recordings', state: 'waiting', count: 7 }],
    streamClients: () => ({ clients: 5, closed: { 'slow-consumer': 1 } }),
    cdrPending: () => 0,
    cdrWriteFailures: () => 2,
    webhookOutbox: () => ({ waiting: 4, dropped: 1 }),
    acdWrites: () => ({ waiting: 3, dropped: 2 }),
    campaigns: async () => [{ campaign: 'renewals', linesInFlight: 6, contacts: { ready: 120, done: 30 } }],
    ...over,
  };
  return s;
}

const line = (text: string, sample: string): string | undefined => text.split('\n').find((l) => l.startsWith(`${sample} `));

describe('PbxMetrics', () => {
  it('scrape-time gauges come from the port; the two queue gauges share one read', async () => {
    const sources = fakeSources();
    const m = new PbxMetrics(new Registry(), sources, '1.2.3');
    const { body, contentType } = await m.scrape();
    expect(contentType).toMatch(/^text\/plain; version=0\.0\.4/);
    expect(line(body, 'pbx_calls_in_progress')).toBe('pbx_calls_in_progress 3');
    expect(line(body, 'pbx_calls_in_setup')).toBe('pbx_calls_in_setup 2');
    expect(line(body, 'pbx_calls_refused_total{reason="max-calls"}')).toBe('pbx_calls_refused_total{reason="max-calls"} 5');
    expect(line(body, 'pbx_calls_refused_total{reason="setup-backlog"}')).toBe('pbx_calls_refused_total{reason="setup-backlog"} 0');
    expect(line(body, 'pbx_calls_refused_total{reason="event-loop-lag"}')).toBe('pbx_calls_refused_total{reason="event-loop-lag"} 1');
    expect(line(body, 'pbx_queue_waiting_calls{queue="sales"}')).toBe('pbx_queue_waiting_calls{queue="sales"} 2');
    expect(line(body, 'pbx_queue_longest_wait_seconds{queue="sales"}')).toBe('pbx_queue_longest_wait_seconds{queue="sales"} 41.5');
    expect(line(body, 'pbx_agents{state="ready"}')).toBe('pbx_agents{state="ready"} 4');
    expect(line(body, 'pbx_queue_agents{queue="sales",state="ready"}')).toBe('pbx_queue_agents{queue="sales",state="ready"} 2');
    expect(line(body, 'pbx_asterisk_connected{interface="ami"}')).toBe('pbx_asterisk_connected{interface="ami"} 0');
    expect(line(body, 'pbx_redis_up')).toBe('pbx_redis_up 0');
    expect(line(body, 'pbx_jobs{queue="recordings",state="waiting"}')).toBe('pbx_jobs{queue="recordings",state="waiting"} 7');
    expect(line(body, 'pbx_event_stream_closed_total{reason="slow-consumer"}')).toBe('pbx_event_stream_closed_total{reason="slow-consumer"} 1');
    expect(line(body, 'pbx_info{version="1.2.3"}')).toBe('pbx_info{version="1.2.3"} 1');
    expect(line(body, 'pbx_cdr_write_failures_total')).toBe('pbx_cdr_write_failures_total 2');
    expect(line(body, 'pbx_webhook_events_waiting')).toBe('pbx_webhook_events_waiting 4');
    expect(line(body, 'pbx_webhook_events_dropped_total')).toBe('pbx_webhook_events_dropped_total 1');
    expect(line(body, 'pbx_acd_writes_waiting')).toBe('pbx_acd_writes_waiting 3');
    expect(line(body, 'pbx_acd_writes_dropped_total')).toBe('pbx_acd_writes_dropped_total 2');
    expect(sources.queueReads).toBe(1);
    await m.scrape();
    expect(sources.queueReads).toBe(2);
  });

  it('a failing source leaves its series out; the scrape still answers', async () => {
    const m = new PbxMetrics(new Registry(), fakeSources({ queues: () => Promise.reject(new Error('pg down')), agents: () => Promise.reject(new Error('pg down')) }), 'x');
    const { body } = await m.scrape();
    expect(body).not.toMatch(/^pbx_queue_waiting_calls\{/m);
    expect(body).not.toMatch(/^pbx_agents\{/m);
    expect(line(body, 'pbx_calls_in_progress')).toBe('pbx_calls_in_progress 3');
  });

  it('a queue that disappears between scrapes loses its series', async () => {
    let names = ['a', 'b'];
    const m = new PbxMetrics(new Registry(), fakeSources({ queues: async () => names.map((queue) => ({ queue, waiting: 1, longestWaitSeconds: 1 })) }), 'x');
    expect((await m.scrape()).body).toMatch(/pbx_queue_waiting_calls\{queue="b"\} 1/);
    names = ['a'];
    expect((await m.scrape()).body).not.toMatch(/queue="b"/);
  });

  it('campaign gauges: running and paused campaigns from the port, pacing from this daemon, forgotten once a campaign is gone', async () => {
    let names = ['renewals', 'winback'];
    const m = new PbxMetrics(new Registry(), fakeSources({ campaigns: async () => names.map((campaign) => ({ campaign, linesInFlight: 6, contacts: { ready: 120, done: 30 } })) }), 'x');
    m.observeCampaignPacing('renewals', 2.5, 'learning');
    m.observeCampaignPacing('renewals', 1.75, 'predictive');
    let { body } = await m.scrape();
    expect(line(body, 'pbx_campaign_lines_in_flight{campaign="renewals"}')).toBe('pbx_campaign_lines_in_flight{campaign="renewals"} 6');
    expect(line(body, 'pbx_campaign_contacts{campaign="winback",state="ready"}')).toBe('pbx_campaign_contacts{campaign="winback",state="ready"} 120');
    expect(line(body, 'pbx_campaign_contacts{campaign="winback",state="done"}')).toBe('pbx_campaign_contacts{campaign="winback",state="done"} 30');
    expect(line(body, 'pbx_campaign_pacing_level{campaign="renewals"}')).toBe('pbx_campaign_pacing_level{campaign="renewals"} 1.75');
    expect(line(body, 'pbx_campaign_pacing_reason{campaign="renewals",reason="predictive"}')).toBe('pbx_campaign_pacing_reason{campaign="renewals",reason="predictive"} 1');
    expect(body).not.toMatch(/reason="learning"/);
    expect(body).not.toMatch(/^pbx_campaign_pacing_level\{campaign="winback"\}/m); // no decision here yet
    names = ['winback'];
    ({ body } = await m.scrape());
    expect(body).not.toMatch(/campaign="renewals"/);
    names = ['renewals', 'winback'];
    ({ body } = await m.scrape());
    expect(body).not.toMatch(/^pbx_campaign_pacing_level\{campaign="renewals"\}/m); // forgotten while it was stopped
  });

  it('campaign gauges: Postgres unreachable leaves their series out', async () => {
    const m = new PbxMetrics(new Registry(), fakeSources({ campaigns: () => Promise.reject(new Error('pg down')) }), 'x');
    m.observeCampaignPacing('renewals', 1, 'fixed');
    const { body } = await m.scrape();
    expect(body).not.toMatch(/^pbx_campaign_(lines_in_flight|contacts|pacing_level|pacing_reason)\{/m);
  });

  it('counts call and queue events from the bus, and ignores the others', async () => {
    const m = new PbxMetrics(new Registry(), fakeSources(), 'x');
    const at = new Date().toISOString();
    m.deliver({ id: 1, at, type: 'call.started', callId: 'c1', direction: 'outbound', callerNumber: '100', callerName: null, dialedNumber: '0301234', linkedId: null });
    m.deliver({ id: 2, at, type: 'call.ended', callId: 'c1', cdrId: '9', disposition: 'NO ANSWER', durationSeconds: 20, billableSeconds: 0, callerNumber: '100', callerName: null, queue: null, agent: null });
    m.deliver({ id: 3, at, type: 'queue.joined', callId: 'c2', queue: 'sales', callerNumber: null, callerName: null, priority: 0 });
    m.observeAriRequest('POST', 'channels', 0.003, true);
    m.deliver({ id: 4, at, type: 'recording.ready', recordingId: 'r', callId: 'c2', queue: null, agent: null, durationMs: null });
    const { body } = await m.scrape();
    expect(line(body, 'pbx_calls_started_total{direction="outbound"}')).toBe('pbx_calls_started_total{direction="outbound"} 1');
    expect(line(body, 'pbx_calls_ended_total{disposition="NO ANSWER"}')).toBe('pbx_calls_ended_total{disposition="NO ANSWER"} 1');
    expect(line(body, 'pbx_queue_joined_total{queue="sales"}')).toBe('pbx_queue_joined_total{queue="sales"} 1');
    expect(line(body, 'pbx_ari_request_duration_seconds_count{method="POST",resource="channels",outcome="ok"}')).toBe('pbx_ari_request_duration_seconds_count{method="POST",resource="channels",outcome="ok"} 1');
    expect(body).not.toMatch(/c1|c2|0301234/);
  });

  it('counts webhook delivery attempts by outcome, every outcome present from the start', async () => {
    const m = new PbxMetrics(new Registry(), fakeSources(), 'x');
    m.observeWebhookDelivery('retrying', 30);
    m.observeWebhookDelivery('delivered', 1500);
    const { body } = await m.scrape();
    expect(line(body, 'pbx_webhook_deliveries_total{outcome="retrying"}')).toBe('pbx_webhook_deliveries_total{outcome="retrying"} 1');
    expect(line(body, 'pbx_webhook_deliveries_total{outcome="delivered"}')).toBe('pbx_webhook_deliveries_total{outcome="delivered"} 1');
    expect(line(body, 'pbx_webhook_deliveries_total{outcome="failed"}')).toBe('pbx_webhook_deliveries_total{outcome="failed"} 0');
    // milliseconds in, seconds out: 1.5 s is above the 1 s bucket, within the 2.5 s one
    expect(line(body, 'pbx_webhook_delivery_duration_seconds_bucket{le="1",outcome="delivered"}')).toBe('pbx_webhook_delivery_duration_seconds_bucket{le="1",outcome="delivered"} 0');
    expect(line(body, 'pbx_webhook_delivery_duration_seconds_bucket{le="2.5",outcome="delivered"}')).toBe('pbx_webhook_delivery_duration_seconds_bucket{le="2.5",outcome="delivered"} 1');
  });

  it('within: the answer, or the fallback on failure or when it takes too long', async () => {
    expect(await within(1_000, async () => 1, 0)).toBe(1);
    expect(await within(1_000, () => Promise.reject(new Error('x')), 0)).toBe(0);
    expect(await within(10, () => new Promise<number>(() => undefined), -1)).toBe(-1);
  });
});

describe('deploy/grafana/pbx-dashboard.json', () => {
  it('parses, and every pbx_ metric its queries use is registered', async () => {
    const dashboard = JSON.parse(readFileSync(new URL('../../deploy/grafana/pbx-dashboard.json', import.meta.url), 'utf8')) as { panels: { targets?: { expr: string }[] }[] };
    const used = new Set(dashboard.panels.flatMap((p) => (p.targets ?? []).flatMap((t) => [...t.expr.matchAll(/\bpbx_[a-z_]+/g)].map((m) => m[0].replace(/_(bucket|count|sum)$/, '')))));
    expect(used.size).toBeGreaterThan(10);
    const registry = new Registry();
    new PbxMetrics(registry, fakeSources(), 'x');
    const registered = new Set((await registry.getMetricsAsJSON()).map((m) => m.name));
    expect([...used].filter((name) => !registered.has(name))).toEqual([]);
  });
});

describe('PBX_METRICS_ACCESS=loopback', () => {
  it('isLoopback: 127/8, ::1 and the IPv4-mapped form; nothing else', () => {
    for (const a of ['127.0.0.1', '127.9.8.7', '::1', '::ffff:127.0.0.1']) expect(isLoopback(a), a).toBe(true);
    for (const a of ['10.0.0.5', '::ffff:10.0.0.5', '128.0.0.1', '::2', '']) expect(isLoopback(a), a).toBe(false);
  });

  it('answers loopback without a token and refuses any other address with 403', async () => {
    const http = await buildHttp({ log: createLogger('silent'), version: 'test', authFailures: { limit: 1000, windowSeconds: 60 } });
    await http.register(metricsPlugin, { auth: {} as AuthService, metrics: new PbxMetrics(new Registry(), fakeSources(), 'x'), access: 'loopback' });
    const local = await http.inject({ method: 'GET', url: '/metrics', remoteAddress: '127.0.0.1' });
    expect(local.statusCode).toBe(200);
    expect(local.body).toMatch(/^pbx_calls_in_progress 3$/m);
    const remote = await http.inject({ method: 'GET', url: '/metrics', remoteAddress: '192.0.2.10' });
    expect(remote.statusCode).toBe(403);
    expect(remote.json().error.code).toBe('forbidden');
    await http.close();
  });
});
