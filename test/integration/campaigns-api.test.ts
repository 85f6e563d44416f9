/**
 * Campaigns through the API on the run's real Postgres (docs/campaigns.md): CRUD with every bad
 * input a 4xx naming the field; the lifecycle (readiness, the state machine, audit rows, the
 * Postgres NOTIFY and the campaign.state event); dispositions, each action in one transaction (and
 * nothing written when it is refused); the compliance report from seeded campaign_days rows (the
 * 30-day rate exact across a month boundary); the outbound metrics from seeded attempts, in JSON
 * and CSV. Names and numbers no other file uses: it-crud-*, agents 8471/8472, +1202555014x.
 */
import { DateTime } from 'luxon';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { App } from '../../src/app.js';
import { AuthService, CLI_ACTOR } from '../../src/auth/service.js';
import type { PbxEvent } from '../../src/events/model.js';
import { CAMPAIGN_STATE_CHANNEL } from '../../src/campaigns/repository.js';
import { setDisposition } from '../../src/campaigns/dispositions.js';
import { startTestApp, testConfig } from '../support/app.js';
import { eventually } from '../support/wait.js';

let app: App;
let admin = '';
let supervisor = '';
let listener: pg.Client;
const notices: { campaignId: string; state: string; from: string }[] = [];
const events: PbxEvent[] = [];
let agentA = '';
let agentB = '';

const TRUNK = 'it-crud-trunk';
const QUEUE = 'it-crud-q';
const FLOW = 'it-crud-flow';
const PROMPT = 'it-crud-abandon';
const NY = 'America/New_York';

type Method = 'GET' | 'POST' | 'PATCH' | 'DELETE';
const req = (method: Method, url: string, payload?: unknown, token = admin) =>
  app.http.inject({ method, url: `/api/v1${url}`, headers: { authorization: `Bearer ${token}` }, ...(payload === undefined ? {} : { payload: payload as object }) });

async function expectField(res: Awaited<ReturnType<typeof req>>, status: number, field: string, code = 'validation-failed'): Promise<void> {
  expect(res.statusCode, res.body).toBe(status);
  const { error } = res.json();
  expect(error.code, res.body).toBe(code);
  expect(error.message.startsWith(`${field}:`) || error.message.startsWith(`${field} `) || error.details?.field === field, error.message).toBe(true);
}

const base = (name: string, extra: Record<string, unknown> = {}) => ({ name, mode: 'progressive', trunk: TRUNK, callerId: '+12025550100', queue: QUEUE, ...extra });

async function create(name: string, extra: Record<string, unknown> = {}): Promise<Record<string, any>> { // eslint-disable-line @typescript-eslint/no-explicit-any
  const res = await req('POST', '/campaigns', base(name, extra));
  expect(res.statusCode, res.body).toBe(201);
  return res.json();
}

/** A contact and its connected attempt (as the dialer leaves them), for a disposition. */
async function seedConnected(campaignId: string, number: string, agentId: string, opts: { zones?: string[]; attempts?: number; connectedAt?: Date } = {}) {
  const contact = await app.db.insertInto('campaign_contacts').values({
    campaign_id: campaignId, number, time_zones: JSON.stringify(opts.zones ?? [NY]), tz_source: 'column', state: 'done', attempts: opts.attempts ?? 1,
  }).returning('id').executeTakeFirstOrThrow();
  const at = opts.connectedAt ?? new Date(Date.now() - 60_000);
  const id = `${contact.id}-${opts.attempts ?? 1}`;
  await app.db.insertInto('campaign_attempts').values({
    id, campaign_id: campaignId, contact_id: contact.id, number, state: 'ended', outcome: 'human', agent_id: agentId,
    dialed_at: new Date(at.getTime() - 10_000), answered_at: new Date(at.getTime() - 1_000), connected_at: at, ended_at: new Date(at.getTime() + 30_000),
  }).execute();
  return { contactId: contact.id, attemptId: id };
}

