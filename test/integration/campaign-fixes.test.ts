/**
 * The dialer's side of the campaign fixes of issue #18 against the run's real Postgres: a contact
 * found waiting for an agent after a restart (CampaignReports.rejoined: the plan again with when
 * the wait began, only while the attempt still waits). Names: cfix-*, numbers +1555 80xxxxx.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { App } from '../../src/app.js';
import { startTestApp } from '../support/app.js';
import { zoneAtLocalHour } from '../support/zones.js';
import { createLogger } from '../../src/logger.js';
import { CampaignReports } from '../../src/campaigns/call-reports.js';
import { markAbandoned } from '../../src/campaigns/attempt-repository.js';
import { insertTrunk } from '../../src/trunks/repository.js';
import { insertQueue } from '../../src/acd/admin-repository.js';

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

const quietDialer = { observe: () => undefined, kick: () => undefined, endAttempt: async () => true };

beforeAll(async () => {
  app = await startTestApp();
  trunkId = (await insertTrunk(app.db, { name: `cfix-${run}`, kind: 'ip', host: '127.0.0.1', port: 5098, transport: 'udp', codecs: ['ulaw'], max_channels: 10, enabled: true, username: null, password: null, from_user: null, from_domain: null })).id;
  queueId = (await insertQueue(app.db, { name: queueName, required_skills: '[]', widening: '[]' })).id;
});

afterAll(async () => {
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
