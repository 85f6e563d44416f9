/**
 * Preview mode against real Postgres and Redis (docs/campaigns.md#preview-mode): two dialers (two
 * daemons) offer contacts to ready agents, one contact to one agent at a time and no contact
 * twice; nothing is dialed before the agent accepts; accept dials it (the job, the seam's
 * originate) and the answered contact goes to that agent; skip and expiry put the contact back
 * behind fresh ones and let the agent go; the API's GET / accept / skip with their 409s. The ACD
 * is replaced at its seam (PreviewAgents: an in-memory set of ready agents), Asterisk at
 * AttemptDialer; the real handset path is test/e2e/campaign-preview.test.ts.
 */
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import type { App } from '../../src/app.js';
import { AuthService, CLI_ACTOR } from '../../src/auth/service.js';
import { startTestApp } from '../support/app.js';
import { REDIS_URL } from '../support/env.js';
import { eventually } from '../support/wait.js';
import { zoneAtLocalHour } from '../support/zones.js';
import { createLogger } from '../../src/logger.js';
import { AttemptJobs } from '../../src/campaigns/attempt-jobs.js';
import { CampaignDialer } from '../../src/campaigns/dialer.js';
import { CampaignReports } from '../../src/campaigns/call-reports.js';
import type { OriginateRequest } from '../../src/campaigns/ports.js';
import type { PreviewAgents, PreviewOffer } from '../../src/campaigns/preview.js';
import type { EventInput } from '../../src/events/model.js';
import { insertTrunk } from '../../src/trunks/repository.js';
import { insertAgent, insertQueue } from '../../src/acd/admin-repository.js';

const run = Date.now().toString(36);
const log = createLogger('warn');
let app: App;
let supervisor = '';
let trunkId = '';
let queueId = '';
const agents: { id: string; number: string }[] = [];
/** The fake ACD: who is ready, who is reserved for which attempt, and every release. */
const ready = new Set<string>();
const reserved = new Map<string, string>();
const released: { agentId: string; attemptId: string; missed: boolean }[] = [];
const rung: string[] = [];
const hungUp: string[] = [];
const published: EventInput[] = [];
const placed: OriginateRequest[] = [];
const dialers: { dialer: CampaignDialer; jobs: AttemptJobs }[] = [];
const campaigns: string[] = [];

const acd: PreviewAgents = {
  ready: async () => agents.filter((a) => ready.has(a.id)).map((a) => ({ ...a, extension: `9${a.number}` })),
  reserve: async (agentId, attemptId) => {
    if (!ready.delete(agentId)) return false;
    reserved.set(agentId, attemptId);
    return true;
  },
  release: async (agentId, attemptId, missed) => {
    released.push({ agentId, attemptId, missed });
    if (reserved.get(agentId) !== attemptId) return;
    reserved.delete(agentId);
    ready.add(agentId);
  },
};

function newDialer(): { dialer: CampaignDialer; reports: CampaignReports } {
  const jobs = new AttemptJobs({ url: REDIS_URL(), prefix: `${inject('redisPrefix')}-pv`, password: null }, log);
  const dialer = new CampaignDialer({
    db: app.db, queue: jobs, log, tickMs: 60_000,
    asterisk: { originate: async (req) => void placed.push(req) },
    floor: { agents: async () => ({ ready: 0, busy: [] }) },
    isDoNotCall: async () => false,
    channelExists: async () => false,
    preview: {
      agents: acd,
      events: { publish: (e) => void published.push(e) },
      handset: { ring: async (o: PreviewOffer) => void rung.push(o.attemptId), hangup: async (id) => void hungUp.push(id) },
    },
  });
  jobs.start((id) => dialer.dial(id));
  dialers.push({ dialer, jobs });
  return { dialer, reports: new CampaignReports(app.db, dialer, log) };
}

async function newCampaign(name: string, extra: Record<string, unknown> = {}): Promise<string> {
  const c = await app.db
    .insertInto('campaigns')
    .values({
      name: `pv-${name}-${run}`, mode: 'preview', state: 'running', queue_id: queueId, trunk_id: trunkId, caller_id: '+15550100',
      window_start: '08:00', window_end: '21:00', window_days: JSON.stringify([1, 2, 3, 4, 5, 6, 7]), retry_rules: JSON.stringify({}), ...extra,
    })
    .returning('id')
    .executeTakeFirstOrThrow();
  campaigns.push(c.id);
  return c.id;
}