beforeAll(async () => {
  app = await startTestApp();
  const auth = new AuthService(app.db);
  admin = (await auth.createToken(CLI_ACTOR, { username: 'it-crud-admin', name: 't', ttlDays: 1, ensureRole: 'admin' })).token;
  supervisor = (await auth.createToken(CLI_ACTOR, { username: 'it-crud-sup', name: 't', ttlDays: 1, ensureRole: 'supervisor' })).token;
  expect((await req('POST', '/trunks', { name: TRUNK, kind: 'ip', host: '192.0.2.87' })).statusCode).toBe(201);
  expect((await req('POST', '/queues', { name: QUEUE })).statusCode).toBe(201);
  const flow = await req('POST', '/flows', { name: FLOW, definition: { language: 'en', start: 'q', nodes: { q: { kind: 'transfer', target: { kind: 'queue', queue: QUEUE } } } } });
  expect(flow.statusCode, flow.body).toBe(201);
  await app.db.insertInto('prompts').values({ id: '6f1d1c9e-7e44-4b7e-9d0a-1c2d3e4f5a01', name: PROMPT, source: 'upload', checksum: 'x'.repeat(64), duration_ms: 1000, bytes: 16000 }).execute();
  for (const [n, pin] of [['8471', '4826'], ['8472', '9163']] as const) {
    const r = await req('POST', '/agents', { number: n, name: `Crud ${n}`, pin });
    expect(r.statusCode, r.body).toBe(201);
  }
  const ids = await app.db.selectFrom('agents').select(['id', 'number']).where('number', 'in', ['8471', '8472']).orderBy('number').execute();
  agentA = ids[0]!.id;
  agentB = ids[1]!.id;
  listener = new pg.Client({ ...(() => { const d = testConfig().db; return { host: d.host, port: d.port, database: d.name, user: d.user, password: d.password }; })() });
  await listener.connect();
  listener.on('notification', (n) => notices.push(JSON.parse(n.payload!)));
  await listener.query(`LISTEN ${CAMPAIGN_STATE_CHANNEL}`);
  app.events.bus.subscribe({ deliver: (e) => events.push(e) }, null);
});

afterAll(async () => {
  await listener?.end();
  await app?.stop();
});

