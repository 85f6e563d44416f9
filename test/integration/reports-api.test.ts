/**
 * Reports API (docs/reporting.md) against real Postgres: queue_events and agent_state_log rows
 * inserted directly (the writers are the ACD's), figures checked by hand; a DST day in the site's
 * zone (Europe/Berlin, 2026-10-25: 25 hours); 400s naming the field, 404s; CSV; live figures
 * current at once and the same after a restart.
 * Names of its own: queues it-rep-*-<run>, agent numbers 847<run>, caller numbers +49847<run>...
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { App } from '../../src/app.js';
import { AuthService, CLI_ACTOR } from '../../src/auth/service.js';
import type { QueueEventType } from '../../src/acd/tables.js';
import { startOfLocalDay } from '../../src/reports/intervals.js';
import { startTestApp } from '../support/app.js';
import { eventually } from '../support/wait.js';

const RUN = String(Math.floor(Math.random() * 1e6)).padStart(6, '0');
const QA = `it-rep-a-${RUN}`;
const QB = `it-rep-b-${RUN}`;
const A1 = `847${RUN}`;
const CALLER1 = `+49847${RUN}1`;
const CALLER2 = `+49847${RUN}2`;
const TZ = 'Europe/Berlin';
const S = 1000;

let app: App;
let admin: string;
let supervisor: string;
let viewer: string;
let qa: string;
let qb: string;
let a1: string;

const get = (url: string, token = supervisor, headers: Record<string, string> = {}) =>
  app.http.inject({ method: 'GET', url: `/api/v1${url}`, headers: { authorization: `Bearer ${token}`, ...headers } });

async function tokens(): Promise<void> {
  const auth = new AuthService(app.db);
  admin = (await auth.createToken(CLI_ACTOR, { username: 'it-rep-admin', name: 'it', ttlDays: 1, ensureRole: 'admin' })).token;
  supervisor = (await auth.createToken(CLI_ACTOR, { username: 'it-rep-supervisor', name: 'it', ttlDays: 1, ensureRole: 'supervisor' })).token;
  viewer = (await auth.createToken(CLI_ACTOR, { username: 'it-rep-viewer', name: 'it', ttlDays: 1, ensureRole: 'viewer' })).token;
}

interface Ev {
  queue: string;
  call: string;
  type: QueueEventType;
  at: string | Date;
  agent?: string;
  caller?: string;
  wait?: number;
  talk?: number;
  hold?: number;
  wrap?: number;
  details?: Record<string, unknown>;
}
async function insertEvents(events: Ev[]): Promise<void> {
  await app.db.insertInto('queue_events').values(events.map((e) => ({
    queue_id: e.queue, call_id: e.call, type: e.type, at: new Date(e.at), agent_id: e.agent ?? null, caller_number: e.caller ?? null,
    wait_ms: e.wait === undefined ? null : e.wait * S, talk_ms: e.talk === undefined ? null : e.talk * S, hold_ms: e.hold === undefined ? null : e.hold * S,
    wrap_up_ms: e.wrap === undefined ? null : e.wrap * S, details: e.details ? JSON.stringify(e.details) : null,
  }))).execute();
}
const call = (id: string) => `it-rep-${RUN}-${id}`;

beforeAll(async () => {
  app = await startTestApp({ PBX_TIMEZONE: TZ });
  await tokens();
  for (const name of [QA, QB]) expect((await app.http.inject({ method: 'POST', url: '/api/v1/queues', headers: { authorization: `Bearer ${admin}` }, payload: { name } })).statusCode).toBe(201);
  const agent = await app.http.inject({ method: 'POST', url: '/api/v1/agents', headers: { authorization: `Bearer ${admin}` }, payload: { number: A1, name: 'Report Agent', pin: '4826' } });
  expect(agent.statusCode, agent.body).toBe(201);
  const ids = await app.db.selectFrom('queues').select(['id', 'name']).where('name', 'in', [QA, QB]).execute();
  qa = ids.find((q) => q.name === QA)!.id;
  qb = ids.find((q) => q.name === QB)!.id;
  a1 = (await app.db.selectFrom('agents').select('id').where('number', '=', A1).executeTakeFirstOrThrow()).id;

  // Queue A on the autumn DST day in Berlin (2026-10-25: 02:00-03:00 twice; 00:00 CEST = 2026-10-24T22:00Z).
  await insertEvents([
    // 01:10 CEST: answered after 10 s by A1, talk 100 s, hold 20 s, wrap-up 30 s.
    { queue: qa, call: call('c1'), type: 'join', at: '2026-10-24T23:10:00Z', caller: CALLER1 },
    { queue: qa, call: call('c1'), type: 'offer', at: '2026-10-24T23:10:05Z', agent: a1 },
    { queue: qa, call: call('c1'), type: 'answer', at: '2026-10-24T23:10:10Z', agent: a1, wait: 10 },
    { queue: qa, call: call('c1'), type: 'end', at: '2026-10-24T23:12:40Z', agent: a1, talk: 100, hold: 20, wrap: 30 },
    // 02:20 CEST: hung up after 3 s (a short abandon).
    { queue: qa, call: call('c2'), type: 'join', at: '2026-10-25T00:20:00Z' },
    { queue: qa, call: call('c2'), type: 'abandon', at: '2026-10-25T00:20:03Z', wait: 3 },
    // 02:20 CET (the second 02:20): hung up after 40 s.
    { queue: qa, call: call('c3'), type: 'join', at: '2026-10-25T01:20:00Z' },
    { queue: qa, call: call('c3'), type: 'abandon', at: '2026-10-25T01:20:40Z', wait: 40 },
    // 02:40 CET: answered after 30 s (another agent), transferred.
    { queue: qa, call: call('c4'), type: 'join', at: '2026-10-25T01:40:00Z', caller: CALLER2 },
    { queue: qa, call: call('c4'), type: 'answer', at: '2026-10-25T01:40:30Z', agent: '999999999', wait: 30 },
    { queue: qa, call: call('c4'), type: 'transfer', at: '2026-10-25T01:42:00Z', agent: '999999999' },
    { queue: qa, call: call('c4'), type: 'end', at: '2026-10-25T01:43:00Z', agent: '999999999', talk: 90, hold: 0, wrap: 0 },
    // 10:00 CET: overflow after 60 s; 11:00 CET: callback requested after 45 s, done at 11:30.
    { queue: qa, call: call('c5'), type: 'join', at: '2026-10-25T09:00:00Z' },
    { queue: qa, call: call('c5'), type: 'overflow', at: '2026-10-25T09:01:00Z', wait: 60 },
    { queue: qa, call: call('c6'), type: 'join', at: '2026-10-25T10:00:00Z' },
    { queue: qa, call: call('c6'), type: 'callback-requested', at: '2026-10-25T10:00:45Z', wait: 45 },
    { queue: qa, call: call('c6'), type: 'callback-done', at: '2026-10-25T10:30:00Z', details: { result: 'done' } },
    // The first caller calls again (queue B) 11 hours later: not resolved at first call.
    { queue: qb, call: call('c7'), type: 'join', at: '2026-10-25T10:10:00Z', caller: CALLER1 },
    // Before the day (not counted): joined the evening before.
    { queue: qa, call: call('c0'), type: 'join', at: '2026-10-24T21:59:59Z' },
  ]);
  await app.db.insertInto('survey_responses').values([
    { call_id: call('c1'), queue_id: qa, agent_id: a1, question: 'csat', scale: '1-5', score: 5, at: new Date('2026-10-24T23:15:00Z') },
    { call_id: call('c4'), queue_id: qa, agent_id: '999999999', question: 'csat', scale: '1-5', score: 2, at: new Date('2026-10-25T01:45:00Z') },
    { call_id: call('c1'), queue_id: qa, agent_id: a1, question: 'nps', scale: '0-10', score: 10, at: new Date('2026-10-24T23:15:10Z') },
    { call_id: call('c4'), queue_id: qa, agent_id: '999999999', question: 'nps', scale: '0-10', score: null, at: new Date('2026-10-25T01:45:10Z') },
  ]).execute();
  // Agent A1 that day: ready since 22:00 CEST the day before, rings, talks, wraps up, pauses (0 missed), logs out at 02:00 CET.
  const log = (at: string, from: string, to: string, pause: number | null = null) => ({
    agent_id: a1, from_state: from as 'ready', to_state: to as 'ready', pause_code: pause, cause: 'it', at: new Date(at),
  });
  await app.db.insertInto('agent_state_log').values([
    log('2026-10-24T20:00:00Z', 'logged-out', 'ready'),
    log('2026-10-24T23:10:05Z', 'ready', 'reserved'),
    log('2026-10-24T23:10:10Z', 'reserved', 'on-call'),
    log('2026-10-24T23:12:10Z', 'on-call', 'wrap-up'),
    log('2026-10-24T23:12:40Z', 'wrap-up', 'ready'),
    log('2026-10-25T00:00:00Z', 'ready', 'paused', 0),
    log('2026-10-25T00:30:00Z', 'paused', 'ready'),
    log('2026-10-25T01:00:00Z', 'ready', 'logged-out'),
  ]).execute();
  await insertEvents([{ queue: qa, call: call('c8'), type: 'ring-no-answer', at: '2026-10-24T23:05:00Z', agent: a1 }]);
});

afterAll(async () => {
  await app?.stop();
});

describe('queue report', () => {
  it('a 25-hour day in the site zone: 25 hourly rows, 02:00 twice, each call in the hour it joined', async () => {
    const res = await get(`/reports/queues?from=2026-10-25&to=2026-10-26&interval=1h&queue=${QA}`, viewer);
    expect(res.statusCode, res.body).toBe(200);
    const rows = res.json().items as { from: string; to: string; offered: number; answered: number; abandoned: number; shortAbandoned: number }[];
    expect(res.json().nextCursor).toBeNull();
    expect(rows).toHaveLength(25);
    expect(rows[0]!.from).toBe('2026-10-25T00:00:00+02:00');
    expect(rows.slice(1, 5).map((r) => r.from)).toEqual(['2026-10-25T01:00:00+02:00', '2026-10-25T02:00:00+02:00', '2026-10-25T02:00:00+01:00', '2026-10-25T03:00:00+01:00']);
    expect(rows[24]!.to).toBe('2026-10-26T00:00:00+01:00');
    expect(rows.map((r) => r.offered)).toEqual([0, 1, 1, 2, 0, 0, 0, 0, 0, 0, 0, 1, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0]);
    expect(rows[2]).toMatchObject({ offered: 1, shortAbandoned: 1, abandoned: 0 });
    expect(rows[3]).toMatchObject({ offered: 2, answered: 1, abandoned: 1, shortAbandoned: 0 });
    const quarter = await get(`/reports/queues?from=2026-10-25&to=2026-10-26&interval=15m&queue=${QA}`);
    expect(quarter.json().items).toHaveLength(100);
    // interval defaults to 1h; a week starts on Monday at local midnight (cut to the range).
    expect((await get(`/reports/queues?from=2026-10-25&to=2026-10-26&queue=${QA}`)).json().items).toHaveLength(25);
    const weeks = (await get(`/reports/queues?from=2026-10-20&to=2026-11-01&interval=week&queue=${QA}`)).json().items;
    expect(weeks.map((w: { from: string; to: string; offered: number }) => [w.from, w.to, w.offered])).toEqual([
      ['2026-10-20T00:00:00+02:00', '2026-10-26T00:00:00+01:00', 7], ['2026-10-26T00:00:00+01:00', '2026-11-01T00:00:00+01:00', 0],
    ]);
  });

  it('the day as one row: every figure by hand', async () => {
    const res = await get(`/reports/queues?from=2026-10-25&to=2026-10-26&interval=day&queue=${QA}`);
    expect(res.statusCode, res.body).toBe(200);
    expect(res.json().items).toEqual([{
      queue: QA, from: '2026-10-25T00:00:00+02:00', to: '2026-10-26T00:00:00+01:00',
      offered: 6, answered: 2, abandoned: 1, shortAbandoned: 1, overflowed: 1, timedOut: 0, callbacksRequested: 1, callbacksCompleted: 1, callbacksFailed: 0, waiting: 0,
      abandonRatePercent: 20, // 1 / (6 - 1)
      answeredWithinSl: 1, slCalls: 4, serviceLevelPercent: 25, slSeconds: 20, slTargetPercent: 80, slMet: false, // 10 s of (2 answered + 1 abandon + 1 overflow)
      asaSeconds: 20, avgWaitSeconds: 31.3, maxWaitSeconds: 60, avgAbandonSeconds: 40, // waits 10, 30, 3, 40, 60, 45
      handled: 2, ahtSeconds: 120, avgTalkSeconds: 95, avgHoldSeconds: 10, avgWrapUpSeconds: 15,
      transferred: 1, transferRatePercent: 50,
      fcrCalls: 2, fcrResolved: 1, fcrPercent: 50, fcrPending: 0,
      surveysAsked: 4, csatResponses: 2, csatPercent: 50, npsResponses: 1, nps: 100,
    }]);
  });

  it('the queue settings change the figures: short-abandon threshold and the SL denominator', async () => {
    const patch = (body: object) => app.http.inject({ method: 'PATCH', url: `/api/v1/queues/${QB}`, headers: { authorization: `Bearer ${supervisor}` }, payload: body });
    const bad = await patch({ fcrWindowHours: 0 });
    expect(bad.statusCode).toBe(400);
    expect(bad.json().error.details.problems[0].field).toBe('body.fcrWindowHours');
    await insertEvents([
      { queue: qb, call: call('s1'), type: 'join', at: '2026-10-20T08:00:00Z' },
      { queue: qb, call: call('s1'), type: 'abandon', at: '2026-10-20T08:00:03Z', wait: 3 },
      { queue: qb, call: call('s2'), type: 'join', at: '2026-10-20T08:01:00Z' },
      { queue: qb, call: call('s2'), type: 'answer', at: '2026-10-20T08:01:05Z', wait: 5 },
    ]);
    const day = async () => (await get(`/reports/queues?from=2026-10-20&to=2026-10-21&interval=day&queue=${QB}`)).json().items[0];
    expect(await day()).toMatchObject({ shortAbandoned: 1, abandoned: 0, slCalls: 1, serviceLevelPercent: 100 });
    const ok = await patch({ shortAbandonSeconds: 2 });
    expect(ok.json()).toMatchObject({ shortAbandonSeconds: 2, slExcludeShortAbandons: true, slCountAbandons: true, fcrWindowHours: 24 });
    expect(await day()).toMatchObject({ shortAbandoned: 0, abandoned: 1, slCalls: 2, serviceLevelPercent: 50 });
    await patch({ slCountAbandons: false });
    expect(await day()).toMatchObject({ slCalls: 1, serviceLevelPercent: 100 });
  });

  it('CSV: format=csv or Accept: text/csv, the same columns as the JSON', async () => {
    for (const [url, headers] of [
      [`/reports/queues?from=2026-10-25&to=2026-10-26&interval=day&queue=${QA}&format=csv`, {}],
      [`/reports/queues?from=2026-10-25&to=2026-10-26&interval=day&queue=${QA}`, { accept: 'text/csv' }],
    ] as const) {
      const res = await get(url, viewer, headers);
      expect(res.statusCode).toBe(200);
      expect(res.headers['content-type']).toMatch(/^text\/csv/);
      const [header, row, end] = res.body.split('\r\n');
      const columns = header!.split(',');
      expect(columns.slice(0, 6)).toEqual(['queue', 'from', 'to', 'offered', 'answered', 'abandoned']);
      const cells = row!.split(',');
      const at = (c: string) => cells[columns.indexOf(c)];
      expect([at('queue'), at('from'), at('offered'), at('serviceLevelPercent'), at('slMet'), at('timedOut')]).toEqual([QA, '2026-10-25T00:00:00+02:00', '6', '25', 'false', '0']);
      expect(end).toBe('');
    }
  });

  it('bad input: 400 naming the field; unknown queue 404', async () => {
    const field = async (url: string, name: string) => {
      const res = await get(url);
      expect(res.statusCode, res.body).toBe(400);
      expect(res.json().error.code).toBe('validation-failed');
      expect(res.json().error.message).toContain(name);
    };
    await field(`/reports/queues?from=2026-10-25&to=2026-10-24&queue=${QA}`, 'querystring.to');
    await field(`/reports/queues?from=2026-10-25&to=2026-10-25&queue=${QA}`, 'querystring.to');
    await field(`/reports/queues?from=2026-10-25T10:00:00Z&to=2026-10-25T10:00:00Z`, 'querystring.to');
    await field(`/reports/queues?from=2020-01-01&to=2026-01-01&interval=month`, 'querystring.to');
    await field(`/reports/queues?from=2026-01-01&to=2026-06-30&interval=15m&queue=${QA}`, 'querystring.interval');
    await field(`/reports/queues?from=2026-01-01&interval=hour`, 'querystring.interval');
    await field(`/reports/queues?from=yesterday`, 'querystring.from');
    await field(`/reports/queues?from=2026-10-25T10:00:00`, 'querystring.from');
    await field(`/reports/queues?from=2026-10-25&tz=Mars/Olympus`, 'querystring.tz');
    await field(`/reports/queues?from=2026-10-25&queue=NOT%20A%20NAME`, 'querystring.queue');
    const missing = await get(`/reports/queues?from=2026-10-25&queue=${QA},it-rep-none-${RUN}`);
    expect(missing.statusCode).toBe(404);
    expect(missing.json().error.code).toBe('queue-not-found');
    expect(missing.json().error.message).toContain(`it-rep-none-${RUN}`);
    const noAgent = await get(`/reports/agents?from=2026-10-25&agent=${A1},99${RUN}`);
    expect(noAgent.statusCode).toBe(404);
    expect(noAgent.json().error.code).toBe('agent-not-found');
  });

  it('another zone: tz=UTC cuts the same events into UTC days', async () => {
    const res = await get(`/reports/queues?from=2026-10-24&to=2026-10-26&interval=day&tz=UTC&queue=${QA}`);
    expect(res.json().items.map((r: { from: string; offered: number }) => [r.from, r.offered])).toEqual([['2026-10-24T00:00:00+00:00', 2], ['2026-10-25T00:00:00+00:00', 5]]);
  });
});

describe('agent report', () => {
  it('state time, paused by reason, calls, AHT, occupancy, utilization, CSAT; supervisor only', async () => {
    expect((await get(`/reports/agents?from=2026-10-25&to=2026-10-26&interval=day&agent=${A1}`, viewer)).statusCode).toBe(403);
    const res = await get(`/reports/agents?from=2026-10-25&to=2026-10-26&interval=day&agent=${A1}`);
    expect(res.statusCode, res.body).toBe(200);
    // 22:00Z (day start) to 01:00Z logged in: 3 h; ringing 5 s, on-call 120 s, wrap-up 30 s, paused 30 min.
    expect(res.json().items).toEqual([{
      agent: A1, name: 'Report Agent', from: '2026-10-25T00:00:00+02:00', to: '2026-10-26T00:00:00+01:00',
      loggedInSeconds: 10800, readySeconds: 10800 - 5 - 120 - 30 - 1800, ringingSeconds: 5, onCallSeconds: 120, wrapUpStateSeconds: 30, pausedSeconds: 1800,
      paused: [{ code: 0, reason: 'missed', seconds: 1800 }],
      answered: 1, missed: 1, transfers: 0, handled: 1, talkSeconds: 100, holdSeconds: 20, wrapUpSeconds: 30, ahtSeconds: 150,
      handleSeconds: 150, occupancyPercent: 1.7, utilizationPercent: 1.4, // 150 / (150 + 8845 + 5); 150 / 10800
      surveysAsked: 2, csatResponses: 1, csatPercent: 100, npsResponses: 1, nps: 100,
    }]);
    const csv = await get(`/reports/agents?from=2026-10-25&to=2026-10-26&interval=day&agent=${A1}&format=csv`);
    expect(csv.body).toContain('missed (0): 1800');
    // Hourly: the hour 01:00-02:00 CEST holds the call; 02:00 CET (the second) ends with the logout.
    const hours = (await get(`/reports/agents?from=2026-10-25&to=2026-10-26&interval=1h&agent=${A1}`)).json().items;
    expect(hours).toHaveLength(25);
    expect(hours.slice(0, 5).map((h: { loggedInSeconds: number }) => h.loggedInSeconds)).toEqual([3600, 3600, 3600, 0, 0]);
    expect(hours[1]).toMatchObject({ answered: 1, onCallSeconds: 120, handled: 1 });
  });
});

describe('live figures', () => {
  it('last 15 / 60 minutes and today so far, from the events at once, the same after a restart', async () => {
    const now = Date.now();
    const ago = (min: number) => new Date(now - min * 60_000);
    await insertEvents([
      { queue: qb, call: call('l1'), type: 'join', at: ago(5) },
      { queue: qb, call: call('l1'), type: 'answer', at: new Date(ago(5).getTime() + 8 * S), wait: 8 },
      { queue: qb, call: call('l2'), type: 'join', at: ago(30) },
      { queue: qb, call: call('l2'), type: 'abandon', at: new Date(ago(30).getTime() + 20 * S), wait: 20 },
      { queue: qb, call: call('l3'), type: 'join', at: ago(90) },
      { queue: qb, call: call('l3'), type: 'answer', at: new Date(ago(90).getTime() + 40 * S), wait: 40 },
      // Joined before the last 60 minutes, answered within them: counted where it joined only.
      { queue: qb, call: call('l5'), type: 'join', at: ago(70) },
      { queue: qb, call: call('l5'), type: 'answer', at: ago(50), wait: 20 * 60 },
    ]);
    const midnight = startOfLocalDay(now, TZ);
    const today = [5, 30, 70, 90].filter((m) => now - m * 60_000 >= midnight).length;
    const live = async () => {
      const res = await get(`/reports/queues/live?queue=${QB}`, viewer);
      expect(res.statusCode, res.body).toBe(200);
      return Object.fromEntries(res.json().items.map((r: { window: string }) => [r.window, r])) as Record<string, { offered: number; answered: number; abandoned: number; waiting: number; asaSeconds: number | null; from: string }>;
    };
    const first = await live();
    expect(first['last-15m']).toMatchObject({ offered: 1, answered: 1, abandoned: 0, asaSeconds: 8 });
    expect(first['last-60m']).toMatchObject({ offered: 2, answered: 1, abandoned: 1 });
    expect(first['today']!.offered).toBe(today);
    expect(first['today']!.from).toMatch(/T00:00:00\+0[12]:00$/);
    // A caller joins: counted by a request at most QUEUES_LIVE_SHARED_MS (1 s) later (no rebuild; one
    // computation is shared by the readers within that time).
    await insertEvents([{ queue: qb, call: call('l4'), type: 'join', at: new Date() }]);
    const second = await eventually(async () => {
      const figures = await live();
      return figures['last-15m']!.offered === 2 ? figures : undefined;
    }, 5_000, 'the join counted', 50);
    expect(second['last-15m']).toMatchObject({ offered: 2, waiting: 1 });
    // A new daemon answers the same: nothing was kept in memory.
    await app.stop();
    app = await startTestApp({ PBX_TIMEZONE: TZ });
    const third = await live();
    expect(third['last-15m']).toMatchObject({ offered: 2, answered: 1, waiting: 1 });
    expect(third['last-60m']).toMatchObject({ offered: 3, answered: 1, abandoned: 1, waiting: 1 });
    const csv = await get(`/reports/queues/live?queue=${QB}`, viewer, { accept: 'text/csv' });
    expect(csv.body.split('\r\n').filter(Boolean)).toHaveLength(4);
  });
});