let seq = 0;
async function addContacts(campaignId: string, n: number): Promise<string[]> {
  const numbers = Array.from({ length: n }, () => `+1555${String(8_100_000 + (seq += 1))}`);
  await app.db
    .insertInto('campaign_contacts')
    .values(numbers.map((number, i) => ({ campaign_id: campaignId, number, name: `Contact ${i + 1}`, tz_source: 'column' as const, time_zones: JSON.stringify([zoneAtLocalHour(12)]) })))
    .execute();
  return numbers;
}

const offersOf = (campaignId: string) => app.db.selectFrom('campaign_attempts').selectAll().where('campaign_id', '=', campaignId).where('state', '=', 'offered').orderBy('id').execute();
const attempt = (id: string) => app.db.selectFrom('campaign_attempts').selectAll().where('id', '=', id).executeTakeFirstOrThrow();
const contact = (id: string) => app.db.selectFrom('campaign_contacts').selectAll().where('id', '=', id).executeTakeFirstOrThrow();
const api = (method: 'GET' | 'POST', url: string, payload?: object) =>
  app.http.inject({ method, url: `/api/v1${url}`, headers: { authorization: `Bearer ${supervisor}` }, ...(payload ? { payload } : {}) });

beforeAll(async () => {
  app = await startTestApp();
  supervisor = (await new AuthService(app.db).createToken(CLI_ACTOR, { username: `pv-sup-${run}`, name: 't', ttlDays: 1, ensureRole: 'supervisor' })).token;
  trunkId = (await insertTrunk(app.db, { name: `pv-${run}`, kind: 'ip', host: '127.0.0.1', port: 5098, transport: 'udp', codecs: ['ulaw'], max_channels: 10, enabled: true, username: null, password: null, from_user: null, from_domain: null })).id;
  queueId = (await insertQueue(app.db, { name: `pv-${run}`, required_skills: '[]', widening: '[]' })).id;
  for (let i = 0; i < 3; i += 1) {
    const number = `96${String((Date.now() + i) % 100_000).padStart(5, '0')}`;
    agents.push({ id: (await insertAgent(app.db, { number, name: `Preview ${i}`, pin_hash: 'x' })).id, number });
  }
});

afterAll(async () => {
  for (const d of dialers) {
    await d.dialer.stop();
    await d.jobs.stop();
  }
  await app?.stop();
});