describe('campaign CRUD', () => {
  it('creates a campaign with the documented defaults and every column as camelCase', async () => {
    const c = await create('it-crud-defaults');
    expect(c).toMatchObject({
      name: 'it-crud-defaults', mode: 'progressive', state: 'draft', queue: QUEUE, trunk: TRUNK, callerId: '+12025550100', callerName: null,
      window: { start: '08:00', end: '21:00', days: [1, 2, 3, 4, 5, 6] }, defaultCountry: 'US', maxAttempts: 5, dailyLimit: null,
      timeZone: testConfig().site.timezone, abandonCap: 0.03, ringSeconds: 25, connectSeconds: 2,
      pacing: { mode: 'predictive', targetAbandonRate: 0.03 }, amd: false, machineAction: 'hangup', machinePrompt: null, abandonPrompt: null, flow: null,
      retryRules: { busy: { delayMinutes: 10, maxAttempts: 3 }, 'no-answer': { delayMinutes: 60, maxAttempts: 3 } },
    });
    expect(c.dispositions.map((d: { code: string; action: string }) => `${d.code}:${d.action}`)).toEqual(['1:done', '2:done', '3:callback', '4:retry', '5:dnc']);
    const got = await req('GET', `/campaigns/${c.id}`, undefined, supervisor);
    expect(got.json()).toEqual(c);
    expect((await req('POST', '/campaigns', base('it-crud-sup-no'), supervisor)).statusCode).toBe(403);
    const audit = await app.db.selectFrom('audit_log').select('action').where('entity', '=', 'campaign').where('entity_id', '=', c.id).execute();
    expect(audit.map((a) => a.action)).toEqual(['campaign.create']);
  });

  it('every bad input is a 4xx naming the field, and nothing is written', async () => {
    const cases: [Record<string, unknown>, number, string, string?][] = [
      [{ callerId: undefined }, 400, 'body.callerId'],
      [{ callerId: 'abc' }, 400, 'body.callerId'],
      [{ mode: 'robocall' }, 400, 'body.mode'],
      [{ name: 'Bad Name' }, 400, 'body.name'],
      [{ extra: 1 }, 400, 'body.extra'],
      [{ trunk: 'it-crud-no-trunk' }, 404, 'body.trunk', 'trunk-not-found'],
      [{ queue: 'it-crud-no-queue' }, 404, 'body.queue', 'queue-not-found'],
      [{ queue: null }, 400, 'body.queue'],
      [{ flow: FLOW }, 400, 'body.flow'],
      [{ mode: 'agentless', queue: null }, 400, 'body.flow'],
      [{ mode: 'agentless', flow: 'it-crud-no-flow' }, 404, 'body.flow', 'flow-not-found'],
      [{ abandonPrompt: 'it-crud-no-prompt' }, 404, 'body.abandonPrompt', 'prompt-not-found'],
      [{ machineAction: 'message' }, 400, 'body.machinePrompt'],
      [{ window: { start: '21:00', end: '08:00' } }, 400, 'body.window.end'],
      [{ window: { start: '8:00' } }, 400, 'body.window.start'],
      [{ window: { days: [1, 1] } }, 400, 'body.window.days'],
      [{ window: { days: [0] } }, 400, 'body.window.days'],
      [{ timeZone: 'Mars/Olympus' }, 400, 'body.timeZone'],
      [{ abandonCap: 0.05 }, 400, 'body.abandonCap'],
      [{ abandonCap: -0.01 }, 400, 'body.abandonCap'],
      [{ ringSeconds: 14 }, 400, 'body.ringSeconds'],
      [{ ringSeconds: 121 }, 400, 'body.ringSeconds'],
      [{ connectSeconds: 2.5 }, 400, 'body.connectSeconds'],
      [{ connectSeconds: 0 }, 400, 'body.connectSeconds'],
      [{ pacing: { mode: 'fixed' } }, 400, 'body.pacing.level'],
      [{ pacing: { mode: 'fixed', level: 6 } }, 400, 'body.pacing.level'],
      [{ pacing: { mode: 'predictive', targetAbandonRate: 0.04 } }, 400, 'body.pacing.targetAbandonRate'],
      [{ abandonCap: 0.02, pacing: { mode: 'predictive', targetAbandonRate: 0.025 } }, 400, 'body.pacing.targetAbandonRate'],
      [{ pacing: { mode: 'fast' } }, 400, 'body.pacing.mode'],
      [{ retryRules: { busy: { delayMinutes: 0, maxAttempts: 2 } } }, 400, 'body.retryRules.busy.delayMinutes'],
      [{ retryRules: { busy: { delayMinutes: 5 } } }, 400, 'body.retryRules.busy.maxAttempts'],
      [{ retryRules: { human: { delayMinutes: 5, maxAttempts: 1 } } }, 400, 'body.retryRules.human'],
      [{ maxAttempts: 0 }, 400, 'body.maxAttempts'],
      [{ dailyLimit: 0 }, 400, 'body.dailyLimit'],
      [{ defaultCountry: 'usa' }, 400, 'body.defaultCountry'],
      [{ dispositions: [{ code: '123', name: 'x', success: true, action: 'done' }] }, 400, 'body.dispositions.0.code'],
      [{ dispositions: [{ code: '1', name: 'a', success: true, action: 'done' }, { code: '1', name: 'b', success: false, action: 'done' }] }, 400, 'body.dispositions.1.code'],
      [{ dispositions: [{ code: '1', name: 'a', success: true, action: 'done' }, { code: '2', name: 'a', success: false, action: 'done' }] }, 400, 'body.dispositions.1.name'],
      [{ dispositions: [{ code: '1', name: 'a', success: true, action: 'sell' }] }, 400, 'body.dispositions.0.action'],
    ];
    for (const [extra, status, field, code] of cases) {
      const body = { ...base('it-crud-bad'), ...extra };
      const res = await req('POST', '/campaigns', JSON.parse(JSON.stringify(body)));
      expect(res.statusCode, `${JSON.stringify(extra)} -> ${res.body}`).toBe(status);
      const { error } = res.json();
      if (code) expect(error.code, JSON.stringify(extra)).toBe(code);
      const named = error.message.startsWith(`${field}:`) || error.message.startsWith(`${field} `) || error.details?.field === field;
      expect(named, `${JSON.stringify(extra)} -> ${error.message}`).toBe(true);
    }
    expect(await app.db.selectFrom('campaigns').select('id').where('name', '=', 'it-crud-bad').executeTakeFirst()).toBeUndefined();
    await create('it-crud-taken');
    const dup = await req('POST', '/campaigns', base('it-crud-taken'));
    expect(dup.statusCode).toBe(409);
    expect(dup.json().error).toMatchObject({ code: 'campaign-exists', details: { field: 'body.name' } });
  });

  it('agentless needs a flow and no queue; a lower abandonCap takes the predictive target down with it', async () => {
    const a = await create('it-crud-agentless', { mode: 'agentless', queue: null, flow: FLOW });
    expect(a).toMatchObject({ mode: 'agentless', queue: null, flow: FLOW });
    const c = await create('it-crud-cap');
    const res = await req('PATCH', `/campaigns/${c.id}`, { abandonCap: 0.02, window: { end: '20:00' }, retryRules: { busy: { delayMinutes: 5, maxAttempts: 2 } } });
    expect(res.statusCode, res.body).toBe(200);
    expect(res.json()).toMatchObject({
      abandonCap: 0.02, pacing: { mode: 'predictive', targetAbandonRate: 0.02 }, window: { start: '08:00', end: '20:00' },
      retryRules: { busy: { delayMinutes: 5, maxAttempts: 2 }, 'no-answer': { delayMinutes: 60, maxAttempts: 3 } },
    });
    await expectField(await req('PATCH', `/campaigns/${c.id}`, { ringSeconds: 10 }), 400, 'body.ringSeconds');
    await expectField(await req('PATCH', `/campaigns/${c.id}`, {}), 400, 'body');
    await expectField(await req('PATCH', `/campaigns/${c.id}`, { queue: 'it-crud-nope' }), 404, 'body.queue', 'queue-not-found');
    expect((await req('GET', `/campaigns/${c.id}`)).json().ringSeconds).toBe(25);
    expect((await req('GET', '/campaigns/999999999')).json().error.code).toBe('campaign-not-found');
    expect((await req('GET', '/campaigns/abc')).statusCode).toBe(400);
  });

  it('lists newest first, paged, filtered by state', async () => {
    const p1 = await req('GET', '/campaigns?limit=2', undefined, supervisor);
    expect(p1.statusCode).toBe(200);
    const page1 = p1.json();
    expect(page1.items).toHaveLength(2);
    expect(page1.nextCursor).not.toBeNull();
    const page2 = (await req('GET', `/campaigns?limit=2&cursor=${page1.nextCursor}`)).json();
    const seen = [...page1.items, ...page2.items].map((c: { id: string }) => Number(c.id));
    expect(new Set(seen).size).toBe(seen.length);
    expect(seen).toEqual([...seen].sort((x, y) => y - x));
    const drafts = (await req('GET', '/campaigns?state=draft&limit=500')).json().items;
    expect(drafts.length).toBeGreaterThan(2);
    expect(drafts.every((c: { state: string }) => c.state === 'draft')).toBe(true);
    expect((await req('GET', '/campaigns?cursor=bogus')).json().error.code).toBe('cursor-invalid');
  });
});

