/**
 * The dialer's side of the campaign fixes of issue #18 against the run's real Postgres (and Redis
 * for the attempt jobs): a contact found waiting for an agent after a restart
 * (CampaignReports.rejoined: the plan again with when the wait began, only while the attempt still
 * waits); "call back at" for the agent who promised it (dialer.ts callbackStep: dialed only when
 * that agent is ready, the agent reserved for it, the answered contact offered to them; after
 * CALLBACK_AGENT_GRACE_MS any agent). The ACD is replaced at its seam (PreviewAgents: an in-memory
 * set of ready agents), Asterisk at AttemptDialer. Names: cfix-*, numbers +1555 80xxxxx.
 */
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import type { App } from '../../src/app.js';
import { startTestApp } from '../support/app.js';
import { REDIS_URL } from '../support/env.js';
import { eventually } from '../support/wait.js';
import { zoneAtLocalHour } from '../support/zones.js';
import { createLogger } from '../../src/logger.js';
import { CampaignReports } from '../../src/campaigns/call-reports.js';
import { AttemptJobs } from '../../src/campaigns/attempt-jobs.js';
import { CampaignDialer } from '../../src/campaigns/dialer.js';
import type { OriginateRequest } from '../../src/campaigns/ports.js';
import type { PreviewAgents } from '../../src/campaigns/preview.js';
import { CALLBACK_AGENT_GRACE_MS, claimContacts, markAbandoned } from '../../src/campaigns/attempt-repository.js';
import { insertTrunk } from '../../src/trunks/repository.js';
import { insertAgent, insertQueue } from '../../src/acd/admin-repository.js';

const run = Date.now().toString(36);
const log = createLogger('warn');
let app: App;
let trunkId = '';
let queueId = '';
const queueName = `cfix-${run}`;
let numberSeq = 0;

async function newCampaign(name: string, extra: Record<string, unknown> = {}) {
  return app.db
    .insertInto('campaigns')
    .values({
      name: `cfix-${name}-${run}`, mode: 'progressive', state: 'running', queue_id: queueId, trunk_id: trunkId, caller_id: '+15550100',
      window_start: '08:00', window_end: '21:00', window_days: JSON.stringify([1, 2, 3, 4, 5, 6, 7]), retry_rules: JSON.stringify({}), ...extra,
    })
    .returningAll()
    .executeTakeFirstOrThrow();
}

/** A contact of the campaign and its attempt in `state` (answered: at `answeredAt`, no outcome yet). */
async function seedAttempt(campaignId: string, state: 'answered' | 'connected' | 'ended', answeredAt: Date) {
  numberSeq += 1;
  const number = `+1555${8_000_000 + numberSeq}`; // campaigns are this run's own
  const contact = await app.db.insertInto('campaign_contacts').values({
    campaign_id: campaignId, number, name: 'Rita Rejoin', tz_source: 'column', time_zones: JSON.stringify([zoneAtLocalHour(12)]), state: 'dialing', attempts: 1,
  }).returning('id').executeTakeFirstOrThrow();
  const id = `${contact.id}-1`;
  await app.db.insertInto('campaign_attempts').values({
    id, campaign_id: campaignId, contact_id: contact.id, number, state, dialed_at: new Date(answeredAt.getTime() - 5_000), answered_at: answeredAt,
    ...(state === 'answered' ? {} : { outcome: 'human' as const }),
  }).execute();
  return { id, contactId: contact.id, number };
}

const dialers: { dialer: CampaignDialer; jobs: AttemptJobs }[] = [];
const quietDialer = { observe: () => undefined, kick: () => undefined, endAttempt: async () => true };

beforeAll(async () => {
  app = await startTestApp();
  trunkId = (await insertTrunk(app.db, { name: `cfix-${run}`, kind: 'ip', host: '127.0.0.1', port: 5098, transport: 'udp', codecs: ['ulaw'], max_channels: 10, enabled: true, username: null, password: null, from_user: null, from_domain: null })).id;
  queueId = (await insertQueue(app.db, { name: queueName, required_skills: '[]', widening: '[]' })).id;
});

