/**
 * What outbound campaigns show outside (docs/events.md, docs/metrics.md): a dialer wired as
 * src/app.ts wires it (onAttemptEnded -> campaign.attempt on the daemon's bus; onPacing) places
 * two calls against real Postgres and Redis, Asterisk replaced at the seam (ports.ts
 * AttemptDialer) as in campaign-dialer.test.ts: one contact answers and talks with an agent, one
 * is busy. The event stream gives a supervisor both campaign.attempt events whole and a viewer
 * the same events without the contact's number and name; GET /metrics counts them by campaign
 * and outcome and shows the campaign's contacts by state and its lines in flight.
 */
import { get as httpGet } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import type { App } from '../../src/app.js';
import { AuthService, CLI_ACTOR } from '../../src/auth/service.js';
import { insertAgent, insertQueue } from '../../src/acd/admin-repository.js';
import { AttemptJobs } from '../../src/campaigns/attempt-jobs.js';
import { publishAttemptEnded } from '../../src/campaigns/attempt-events.js';
import { CampaignReports } from '../../src/campaigns/call-reports.js';
import { CampaignDialer } from '../../src/campaigns/dialer.js';
import type { PacingDecision } from '../../src/campaigns/pacing.js';
import type { OriginateRequest } from '../../src/campaigns/ports.js';
import { createLogger } from '../../src/logger.js';
import { insertTrunk } from '../../src/trunks/repository.js';
import { startTestApp } from '../support/app.js';
import { REDIS_URL } from '../support/env.js';
import { eventually } from '../support/wait.js';

const run = Date.now().toString(36);
const SUFFIX = String(Date.now() % 100_000).padStart(5, '0');
const AGENT = `93${SUFFIX}`;
const ANSWERS = `+15558${SUFFIX}1`;
const BUSY = `+15558${SUFFIX}2`;
const CAMPAIGN = `it-obs-${run}`;
const log = createLogger('warn');
let app: App;
let base = '';
const tokens = { viewer: '', supervisor: '' };
let jobs: AttemptJobs;
let dialer: CampaignDialer;
const decisions: PacingDecision[] = [];
const errors: Error[] = [];

/** A fixed-offset zone where it is 12:xx now, inside any window (Etc/GMT signs are inverted). */
function zoneAtNoon(): string {
  let off = 12 - new Date().getUTCHours();
  if (off > 14) off -= 24;
  return off === 0 ? 'Etc/GMT' : `Etc/GMT${off > 0 ? '-' : '+'}${Math.abs(off)}`;
}

/**
 * Server-Sent Events of one GET /api/v1/events, parsed as they arrive; close() ends the connection.
 * Only this file's campaign: integration files run in parallel on one Redis prefix, so another
 * file's campaign.attempt can reach this stream (a full run did: campaign redis-...).
 */
function stream(role: keyof typeof tokens): { events: Record<string, unknown>[]; close: () => void; opened: Promise<void> } {
  const events: Record<string, unknown>[] = [];
  let buffer = '';
  const req = httpGet(`${base}/api/v1/events?types=campaign.attempt`, { headers: { authorization: `Bearer ${tokens[role]}` } });
  const opened = new Promise<void>((resolve, reject) => {
    req.on('error', reject);
    req.on('response', (res) => {
      expect(res.statusCode).toBe(200);
      res.setEncoding('utf8');
      res.on('data', (chunk: string) => {
        buffer += chunk;
        let cut: number;
        while ((cut = buffer.indexOf('\n\n')) >= 0) {
          const data = buffer.slice(0, cut).split('\n').find((l) => l.startsWith('data: '));
          buffer = buffer.slice(cut + 2);
          const event = data ? (JSON.parse(data.slice(6)) as Record<string, unknown>) : null;
          if (event?.['campaign'] === CAMPAIGN) events.push(event);
        }
      });
      resolve();
    });
  });
  return { events, opened, close: () => req.destroy() };
}