describe('campaign lifecycle', () => {
  it('start checks readiness; pause, resume, stop through the state machine, each audited, notified and published', async () => {
    const c = await create('it-crud-life', { mode: 'predictive' });
    const notReady = await req('POST', `/campaigns/${c.id}/start`, undefined, supervisor);
    expect(notReady.statusCode).toBe(409);
    expect(notReady.json().error).toMatchObject({ code: 'campaign-not-ready', details: { missing: ['abandonPrompt'] } });
    expect((await req('GET', `/campaigns/${c.id}`)).json().state).toBe('draft');

    expect((await req('PATCH', `/campaigns/${c.id}`, { abandonPrompt: PROMPT })).statusCode).toBe(200);
    const started = await req('POST', `/campaigns/${c.id}/start`, undefined, supervisor);
    expect(started.statusCode, started.body).toBe(200);
    expect(started.json()).toMatchObject({ state: 'running', warnings: [expect.stringContaining('has no agents')] });
    await eventually(async () => notices.find((n) => n.campaignId === c.id && n.state === 'running') ?? undefined, 5_000, 'NOTIFY running');
    await eventually(async () => events.find((e) => e.type === 'campaign.state' && e.campaignId === c.id && e.state === 'running') ?? undefined, 5_000, 'campaign.state event');

    const editRunning = await req('PATCH', `/campaigns/${c.id}`, { dailyLimit: 100 });
    expect(editRunning.json().error).toMatchObject({ code: 'campaign-not-editable', details: { state: 'running' } });
    const delRunning = await req('DELETE', `/campaigns/${c.id}`);
    expect(delRunning.json().error).toMatchObject({ code: 'campaign-in-use', details: { state: 'running' } });

    for (const [event, state] of [['pause', 'paused'], ['resume', 'running'], ['pause', 'paused']] as const) {
      const r = await req('POST', `/campaigns/${c.id}/${event}`, undefined, supervisor);
      expect(r.statusCode, r.body).toBe(200);
      expect(r.json().state).toBe(state);
    }
    expect((await req('PATCH', `/campaigns/${c.id}`, { dailyLimit: 100 })).json().dailyLimit).toBe(100);
    const again = await req('POST', `/campaigns/${c.id}/pause`, undefined, supervisor);
    expect(again.statusCode).toBe(409);
    expect(again.json().error).toMatchObject({ code: 'invalid-campaign-transition', details: { state: 'paused', event: 'pause' } });

    // A stop with an attempt still in progress: stopped at once; deleted only once it is over.
    const contact = await app.db.insertInto('campaign_contacts').values({ campaign_id: c.id, number: '+12025550149', tz_source: 'column', time_zones: JSON.stringify([NY]), state: 'dialing', attempts: 1 }).returning('id').executeTakeFirstOrThrow();
    await app.db.insertInto('campaign_attempts').values({ id: `${contact.id}-1`, campaign_id: c.id, contact_id: contact.id, number: '+12025550149', state: 'dialing' }).execute();
    expect((await req('POST', `/campaigns/${c.id}/stop`, undefined, supervisor)).json().state).toBe('stopped');
    await eventually(async () => notices.find((n) => n.campaignId === c.id && n.state === 'stopped' && n.from === 'paused') ?? undefined, 5_000, 'NOTIFY stopped');
    expect((await req('POST', `/campaigns/${c.id}/start`, undefined, supervisor)).json().error.code).toBe('invalid-campaign-transition');
    expect((await req('PATCH', `/campaigns/${c.id}`, { dailyLimit: 5 })).json().error.code).toBe('campaign-not-editable');
    const busy = await req('DELETE', `/campaigns/${c.id}`);
    expect(busy.json().error).toMatchObject({ code: 'campaign-in-use', details: { attemptsInProgress: 1 } });
    await app.db.updateTable('campaign_attempts').set({ state: 'ended', outcome: 'cancelled' }).where('id', '=', `${contact.id}-1`).execute();
    expect((await req('DELETE', `/campaigns/${c.id}`, undefined, supervisor)).statusCode).toBe(403);
    expect((await req('DELETE', `/campaigns/${c.id}`)).statusCode).toBe(204);
    expect((await req('GET', `/campaigns/${c.id}`)).statusCode).toBe(404);

    const audit = await app.db.selectFrom('audit_log').select('action').where('entity', '=', 'campaign').where('entity_id', '=', c.id).orderBy('id').execute();
    expect(audit.map((a) => a.action)).toEqual([
      'campaign.create', 'campaign.update', 'campaign.start', 'campaign.pause', 'campaign.resume', 'campaign.pause', 'campaign.update', 'campaign.stop', 'campaign.delete',
    ]);
    expect(notices.filter((n) => n.campaignId === c.id).map((n) => n.state)).toEqual(['running', 'paused', 'running', 'paused', 'stopped']);
  });

  it('a viewer cannot run a campaign; an unknown one is 404', async () => {
    const c = await create('it-crud-roles', { abandonPrompt: PROMPT });
    const viewer = (await new AuthService(app.db).createToken(CLI_ACTOR, { username: 'it-crud-viewer', name: 't', ttlDays: 1, ensureRole: 'viewer' })).token;
    expect((await req('POST', `/campaigns/${c.id}/start`, undefined, viewer)).statusCode).toBe(403);
    expect((await req('POST', '/campaigns/999999998/start')).json().error.code).toBe('campaign-not-found');
  });
});