afterAll(async () => {
  for (const d of dialers) {
    await d.dialer.stop();
    await d.jobs.stop();
  }
  await app?.stop();
});

describe('a contact found waiting after a restart (rejoined)', () => {
  it('still waiting: the connect plan again, since the answer; once abandoned, connected or over: hang up', async () => {
    const c = await newCampaign('rejoin', { connect_seconds: 1.5, abandon_prompt: 'cfix-sorry' });
    const reports = new CampaignReports(app.db, quietDialer, log);
    const answeredAt = new Date(Date.now() - 7_000);
    const waiting = await seedAttempt(c.id, 'answered', answeredAt);
    const r = await reports.rejoined(waiting.id);
    expect(r.since?.getTime()).toBe(answeredAt.getTime());
    expect(r.plan).toEqual({
      kind: 'connect', queue: queueName, connectMs: 1500, abandonPrompt: 'cfix-sorry',
      contact: { contactId: waiting.contactId, campaign: c.name, number: waiting.number, name: 'Rita Rejoin', data: {} },
    });
    // The runner abandons it (past its deadline): counted once; a second restart then hangs up.
    expect(await markAbandoned(app.db, c, waiting.id, new Date())).toBe(true);
    expect((await reports.rejoined(waiting.id)).plan).toEqual({ kind: 'hangup' });
    const day = await app.db.selectFrom('campaign_days').select('abandons').where('campaign_id', '=', c.id).executeTakeFirstOrThrow();
    expect(day.abandons).toBe(1);
    for (const state of ['connected', 'ended'] as const) {
      const a = await seedAttempt(c.id, state, answeredAt);
      expect((await reports.rejoined(a.id)).plan).toEqual({ kind: 'hangup' });
    }
    expect((await reports.rejoined('999999999-1')).plan).toEqual({ kind: 'hangup' });
  });
});

