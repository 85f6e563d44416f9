/**
 * GET /metrics (src/metrics, docs/metrics.md) on the real server (real Postgres and Redis;
 * Asterisk is down): 401 without a token, 200 in the Prometheus text format with a viewer's token,
 * and figures that follow what happens: an agent made ready through the API (pbx_agents,
 * pbx_queue_agents), a caller waiting in a queue (pbx_queue_waiting_calls, longest wait), call and
 * queue events published on the bus (counters), an API request (the HTTP histogram).
 */
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { App } from '../../src/app.js';
import { AuthService, CLI_ACTOR } from '../../src/auth/service.js';
import { applyAgentEvent, findAgentByNumber } from '../../src/acd/call-repository.js';
import { startTestApp } from '../support/app.js';
import { eventually } from '../support/wait.js';

let app: App;
let base: string;
let viewer = '';
let admin = '';
const SUFFIX = String(Date.now() % 100_000).padStart(5, '0');
const AGENT = `86${SUFFIX}`;
const QUEUE = `it-metrics-${SUFFIX}`;

/** One sample line: `name{labels} value`. Label order as prom-client writes them (as given). */
const SAMPLE = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{(.*)\})? (-?[0-9.eE+-]+|[Nn]a[Nn]|[+-]Inf)$/;

interface Sample {
  readonly name: string;
  readonly labels: Record<string, string>;
  readonly value: number;
}