describe('dispositions', () => {
  let campaign: Record<string, any>; // eslint-disable-line @typescript-eslint/no-explicit-any
  beforeAll(async () => {
    campaign = await create('it-crud-dispo', { window: { start: '08:00', end: '21:00', days: [1, 2, 3, 4, 5, 6, 7] }, maxAttempts: 3, retryRules: { 'no-answer': { delayMinutes: 30, maxAttempts: 3 } } });
  });
  const dispo = (attemptId: string, body: Record<string, unknown>, token = supervisor) => req('POST', `/campaigns/${campaign.id}/attempts/${attemptId}/disposition`, body, token);
  const contactOf = (id: string) => app.db.selectFrom('campaign_contacts').selectAll().where('id', '=', id).executeTakeFirstOrThrow();
  const attemptOf = (id: string) => app.db.selectFrom('campaign_attempts').selectAll().where('id', '=', id).executeTakeFirstOrThrow();

  it('done: the attempt and the contact get the name, the contact is done, with an audit row', async () => {
    const s = await seedConnected(campaign.id, '+12025550141', agentA);
    const res = await dispo(s.attemptId, { code: '1' });
    expect(res.statusCode, res.body).toBe(200);
    expect(res.json()).toEqual({ attemptId: s.attemptId, campaignId: campaign.id, contactId: s.contactId, code: '1', name: 'sale', success: true, action: 'done', contactState: 'done', nextAttemptAt: null });
    expect((await attemptOf(s.attemptId)).disposition).toBe('sale');
    expect(await contactOf(s.contactId)).toMatchObject({ state: 'done', disposition: 'sale' });
    const again = await dispo(s.attemptId, { code: '2' });
    expect(again.json().error).toMatchObject({ code: 'disposition-already-set', details: { disposition: 'sale' } });
    const audit = await app.db.selectFrom('audit_log').select(['action', 'details']).where('action', '=', 'campaign.disposition').where('entity_id', '=', campaign.id).execute();
    expect(audit.map((a) => (a.details as { attemptId: string }).attemptId)).toContain(s.attemptId);
  });

  it('retry: ready again after the no-answer delay, ahead of fresh contacts; exhausted after maxAttempts', async () => {
    const s = await seedConnected(campaign.id, '+12025550142', agentA);
    const before = Date.now();
    const res = await dispo(s.attemptId, { code: '4' });
    expect(res.json()).toMatchObject({ action: 'retry', contactState: 'ready' });
    const c = await contactOf(s.contactId);
    expect(c).toMatchObject({ state: 'ready', priority: 1, disposition: 'retry-later' });
    expect(c.next_attempt_at.getTime()).toBeGreaterThanOrEqual(before + 30 * 60_000);
    expect(c.next_attempt_at.getTime()).toBeLessThanOrEqual(Date.now() + 30 * 60_000);
    const last = await seedConnected(campaign.id, '+12025550143', agentA, { attempts: 3 });
    expect((await dispo(last.attemptId, { code: '4' })).json()).toMatchObject({ contactState: 'exhausted', nextAttemptAt: null });
    expect((await contactOf(last.contactId)).state).toBe('exhausted');
  });

  it('callback: needs a future time inside the window in the contact\'s zone; set for the same agent', async () => {
    const s = await seedConnected(campaign.id, '+12025550144', agentB);
    await expectField(await dispo(s.attemptId, { code: '3' }), 400, 'body.callbackAt');
    await expectField(await dispo(s.attemptId, { code: '3', callbackAt: new Date(Date.now() - 60_000).toISOString() }), 400, 'body.callbackAt');
    const night = DateTime.now().setZone(NY).plus({ days: 1 }).set({ hour: 23, minute: 0, second: 0, millisecond: 0 });
    await expectField(await dispo(s.attemptId, { code: '3', callbackAt: night.toISO()! }), 400, 'body.callbackAt');
    // Refused: nothing written.
    expect((await attemptOf(s.attemptId)).disposition).toBeNull();
    expect((await contactOf(s.contactId)).state).toBe('done');
    const noon = night.set({ hour: 12 });
    const res = await dispo(s.attemptId, { code: '3', callbackAt: noon.toISO()! });
    expect(res.statusCode, res.body).toBe(200);
    expect(res.json()).toMatchObject({ action: 'callback', contactState: 'callback', nextAttemptAt: noon.toUTC().toISO() });
    const c = await contactOf(s.contactId);
    expect(c).toMatchObject({ state: 'callback', callback_agent_id: agentB, disposition: 'call-back' });
    expect(c.next_attempt_at.getTime()).toBe(noon.toMillis());
  });

  it("dnc: the number goes on the campaign's list (not the site's), the contact is dnc; the number's contact in another campaign is not", async () => {
    const s = await seedConnected(campaign.id, '+12025550145', agentA);
    // The same number still to dial in another campaign (a number is in a campaign once: campaign_contacts_number).
    const elsewhere = (await app.db.insertInto('campaign_contacts').values({
      campaign_id: (await create('it-crud-dispo-dnc-other')).id, number: '+12025550145', time_zones: JSON.stringify([NY]), tz_source: 'column', state: 'ready',
    }).returning('id').executeTakeFirstOrThrow()).id;
    await expectField(await dispo(s.attemptId, { code: '5', callbackAt: new Date(Date.now() + 3_600_000).toISOString() }), 400, 'body.callbackAt');
    expect((await dispo(s.attemptId, { code: '5' })).json()).toMatchObject({ action: 'dnc', contactState: 'dnc' });
    const dnc = await app.db.selectFrom('dnc_numbers').selectAll().where('number', '=', '+12025550145').execute();
    expect(dnc).toEqual([expect.objectContaining({ campaign_id: campaign.id, source: 'disposition', note: `attempt ${s.attemptId}: do-not-call` })]);
    expect((await contactOf(s.contactId)).state).toBe('dnc');
    expect((await contactOf(elsewhere)).state).toBe('ready');
  });

  it('bad codes, unknown or unconnected attempts, another campaign\'s attempt, and roles', async () => {
    const s = await seedConnected(campaign.id, '+12025550146', agentA);
    await expectField(await dispo(s.attemptId, { code: '9' }), 400, 'body.code');
    await expectField(await dispo(s.attemptId, { code: 'x' }), 400, 'body.code');
    await expectField(await dispo(s.attemptId, { code: '1', extra: true }), 400, 'body.extra');
    expect((await dispo('99999999-1', { code: '1' })).json().error.code).toBe('attempt-not-found');
    const other = await create('it-crud-dispo-other');
    expect((await req('POST', `/campaigns/${other.id}/attempts/${s.attemptId}/disposition`, { code: '1' }, supervisor)).json().error.code).toBe('attempt-not-found');
    await app.db.updateTable('campaign_attempts').set({ connected_at: null }).where('id', '=', s.attemptId).execute();
    expect((await dispo(s.attemptId, { code: '1' })).json().error.code).toBe('attempt-not-connected');
    const viewer = (await new AuthService(app.db).createToken(CLI_ACTOR, { username: 'it-crud-viewer2', name: 't', ttlDays: 1, ensureRole: 'viewer' })).token;
    expect((await dispo(s.attemptId, { code: '1' }, viewer)).statusCode).toBe(403);
  });

  it("the handset path takes the agent's latest connected attempt of the last 30 minutes, and only that one", async () => {
    const old = await seedConnected(campaign.id, '+12025550147', agentB, { connectedAt: new Date(Date.now() - 40 * 60_000) });
    const recent = await seedConnected(campaign.id, '+12025550148', agentB, { connectedAt: new Date(Date.now() - 30_000) }); // after the callback test's (60 s ago)
    const actor = { userId: null, tokenId: null, label: 'agent:8472', requestId: null };
    const r = await setDisposition(app.db, { agentId: agentB }, '2', { actor });
    expect(r).toMatchObject({ ok: true, attemptId: recent.attemptId, name: 'not-interested', contactState: 'done' });
    // Keyed again: refused (the last call has one), not written to an older call left without one.
    const older = await seedConnected(campaign.id, '+12025550149', agentB, { connectedAt: new Date(Date.now() - 10 * 60_000) });
    const again = await setDisposition(app.db, { agentId: agentB }, '1', { actor });
    expect(again.ok).toBe(false);
    if (!again.ok) expect(again.error.code).toBe('disposition-already-set');
    expect((await attemptOf(older.attemptId)).disposition).toBeNull();
    expect((await attemptOf(old.attemptId)).disposition).toBeNull();
    // Nothing connected in the last 30 minutes: not found.
    const none = await setDisposition(app.db, { agentId: agentA }, '2', { actor, now: new Date(Date.now() + 2 * 3_600_000) });
    expect(none.ok).toBe(false);
    if (!none.ok) expect(none.error.code).toBe('attempt-not-found');
  });

  it('lists the attempts newest first, paged, with the agent number', async () => {
    const p1 = (await req('GET', `/campaigns/${campaign.id}/attempts?limit=3`, undefined, supervisor)).json();
    expect(p1.items).toHaveLength(3);
    const p2 = (await req('GET', `/campaigns/${campaign.id}/attempts?limit=100&cursor=${p1.nextCursor}`, undefined, supervisor)).json();
    const all = [...p1.items, ...p2.items];
    expect(all.length).toBe(9);
    expect(new Set(all.map((a: { id: string }) => a.id)).size).toBe(9);
    expect(all.find((a: { number: string }) => a.number === '+12025550141')).toMatchObject({ agent: '8471', disposition: 'sale', outcome: 'human', state: 'ended' });
    expect((await req('GET', `/campaigns/${campaign.id}/attempts?outcome=busy`)).json().items).toEqual([]);
  });
});