describe('preview mode', () => {
  it('offers one contact to each ready agent, never one twice, and dials nothing before an accept', async () => {
    const a = newDialer();
    const b = newDialer();
    const id = await newCampaign('offers');
    const numbers = await addContacts(id, 5);
    for (const g of agents) ready.add(g.id);
    await Promise.all([a.dialer.tick(), b.dialer.tick()]);
    await Promise.all([a.dialer.tick(), b.dialer.tick()]);
    const offers = await offersOf(id);
    expect(offers).toHaveLength(3);
    expect(new Set(offers.map((o) => o.agent_id))).toEqual(new Set(agents.map((g) => g.id)));
    expect(new Set(offers.map((o) => o.contact_id)).size).toBe(3);
    expect(placed.filter((p) => numbers.includes(p.number))).toEqual([]);
    expect(offers.map((o) => o.id).every((o) => rung.includes(o))).toBe(true);
    const events = published.filter((e) => e.type === 'campaign.preview' && offers.some((o) => o.id === e.attemptId));
    expect(events.map((e) => e.type === 'campaign.preview' && e.state)).toEqual(['offered', 'offered', 'offered']);
    // the contacts offered are the list's first three, each 'dialing' (claimed), the rest untouched
    const claimed = await app.db.selectFrom('campaign_contacts').select(['number', 'state']).where('campaign_id', '=', id).orderBy('id').execute();
    expect(claimed.map((c) => c.state)).toEqual(['dialing', 'dialing', 'dialing', 'ready', 'ready']);

    // GET the agent's offer; accept it: queued, dialed by its job, and the answered contact goes to that agent
    const [g0, g1] = agents;
    const got = await api('GET', `/agents/${g0!.number}/preview`);
    expect(got.statusCode, got.body).toBe(200);
    const offer = got.json();
    expect(offer).toMatchObject({ agent: g0!.number, campaignId: id, name: expect.stringMatching(/^Contact [1-3]$/) });
    const wrong = await api('POST', `/agents/${g0!.number}/preview/accept`, { attemptId: offers.find((o) => o.agent_id === g1!.id)!.id });
    expect(wrong.statusCode).toBe(409);
    expect(wrong.json().error.code).toBe('preview-offer-changed');
    const accepted = await api('POST', `/agents/${g0!.number}/preview/accept`, { attemptId: offer.attemptId });
    expect(accepted.statusCode, accepted.body).toBe(200);
    const again = await api('POST', `/agents/${g0!.number}/preview/accept`, {});
    expect(again.statusCode).toBe(409);
    expect(again.json().error.code).toBe('no-preview-offer');
    expect((await api('GET', `/agents/${g0!.number}/preview`)).json().error.code).toBe('no-preview-offer');
    // the API's app queued the job on its own queue: run the dial here as its worker would
    expect((await attempt(offer.attemptId)).state).toBe('queued');
    await a.dialer.dial(offer.attemptId);
    expect(placed.filter((p) => p.attemptId === offer.attemptId).map((p) => p.number)).toEqual([offer.number]);
    const plan = await a.reports.answered(offer.attemptId, offer.attemptId, null, 4_000);
    expect(plan).toMatchObject({ kind: 'connect', reservedFor: g0!.id });
    await a.reports.connected(offer.attemptId, g0!.id, new Date());
    await a.reports.ended(offer.attemptId, new Date());
    expect(released.filter((r) => r.attemptId === offer.attemptId)).toEqual([]); // connected: the queue call settles the agent
    expect(await contact((await attempt(offer.attemptId)).contact_id)).toMatchObject({ state: 'done' });

    // skip (the dialer's answer, as the handset gives it): ended skipped, not a try, behind fresh contacts; the agent is let go
    const skipped = offers.find((o) => o.agent_id === g1!.id)!;
    await a.dialer.preview!.answer(g1!.id, 'skip', skipped.id);
    expect(await attempt(skipped.id)).toMatchObject({ state: 'ended', outcome: 'skipped', dialed_at: null });
    expect(await contact(skipped.contact_id)).toMatchObject({ state: 'ready', priority: -1 });
    expect(released).toContainEqual({ agentId: g1!.id, attemptId: skipped.id, missed: false });
    expect(hungUp).toContain(skipped.id);
    // the next offer to that agent is a fresh contact (the 4th), not the skipped one
    await a.dialer.tick();
    const next = (await offersOf(id)).find((o) => o.agent_id === g1!.id)!;
    expect(next.number).toBe(numbers[3]);
    expect(placed.some((p) => p.number === skipped.number)).toBe(false);
  });

  it('an accepted contact not answered lets the agent go; an offer left unanswered expires', async () => {
    const d = newDialer();
    ready.clear();
    reserved.clear();
    const id = await newCampaign('expire', { preview_seconds: 5 });
    await addContacts(id, 2);
    const g = agents[2]!;
    await d.dialer.preview!.answer(g.id, 'skip').catch(() => undefined); // its offer from the first test, if any
    await app.db.updateTable('campaigns').set({ state: 'stopped' }).where('id', '=', campaigns[0]!).execute();
    ready.clear();
    ready.add(g.id);
    await d.dialer.tick();
    const [first] = await offersOf(id);
    expect(first?.agent_id).toBe(g.id);
    await d.dialer.preview!.answer(g.id, 'accept', first!.id);
    await eventually(async () => placed.find((p) => p.attemptId === first!.id), 10_000);
    await d.reports.notAnswered(first!.id, 'busy', { cause: 17, ringMs: 3_000 });
    expect(released).toContainEqual({ agentId: g.id, attemptId: first!.id, missed: false });
    expect(ready.has(g.id)).toBe(true);
    // the next offer, never answered: expired after preview_seconds (5 s), a missed offer
    await d.dialer.tick();
    const [second] = await offersOf(id);
    expect(second).toBeDefined();
    const expired = await eventually(async () => {
      const row = await attempt(second!.id);
      return row.state === 'ended' ? row : undefined;
    }, 15_000);
    expect(expired.outcome).toBe('expired');
    expect(expired.ended_at!.getTime() - expired.created_at.getTime()).toBeGreaterThanOrEqual(5_000);
    expect(released).toContainEqual({ agentId: g.id, attemptId: second!.id, missed: true });
    expect(published.some((e) => e.type === 'campaign.preview' && e.attemptId === second!.id && e.state === 'expired')).toBe(true);
    // an offer no daemon watches any more (its daemon died) is expired by any daemon's reconciliation
    reserved.clear();
    ready.clear();
    ready.add(g.id);
    await d.dialer.tick();
    const [third] = await offersOf(id);
    const other = newDialer();
    await other.dialer.reconcile(new Date(Date.now() + 60_000));
    expect((await attempt(third!.id)).state).toBe('offered'); // within previewSeconds + the grace
    await other.dialer.reconcile(new Date(Date.now() + 70_000));
    expect(await attempt(third!.id)).toMatchObject({ state: 'ended', outcome: 'expired' });
  });
});