beforeAll(async () => {
  app = await startTestApp();
  base = `http://127.0.0.1:${(app.http.server.address() as AddressInfo).port}`;
  const auth = new AuthService(app.db);
  for (const role of ['viewer', 'supervisor'] as const) {
    tokens[role] = (await auth.createToken(CLI_ACTOR, { username: `it-campobs-${role}`, name: 'campaign observability test', ttlDays: 1, ensureRole: role })).token;
  }
  const trunk = await insertTrunk(app.db, { name: `obs-${run}`, kind: 'ip', host: '127.0.0.1', port: 5098, transport: 'udp', codecs: ['ulaw'], max_channels: 10, enabled: true, username: null, password: null, from_user: null, from_domain: null });
  const queue = await insertQueue(app.db, { name: `obs-${run}`, required_skills: '[]', widening: '[]' });
  const agent = await insertAgent(app.db, { number: AGENT, name: 'Observability test agent', pin_hash: 'x' });
  const campaign = await app.db
    .insertInto('campaigns')
    .values({
      name: CAMPAIGN, mode: 'progressive', state: 'running', queue_id: queue.id, trunk_id: trunk.id, caller_id: '+15550100',
      window_start: '08:00', window_end: '21:00', window_days: JSON.stringify([1, 2, 3, 4, 5, 6, 7]),
      retry_rules: JSON.stringify({ busy: { delayMinutes: 10, maxAttempts: 2 } }),
    })
    .returning('id')
    .executeTakeFirstOrThrow();
  await app.db
    .insertInto('campaign_contacts')
    .values([ANSWERS, BUSY].map((number, i) => ({ campaign_id: campaign.id, number, name: i === 0 ? 'Grace Answers' : null, tz_source: 'column' as const, time_zones: JSON.stringify([zoneAtNoon()]) })))
    .execute();

  jobs = new AttemptJobs({ url: REDIS_URL(), prefix: `${inject('redisPrefix')}-obs`, password: null }, log);
  let reports: CampaignReports | null = null;
  const onOriginate = async (req: OriginateRequest): Promise<void> => {
    if (req.number === BUSY) return reports!.notAnswered(req.attemptId, 'busy', { cause: 17, ringMs: 16_000 });
    await reports!.answered(req.attemptId, req.attemptId, null, 16_000);
    await reports!.connected(req.attemptId, agent.id, new Date());
    await reports!.ended(req.attemptId, new Date());
  };
  dialer = new CampaignDialer({
    db: app.db, queue: jobs, log, tickMs: 60_000,
    asterisk: { originate: (req) => onOriginate(req) },
    floor: { agents: async () => ({ ready: 2, busy: [] }) },
    isDoNotCall: async () => false,
    channelExists: async () => false,
    // as src/app.ts wires them
    onAttemptEnded: publishAttemptEnded(app.db, app.events.bus, (err) => errors.push(err)),
    onPacing: (_c, d) => decisions.push(d),
  });
  reports = new CampaignReports(app.db, dialer, log);
  jobs.start((id) => dialer.dial(id));
});

afterAll(async () => {
  await dialer?.stop();
  await jobs?.stop();
  await app?.stop();
});

const sample = (body: string, name: string, labels: string): number | undefined => {
  const line = body.split('\n').find((l) => l.startsWith(`${name}{${labels}} `));
  return line === undefined ? undefined : Number(line.split(' ').pop());
};

describe('campaign observability', () => {
  it('campaign.attempt on the stream (a viewer without the contact), counted in /metrics with the contacts by state', async () => {
    const supervisor = stream('supervisor');
    const viewer = stream('viewer');
    await Promise.all([supervisor.opened, viewer.opened]);
    await eventually(async () => {
      await dialer.tick();
      return supervisor.events.length >= 2 && viewer.events.length >= 2 ? true : undefined;
    }, 20_000, 'two campaign.attempt events on both streams');
    supervisor.close();
    viewer.close();
    expect(errors).toEqual([]);

    const byNumber = new Map(supervisor.events.map((e) => [e['contactNumber'], e]));
    expect(byNumber.get(ANSWERS)).toMatchObject({ type: 'campaign.attempt', campaign: CAMPAIGN, contactName: 'Grace Answers', outcome: 'human', agent: AGENT });
    expect(byNumber.get(BUSY)).toMatchObject({ type: 'campaign.attempt', campaign: CAMPAIGN, contactName: null, outcome: 'busy', agent: null });
    expect(String(byNumber.get(ANSWERS)!['attemptId'])).toMatch(/-1$/);
    // the viewer: the same events, the contact withheld
    expect(viewer.events.map((e) => e['id']).sort()).toEqual(supervisor.events.map((e) => e['id']).sort());
    for (const e of viewer.events) expect(e).toMatchObject({ campaign: CAMPAIGN, contactNumber: null, contactName: null });
    expect(viewer.events.map((e) => e['outcome']).sort()).toEqual(['busy', 'human']);

    expect(decisions.length).toBeGreaterThan(0);
    expect(decisions[0]).toMatchObject({ reason: 'progressive' });

    const res = await fetch(`${base}/metrics`, { headers: { authorization: `Bearer ${tokens.viewer}` } });
    const body = await res.text();
    expect(sample(body, 'pbx_campaign_attempts_total', `campaign="${CAMPAIGN}",outcome="human"`)).toBe(1);
    expect(sample(body, 'pbx_campaign_attempts_total', `campaign="${CAMPAIGN}",outcome="busy"`)).toBe(1);
    // the busy contact waits for its retry (ready), the other is done; nothing in flight
    expect(sample(body, 'pbx_campaign_contacts', `campaign="${CAMPAIGN}",state="done"`)).toBe(1);
    expect(sample(body, 'pbx_campaign_contacts', `campaign="${CAMPAIGN}",state="ready"`)).toBe(1);
    expect(sample(body, 'pbx_campaign_lines_in_flight', `campaign="${CAMPAIGN}"`)).toBe(0);
  });
});