describe('compliance report', () => {
  it('per day from campaign_days, the 30-day abandon rate exact across a month boundary', async () => {
    const c = await create('it-crud-comply', { abandonCap: 0.02, timeZone: NY });
    const day = (d: string, live: number, ab: number, extra: Record<string, number> = {}) =>
      ({ campaign_id: c.id, day: d, attempts: live * 3, live_answers: live, connects: live - ab, abandons: ab, ...extra });
    await app.db.insertInto('campaign_days').values([
      day('2026-10-06', 100, 50), // 30 days before 11-05: outside its window
      day('2026-10-07', 100, 1), // the first day of 11-05's 30 days
      day('2026-10-31', 200, 4, { outside_window: 0, dnc_blocked: 7, short_rings: 0 }),
      day('2026-11-01', 50, 0, { machines: 12 }),
      day('2026-11-05', 150, 3, { dnc_blocked: 2 }),
    ]).execute();
    const res = await req('GET', `/campaigns/${c.id}/compliance?from=2026-10-31&to=2026-11-05`, undefined, supervisor);
    expect(res.statusCode, res.body).toBe(200);
    const rows = res.json().items as Record<string, unknown>[];
    expect(rows.map((r) => r.day)).toEqual(['2026-10-31', '2026-11-01', '2026-11-02', '2026-11-03', '2026-11-04', '2026-11-05']);
    // 10-31: 10-02..10-31 -> 10-06, 10-07, 10-31: (50 + 1 + 4) / (100 + 100 + 200)
    expect(rows[0]).toMatchObject({ campaign: 'it-crud-comply', attempts: 600, liveAnswers: 200, abandons: 4, abandonRate: 0.02, dncBlocked: 7, abandons30d: 55, liveAnswers30d: 400, abandonRate30d: 55 / 400, withinCap: false });
    expect(rows[1]).toMatchObject({ machines: 12, abandonRate: 0, abandons30d: 55, liveAnswers30d: 450 });
    expect(rows[2]).toMatchObject({ attempts: 0, liveAnswers: 0, abandonRate: null, abandons30d: 55, liveAnswers30d: 450 });
    // 11-05: 10-07..11-05 -> 10-07, 10-31, 11-01, 11-05 (10-06 has left the window)
    expect(rows[5]).toMatchObject({ abandons: 3, abandonRate: 0.02, abandons30d: 8, liveAnswers30d: 500, abandonRate30d: 8 / 500, withinCap: true, outsideWindow: 0, shortRings: 0, dncBlocked: 2 });
    const one = (await req('GET', `/campaigns/${c.id}/compliance?from=2026-11-05&to=2026-11-05`)).json().items;
    expect(one).toHaveLength(1);
    const csv = await req('GET', `/campaigns/${c.id}/compliance?from=2026-11-04&to=2026-11-05&format=csv`);
    expect(csv.headers['content-type']).toContain('text/csv');
    const lines = csv.body.trim().split(/\r?\n/);
    expect(lines[0]).toBe('campaign,day,attempts,liveAnswers,machines,connects,abandons,abandonRate,abandons30d,liveAnswers30d,abandonRate30d,withinCap,outsideWindow,dncBlocked,shortRings');
    expect(lines[2]).toBe('it-crud-comply,2026-11-05,450,150,0,147,3,0.02,8,500,0.016,true,0,2,0');
    await expectField(await req('GET', `/campaigns/${c.id}/compliance?from=2026-11-05&to=2026-11-01`), 400, 'querystring.to');
    await expectField(await req('GET', `/campaigns/${c.id}/compliance?from=2026-02-30`), 400, 'querystring.from');
    await expectField(await req('GET', `/campaigns/${c.id}/compliance?from=2025-01-01&to=2026-11-05`), 400, 'querystring.to');
    expect((await req('GET', '/campaigns/999999997/compliance')).json().error.code).toBe('campaign-not-found');
  });
});