describe('"call back at" goes to the agent who promised it', () => {
  /** The fake ACD: who is ready, who is reserved for which attempt, and every release. */
  const ready = new Set<string>();
  const reserved = new Map<string, string>();
  const released: string[] = [];
  const acd: PreviewAgents = {
    ready: async () => [...ready].map((id) => ({ id, number: `n${id}`, extension: `e${id}` })),
    reserve: async (agentId, attemptId) => {
      if (!ready.delete(agentId)) return false;
      reserved.set(agentId, attemptId);
      return true;
    },
    release: async (agentId, attemptId) => {
      released.push(`${agentId} ${attemptId}`);
      if (reserved.get(agentId) === attemptId) reserved.delete(agentId);
    },
  };
  const placed: OriginateRequest[] = [];
  /** Ready agents as the pacing sees them (plain lines). */
  let readyForPacing = 0;

  it('dialed only once its agent is ready, with the agent reserved for it and offered the answered contact; other contacts go on; past the grace anyone takes it', async () => {
    const [a, b] = (await Promise.all(['1', '2'].map(async (n) => (await insertAgent(app.db, { number: `96${String(Date.now() % 100_000).padStart(5, '0')}${n}`, name: `Callback ${n}`, pin_hash: 'x' })).id))) as [string, string];
    const c = await newCampaign('callback');
    const jobs = new AttemptJobs({ url: REDIS_URL(), prefix: `${inject('redisPrefix')}-cfix`, password: null }, log);
    const dialer = new CampaignDialer({
      db: app.db, queue: jobs, log, tickMs: 60_000,
      asterisk: { originate: async (req) => void placed.push(req) },
      floor: { agents: async () => ({ ready: readyForPacing, busy: [] }) },
      isDoNotCall: async () => false,
      channelExists: async () => null,
      preview: { agents: acd },
    });
    jobs.start((id) => dialer.dial(id));
    dialers.push({ dialer, jobs });
    const reports = new CampaignReports(app.db, dialer, log);
    const contactOf = (number: string) => app.db.selectFrom('campaign_contacts').selectAll().where('campaign_id', '=', c.id).where('number', '=', number).executeTakeFirstOrThrow();
    const attemptsOf = (contactId: string) => app.db.selectFrom('campaign_attempts').selectAll().where('contact_id', '=', contactId).execute();
    const add = async (number: string, o: { agent?: string; dueMs?: number } = {}) => {
      await app.db.insertInto('campaign_contacts').values({
        campaign_id: c.id, number, tz_source: 'column', time_zones: JSON.stringify([zoneAtLocalHour(12)]), priority: 1,
        ...(o.agent ? { state: 'callback' as const, callback_agent_id: o.agent } : {}),
        next_attempt_at: new Date(Date.now() + (o.dueMs ?? -60_000)),
      }).execute();
      return contactOf(number);
    };
    const forA = await add('+15558000101', { agent: a });
    const plain = await add('+15558000102');
    const lateForB = await add('+15558000103', { agent: b, dueMs: -CALLBACK_AGENT_GRACE_MS - 60_000 });
    const laterForA = await add('+15558000104', { agent: a, dueMs: 3_600_000 });

    // A is not ready; one plain line: the plain contact and B's callback past its grace are dialed
    // (by anyone: no agent on the attempt), never A's callback.
    readyForPacing = 2;
    await dialer.tick();
    readyForPacing = 0;
    await eventually(async () => (placed.length === 2 ? true : undefined), 10_000, 'two plain lines dialed');
    expect(placed.map((p) => p.number).sort()).toEqual(['+15558000102', '+15558000103']);
    expect((await attemptsOf(plain.id))[0]?.agent_id).toBeNull();
    expect((await attemptsOf(lateForB.id))[0]?.agent_id).toBeNull();
    expect(await attemptsOf(forA.id)).toEqual([]);
    expect(reserved.size).toBe(0);

    // A ready: A's due callback is dialed for A (reserved for it); the one due later waits.
    ready.add(a);
    await dialer.tick();
    await eventually(async () => (placed.length === 3 ? true : undefined), 10_000, "A's callback dialed");
    expect(placed[2]?.number).toBe('+15558000101');
    const [cb] = await attemptsOf(forA.id);
    expect(cb).toMatchObject({ agent_id: a, state: 'dialing' });
    expect(reserved.get(a)).toBe(cb!.id);
    expect(await attemptsOf(laterForA.id)).toEqual([]);

    // Preview: an agent's own due callback is offered to them before other contacts, and another
    // agent's (within its grace) to nobody else.
    const pv = await newCampaign('callback-preview', { mode: 'preview' });
    const pvAdd = async (number: string, agent?: string) => app.db.insertInto('campaign_contacts').values({
      campaign_id: pv.id, number, tz_source: 'column', time_zones: JSON.stringify([zoneAtLocalHour(12)]), priority: agent ? 1 : 5,
      ...(agent ? { state: 'callback' as const, callback_agent_id: agent } : {}), next_attempt_at: new Date(Date.now() - 60_000),
    }).returning('id').executeTakeFirstOrThrow();
    await pvAdd('+15558000201');
    const pvForA = await pvAdd('+15558000202', a);
    const toA = await claimContacts(app.db, pv, { lines: 1, inFlightSeen: 0, offerTo: a }, new Date());
    expect(toA.map((x) => x.contactId)).toEqual([pvForA.id]); // before a contact of a higher priority
    await app.db.deleteFrom('campaign_attempts').where('id', '=', toA[0]!.id).execute();
    await app.db.updateTable('campaign_contacts').set({ state: 'callback' }).where('id', '=', pvForA.id).execute();
    const toB = await claimContacts(app.db, pv, { lines: 5, inFlightSeen: 0, offerTo: b }, new Date());
    expect(toB.map((x) => x.number)).toEqual(['+15558000201']);

    // Answered: offered to A first, within the usual deadline (not preview's ring time).
    const plan = await reports.answered(cb!.id, cb!.id, null, 4000);
    expect(plan).toMatchObject({ kind: 'connect', reservedFor: a, connectMs: 2000 });
    expect(plan).not.toHaveProperty('ringsAgent');
    // A never took it (hung up while waiting): abandoned, and A is let go.
    await reports.ended(cb!.id, new Date());
    expect(released).toContain(`${a} ${cb!.id}`);
    expect((await attemptsOf(forA.id))[0]).toMatchObject({ state: 'ended', outcome: 'abandoned' });
  }, 30_000);
});