function parse(text: string): Sample[] {
  const samples: Sample[] = [];
  for (const line of text.split('\n')) {
    if (line === '' || line.startsWith('#')) continue;
    const m = SAMPLE.exec(line);
    if (!m) throw new Error(`not a sample line: ${line}`);
    const labels: Record<string, string> = {};
    for (const l of (m[3] ?? '').matchAll(/([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"/g)) labels[l[1]!] = l[2]!;
    samples.push({ name: m[1]!, labels, value: Number(m[4]) });
  }
  return samples;
}

async function scrape(): Promise<Sample[]> {
  const res = await fetch(`${base}/metrics`, { headers: { authorization: `Bearer ${viewer}` } });
  expect(res.status).toBe(200);
  expect(res.headers.get('content-type')).toMatch(/^text\/plain; version=0\.0\.4/);
  return parse(await res.text());
}

/** The value of the one sample with that name and (at least) these labels; undefined when absent. */
function value(samples: readonly Sample[], name: string, labels: Record<string, string> = {}): number | undefined {
  const found = samples.filter((s) => s.name === name && Object.entries(labels).every(([k, v]) => s.labels[k] === v));
  if (found.length > 1) throw new Error(`${found.length} samples of ${name} ${JSON.stringify(labels)}`);
  return found[0]?.value;
}

const api = (method: 'GET' | 'POST' | 'PUT', url: string, payload?: object) =>
  app.http.inject({ method, url: `/api/v1${url}`, headers: { authorization: `Bearer ${admin}` }, ...(payload ? { payload } : {}) });

beforeAll(async () => {
  app = await startTestApp();
  base = `http://127.0.0.1:${(app.http.server.address() as AddressInfo).port}`;
  const auth = new AuthService(app.db);
  viewer = (await auth.createToken(CLI_ACTOR, { username: 'it-metrics-viewer', name: 'metrics test', ttlDays: 1, ensureRole: 'viewer' })).token;
  admin = (await auth.createToken(CLI_ACTOR, { username: 'it-metrics-admin', name: 'metrics test', ttlDays: 1, ensureRole: 'admin' })).token;
  expect((await api('POST', '/agents', { number: AGENT, name: 'Metrics Agent', pin: '4826' })).statusCode).toBe(201);
  expect((await api('POST', '/queues', { name: QUEUE })).statusCode).toBe(201);
  expect((await api('PUT', `/queues/${QUEUE}/members`, { agent: AGENT })).statusCode).toBe(200);
});

afterAll(async () => {
  await app?.db.deleteFrom('queue_calls').where('call_id', '=', `it-metrics-call-${SUFFIX}`).execute();
  await app?.stop();
});

describe('GET /metrics', () => {
  it('401 without a token or with a bad one', async () => {
    expect((await fetch(`${base}/metrics`)).status).toBe(401);
    expect((await fetch(`${base}/metrics`, { headers: { authorization: 'Bearer nope' } })).status).toBe(401);
  });

  it('answers the text format with every metric family, and the dependencies as they are', async () => {
    const samples = await scrape();
    const names = new Set(samples.map((s) => s.name));
    for (const n of [
      'pbx_info', 'pbx_calls_in_progress', 'pbx_cdr_pending_writes', 'pbx_queue_waiting_calls', 'pbx_queue_longest_wait_seconds',
      'pbx_agents', 'pbx_queue_agents', 'pbx_asterisk_connected', 'pbx_asterisk_connections_total', 'pbx_postgres_up', 'pbx_redis_up',
      'pbx_jobs', 'pbx_event_stream_clients', 'process_cpu_user_seconds_total', 'nodejs_eventloop_lag_seconds',
    ]) expect(names, n).toContain(n);
    expect(value(samples, 'pbx_postgres_up')).toBe(1);
    expect(value(samples, 'pbx_redis_up')).toBe(1);
    // No Asterisk in the integration tests.
    expect(value(samples, 'pbx_asterisk_connected', { interface: 'ari' })).toBe(0);
    expect(value(samples, 'pbx_asterisk_connected', { interface: 'ami' })).toBe(0);
    expect(value(samples, 'pbx_calls_in_progress')).toBe(0);
    expect(value(samples, 'pbx_queue_waiting_calls', { queue: QUEUE })).toBe(0);
    expect(value(samples, 'pbx_queue_longest_wait_seconds', { queue: QUEUE })).toBe(0);
    expect(value(samples, 'pbx_queue_agents', { queue: QUEUE, state: 'logged-out' })).toBe(1);
    // No label carries a caller number or a call id.
    for (const s of samples) for (const v of Object.values(s.labels)) expect(v).not.toMatch(/^\+?[0-9]{6,}$|it-metrics-call/);
  });

  it('an agent logging in, then logged out through the API, moves the agents-by-state gauges', async () => {
    const before = await scrape();
    const readyBefore = value(before, 'pbx_agents', { state: 'ready' }) ?? 0;
    const outBefore = value(before, 'pbx_agents', { state: 'logged-out' }) ?? 0;
    // The login a desk phone's feature code makes (there is no login route: agents log in at a phone).
    const agent = await findAgentByNumber(app.db, AGENT);
    expect((await applyAgentEvent(app.db, agent!.id, { type: 'login' }))?.ok).toBe(true);
    const loggedIn = await scrape();
    expect(value(loggedIn, 'pbx_agents', { state: 'ready' })).toBe(readyBefore + 1);
    expect(value(loggedIn, 'pbx_agents', { state: 'logged-out' }) ?? 0).toBe(outBefore - 1);
    expect(value(loggedIn, 'pbx_queue_agents', { queue: QUEUE, state: 'ready' })).toBe(1);
    expect(value(loggedIn, 'pbx_queue_agents', { queue: QUEUE, state: 'logged-out' })).toBeUndefined();
    // A supervisor logs the agent out through the API.
    const forced = await api('POST', `/agents/${AGENT}/state`, { state: 'logged-out' });
    expect(forced.statusCode, forced.body).toBe(200);
    const loggedOut = await scrape();
    expect(value(loggedOut, 'pbx_agents', { state: 'ready' }) ?? 0).toBe(readyBefore);
    expect(value(loggedOut, 'pbx_queue_agents', { queue: QUEUE, state: 'logged-out' })).toBe(1);
  });

  it('a caller waiting in the queue: waiting calls and the longest wait', async () => {
    const queue = await app.db.selectFrom('queues').select('id').where('name', '=', QUEUE).executeTakeFirstOrThrow();
    await app.db.insertInto('queue_calls').values({ call_id: `it-metrics-call-${SUFFIX}`, queue_id: queue.id, caller_number: '+4930123456', enqueued_at: new Date(Date.now() - 90_000) }).execute();
    const samples = await scrape();
    expect(value(samples, 'pbx_queue_waiting_calls', { queue: QUEUE })).toBe(1);
    const longest = value(samples, 'pbx_queue_longest_wait_seconds', { queue: QUEUE })!;
    expect(longest).toBeGreaterThanOrEqual(89);
    expect(longest).toBeLessThan(600);
  });

  it('call and queue events published on the bus move the counters', async () => {
    const before = await scrape();
    const ended = value(before, 'pbx_calls_ended_total', { disposition: 'BUSY' }) ?? 0;
    const started = value(before, 'pbx_calls_started_total', { direction: 'inbound' }) ?? 0;
    const left = value(before, 'pbx_queue_left_total', { queue: QUEUE, reason: 'abandoned' }) ?? 0;
    const callId = `it-metrics-bus-${SUFFIX}`;
    app.events.bus.publish({ type: 'call.started', callId, direction: 'inbound', callerNumber: '+4930999888', callerName: null, dialedNumber: '100', linkedId: null });
    app.events.bus.publish({ type: 'queue.left', callId, queue: QUEUE, callerNumber: '+4930999888', callerName: null, reason: 'abandoned', agent: null, waitSeconds: 12 });
    app.events.bus.publish({ type: 'call.ended', callId, cdrId: '1', disposition: 'BUSY', durationSeconds: 3, billableSeconds: 0, callerNumber: '+4930999888', callerName: null, queue: null, agent: null });
    // The bus numbers events once its first id block is reserved (at start): wait for that.
    await eventually(async () => {
      const after = await scrape();
      expect(value(after, 'pbx_calls_started_total', { direction: 'inbound' })).toBe(started + 1);
      expect(value(after, 'pbx_queue_left_total', { queue: QUEUE, reason: 'abandoned' })).toBe(left + 1);
      expect(value(after, 'pbx_calls_ended_total', { disposition: 'BUSY' })).toBe(ended + 1);
      return true;
    }, 10_000, 'the counters');
  });

  it('times API requests by route pattern, never by raw URL', async () => {
    const before = value(await scrape(), 'pbx_http_request_duration_seconds_count', { method: 'GET', route: '/api/v1/agents/:number', status_code: '200' }) ?? 0;
    expect((await api('GET', `/agents/${AGENT}`)).statusCode).toBe(200);
    const samples = await scrape();
    expect(value(samples, 'pbx_http_request_duration_seconds_count', { method: 'GET', route: '/api/v1/agents/:number', status_code: '200' })).toBe(before + 1);
    expect(samples.some((s) => s.labels['route']?.includes(AGENT))).toBe(false);
  });
});