describe('outbound metrics', () => {
  it('per campaign and per agent: attempts, connects, contact rate, conversions, talk per hour, idle, penetration; JSON and CSV', async () => {
    const c = await create('it-crud-metrics');
    const t0 = Date.parse('2026-11-10T15:00:00Z');
    const contacts = await app.db.insertInto('campaign_contacts').values(
      ['+12025550131', '+12025550132', '+12025550133', '+12025550134', '+12025550135'].map((number, i) => ({
        campaign_id: c.id, number, tz_source: 'column' as const, time_zones: JSON.stringify([NY]), attempts: i < 4 ? 1 : 0, state: i < 2 ? ('done' as const) : ('ready' as const),
      })),
    ).returning('id').execute();
    const at = (s: number) => new Date(t0 + s * 1000);
    const attempt = (i: number, o: { outcome: string; agent?: string; conn?: number; end?: number; dispo?: string }) => ({
      id: `${contacts[i]!.id}-1`, campaign_id: c.id, contact_id: contacts[i]!.id, number: `+1202555013${i + 1}`, state: 'ended' as const, outcome: o.outcome as 'human',
      dialed_at: at(o.conn === undefined ? 0 : o.conn - 10), answered_at: o.outcome === 'busy' ? null : at((o.conn ?? 5) - 1),
      connected_at: o.conn === undefined ? null : at(o.conn), ended_at: at(o.end ?? 30), agent_id: o.agent ?? null, disposition: o.dispo ?? null,
    });
    await app.db.insertInto('campaign_attempts').values([
      // agent A: 0-120 talk (sale), idle 60, 180-300 talk (not interested)
      attempt(0, { outcome: 'human', agent: agentA, conn: 20, end: 140, dispo: 'sale' }),
      attempt(1, { outcome: 'human', agent: agentA, conn: 200, end: 320, dispo: 'not-interested' }),
      attempt(2, { outcome: 'abandoned' }),
      attempt(3, { outcome: 'busy' }),
    ]).execute();
    const q = `from=2026-11-10T00:00:00Z&to=2026-11-11T00:00:00Z&tz=UTC&campaign=it-crud-metrics`;
    const res = await req('GET', `/reports/campaigns?${q}`, undefined, supervisor);
    expect(res.statusCode, res.body).toBe(200);
    expect(res.json().items).toEqual([expect.objectContaining({
      campaign: 'it-crud-metrics', from: '2026-11-10T00:00:00+00:00', to: '2026-11-11T00:00:00+00:00',
      attempts: 4, liveAnswers: 3, machines: 0, abandons: 1, connects: 2, contactRatePercent: 50, conversions: 1, conversionRatePercent: 50,
      talkSeconds: 240, avgTalkSeconds: 120, idleSeconds: 60, avgIdleSeconds: 60, agentSeconds: 300, talkMinutesPerHour: 48, contactsPerHour: 24,
      contacts: 5, contactsTried: 4, contactsFinished: 2, penetrationPercent: 80, finishedPercent: 40,
    })]);
    const agents = await req('GET', `/reports/campaigns/agents?${q}`, undefined, supervisor);
    expect(agents.json().items).toEqual([expect.objectContaining({ campaign: 'it-crud-metrics', agent: '8471', name: 'Crud 8471', connects: 2, conversions: 1, talkSeconds: 240, idleSeconds: 60 })]);
    const csv = await req('GET', `/reports/campaigns/agents?${q}`, undefined, supervisor);
    expect(csv.statusCode).toBe(200);
    const csvRes = await app.http.inject({ method: 'GET', url: `/api/v1/reports/campaigns?${q}`, headers: { authorization: `Bearer ${supervisor}`, accept: 'text/csv' } });
    expect(csvRes.headers['content-type']).toContain('text/csv');
    expect(csvRes.body.split(/\r?\n/)[0]).toMatch(/^campaign,from,to,attempts,liveAnswers,/);
    expect(csvRes.body.split(/\r?\n/)[1]).toMatch(/^it-crud-metrics,2026-11-10T00:00:00\+00:00,2026-11-11T00:00:00\+00:00,4,3,0,1,50,2,1,50,240,/);
    expect((await req('GET', '/reports/campaigns?from=2026-11-10&campaign=it-crud-none')).json().error.code).toBe('campaign-not-found');
    await expectField(await req('GET', '/reports/campaigns?from=yesterday'), 400, 'querystring.from');
    await expectField(await req('GET', '/reports/campaigns?from=2026-11-10&tz=Nowhere/Else'), 400, 'querystring.tz');
  });
});
