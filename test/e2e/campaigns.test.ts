/**
 * An outbound campaign end to end (docs/campaigns.md): an admin imports a contact list through the
 * API, puts a number on the do-not-call list and starts a progressive campaign; the real dialer
 * (pacing, claims, BullMQ attempt jobs) places the calls through the real Asterisk to a SIPp carrier
 * whose contacts behave as their number's last digit says (test/e2e/sipp/campaign-contacts.xml: 4
 * answers, talks 8 s and hangs up; 2 is busy), and an agent on a SIPp desk phone with auto-answer
 * talks to those who answer. Checked at the carrier (what was dialed, how often) and through the API
 * (attempts, outcomes, the contacts' states, the retry's time, the compliance report); nothing is
 * dialed on the DNC list or outside its window; stop dials nothing more.
 *
 * Numbers used by no other e2e file: carrier 127.0.0.14 (trunk campaign-e2e), contacts +4930888xxx,
 * queue campaign-e2e, agent 124 (PIN 5789: the digits of one call rise, see sipp-dtmf.ts) at desk phone 6351.
 */
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { readFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { createApp, type App } from '../../src/app.js';
import { loadConfig } from '../../src/config.js';
import { createLogger } from '../../src/logger.js';
import { cliToken } from '../support/api.js';
import { apiClient, createScriptedExtension } from '../support/pbx.js';
import { registerPhone, runSipp, sippCall } from '../support/sipp.js';
import { dtmfScenario, type CallerStep } from '../support/sipp-dtmf.js';
import { freePort } from '../support/ports.js';
import { eventually, holdFor } from '../support/wait.js';
import { REPO } from '../support/asterisk.js';
import { zoneAtLocalHour } from '../support/zones.js';

const world = inject('e2e');
const CARRIER_IP = '127.0.0.14';
const TRUNK = 'campaign-e2e';
const QUEUE = 'campaign-e2e';
const AGENT = { number: '124', pin: '5789', phone: '6351' };
const run = Date.now().toString(36).slice(-5);

let app: App;
let admin: ReturnType<typeof apiClient>;
let token = '';
let carrierLog = '';
let carrier: ReturnType<typeof runSipp> | null = null;
let agentPhone: ReturnType<typeof runSipp> | null = null;

/** Numbers dialed at the carrier, in order. */
async function dialed(): Promise<string[]> {
  const log = await readFile(carrierLog, 'utf8').catch(() => '');
  return [...log.matchAll(/^.*dialed (\+?\d+) /gm)].map((m) => m[1]!);
}
const timesDialed = async (n: string) => (await dialed()).filter((d) => d === n || `+${d}` === n || d === n.replace(/^\+49/, '0')).length;


async function upload(campaignId: string, csv: string): Promise<Record<string, unknown>> {
  const res = await fetch(`http://127.0.0.1:${world.daemonEnv['PBX_HTTP_PORT']}/api/v1/campaigns/${campaignId}/imports?fileName=e2e.csv`, {
    method: 'POST', headers: { authorization: `Bearer ${token}`, 'content-type': 'text/csv' }, body: csv,
  });
  expect(res.status, await res.clone().text()).toBe(202);
  return (await res.json()) as Record<string, unknown>;
}

beforeAll(async () => {
  const env = world.daemonEnv;
  app = await createApp(loadConfig(env), createLogger(process.env['PBX_TEST_DAEMON_LOG'] ? 'debug' : 'warn'));
  await app.start();
  token = await cliToken(env, 'admin');
  admin = apiClient(env, token);
  await eventually(async () => ((await fetch(`http://127.0.0.1:${env['PBX_HTTP_PORT']}/health/ready`)).status === 200 ? true : undefined), 30_000, 'ready');
  // The carrier: every contact of the campaign, for the whole file.
  const carrierPort = await freePort(true);
  carrierLog = path.join(tmpdir(), `pbx-e2e-campaigns-carrier-${run}.log`);
  carrier = runSipp(['-sf', path.join(REPO, 'test/e2e/sipp/campaign-contacts.xml'), '-i', CARRIER_IP, '-p', String(carrierPort), '-mp', String(await freePort(true)), '-nostdin', '-trace_logs', '-log_file', carrierLog]);
  const trunk = await admin('POST', '/api/v1/trunks', { name: TRUNK, kind: 'ip', host: CARRIER_IP, port: carrierPort, codecs: ['ulaw'] });
  expect(trunk.status, JSON.stringify(trunk.body)).toBe(201);
  const q = await admin('POST', '/api/v1/queues', { name: QUEUE, strategy: 'longest-idle', ringTimeoutSeconds: 15, wrapUpSeconds: 1, announceSeconds: 0, joinEmpty: true });
  expect(q.status, JSON.stringify(q.body)).toBe(201);
  const a = await admin('POST', '/api/v1/agents', { number: AGENT.number, name: 'Outbound Agent', pin: AGENT.pin, autoAnswer: true });
  expect(a.status, JSON.stringify(a.body)).toBe(201);
  expect((await admin('PUT', `/api/v1/queues/${QUEUE}/members`, { agent: AGENT.number, penalty: 0 })).status).toBeLessThan(300);
  const password = await createScriptedExtension(admin, world.db, { number: AGENT.phone, displayName: 'Outbound Desk' });
  // *91 at the desk phone: agent number (ended by silence), PIN and '#'.
  const steps: CallerStep[] = [{ pause: 800 }, ...[...AGENT.number].map((digit) => ({ digit })), { pause: 3500 }, { pause: 800 }, ...[...`${AGENT.pin}#`].map((digit) => ({ digit }))];
  const login = await sippCall({ scenario: 'uac-long-call', scenarioFile: await dtmfScenario(steps, { waitForBye: true }), dialed: '*91', sipPort: world.sipPort, user: AGENT.phone, password, timeoutS: 60 });
  expect(login.code, login.output).toBe(0);
  // The desk phone answers every call it is offered and stays until the other side hangs up.
  const port = await freePort(true);
  expect((await registerPhone({ sipPort: world.sipPort, ext: AGENT.phone, password, port })).code).toBe(0);
  agentPhone = runSipp(['-sf', path.join(REPO, 'test/e2e/sipp/phone-answer.xml'), '-p', String(port), '-mp', String(await freePort(true)), '-i', '127.0.0.1', '-nostdin', '-trace_logs', '-log_file', path.join(tmpdir(), `pbx-e2e-campaigns-agent-${run}.log`)]);
  await eventually(async () => ((await admin('GET', `/api/v1/agents/${AGENT.number}`)).body.state === 'ready' ? true : undefined), 15_000, 'agent ready');
  const prompt = await admin('POST', '/api/v1/prompts/tts', { name: `campaign-e2e-abandon-${run}`, text: 'This is Example Company calling. Sorry we missed you. To be taken off our list, call 555 0100.', language: 'en' });
  expect(prompt.status, JSON.stringify(prompt.body)).toBe(201);
}, 150_000);

afterAll(async () => {
  carrier?.kill();
  agentPhone?.kill();
  await admin?.('DELETE', `/api/v1/agents/${AGENT.number}`).catch(() => undefined);
  await app?.stop();
});

describe('a progressive campaign', () => {
  it('dials its list through the carrier: the agent talks to who answers, busy is retried by its rule, DNC and out-of-window numbers are never dialed, stop dials nothing more', async () => {
    const created = await admin('POST', '/api/v1/campaigns', {
      name: `e2e-${run}`, mode: 'progressive', queue: QUEUE, trunk: TRUNK, callerId: '+4930999200', callerName: 'Example Co',
      abandonPrompt: `campaign-e2e-abandon-${run}`, defaultCountry: 'DE', timeZone: 'Europe/Berlin', ringSeconds: 15,
      window: { start: '08:00', end: '21:00', days: [1, 2, 3, 4, 5, 6, 7] },
      retryRules: { busy: { delayMinutes: 5, maxAttempts: 2 } },
    });
    expect(created.status, JSON.stringify(created.body)).toBe(201);
    const id = String(created.body.id);
    const open = zoneAtLocalHour(12);
    const night = zoneAtLocalHour(3);
    // 104 and 114 answer and talk, 102 is busy, 124 is on the DNC list, 134 is at night where it lives
    const csv = [
      'number,name,timezone,account',
      `+4930888104,Anna Answer,${open},A-104`,
      `+4930888102,Bert Busy,${open},A-102`,
      `+4930888124,Dora Dnc,${open},A-124`,
      `+4930888134,Nils Night,${night},A-134`,
      `+4930888114,Otto Other,${open},A-114`,
    ].join('\n');
    expect((await admin('POST', '/api/v1/dnc', { number: '+4930888124', note: 'asked not to be called' })).status).toBe(201);
    const imp = await upload(id, csv);
    const done = await eventually(async () => {
      const r = await admin('GET', `/api/v1/campaigns/${id}/imports/${String(imp.id)}`);
      return r.body.state === 'done' ? r.body : undefined;
    }, 20_000, 'import done');
    expect(done).toMatchObject({ rowsRead: 5, accepted: 5, rejected: 0 });

    const started = await admin('POST', `/api/v1/campaigns/${id}/start`);
    expect(started.status, JSON.stringify(started.body)).toBe(200);

    // Both people answered and talked with the agent; the busy number was tried once and waits for its retry.
    const attempts = async () => (await admin('GET', `/api/v1/campaigns/${id}/attempts?limit=100`)).body.items as Record<string, unknown>[];
    const contacts = async () => (await admin('GET', `/api/v1/campaigns/${id}/contacts?limit=100`)).body.items as Record<string, unknown>[];
    const contact = async (n: string) => (await contacts()).find((c) => c.number === n)!;
    await eventually(async () => {
      const states = await Promise.all(['+4930888104', '+4930888114', '+4930888102'].map(async (n) => (await contact(n)).lastOutcome));
      return states.every((x) => x !== null) ? true : undefined;
    }, 90_000, 'both people talked to, the busy number tried');
    expect(await contact('+4930888104')).toMatchObject({ state: 'done', lastOutcome: 'human' });
    expect(await contact('+4930888114')).toMatchObject({ state: 'done', lastOutcome: 'human' });
    const busy = await contact('+4930888102');
    expect(busy).toMatchObject({ state: 'ready', lastOutcome: 'busy', attempts: 1 });
    const busyAttempt = (await attempts()).find((x) => x.number === '+4930888102')!;
    // the retry is due 5 minutes after the busy signal
    const due = Date.parse(String(busy.nextAttemptAt)) - Date.parse(String(busyAttempt.endedAt));
    expect(due).toBeGreaterThanOrEqual(5 * 60_000 - 1000);
    expect(due).toBeLessThanOrEqual(5 * 60_000 + 1000);
    expect(await contact('+4930888124')).toMatchObject({ state: 'dnc' });
    expect(await contact('+4930888134')).toMatchObject({ state: 'ready', attempts: 0 });
    // The agent: connected on both answered calls.
    const talked = (await attempts()).filter((x) => x.outcome === 'human');
    expect(talked).toHaveLength(2);
    for (const t of talked) expect(t.agent).toBe(AGENT.number);

    // At the carrier: each number dialed exactly once; the DNC and night numbers never.
    expect(await timesDialed('+4930888104')).toBe(1);
    expect(await timesDialed('+4930888114')).toBe(1);
    expect(await timesDialed('+4930888102')).toBe(1);
    expect(await timesDialed('+4930888124')).toBe(0);
    expect(await timesDialed('+4930888134')).toBe(0);

    // The retry falls due (made due now, in the database): busy again, then exhausted (maxAttempts 2).
    const db = app.db;
    await db.updateTable('campaign_contacts').set({ next_attempt_at: new Date(Date.now() - 1000) }).where('number', '=', '+4930888102').where('campaign_id', '=', id).execute();
    await eventually(async () => ((await contact('+4930888102')).state === 'exhausted' ? true : undefined), 30_000, 'busy number exhausted');
    expect(await timesDialed('+4930888102')).toBe(2);

    // A disposition for the first call, through the API: a sale.
    const first = talked.find((x) => x.number === '+4930888104')!;
    const disp = await admin('POST', `/api/v1/campaigns/${id}/attempts/${String(first.id)}/disposition`, { code: '1' });
    expect(disp.status, JSON.stringify(disp.body)).toBe(200);

    // Compliance: today's figures.
    const report = await admin('GET', `/api/v1/campaigns/${id}/compliance`);
    expect(report.status, JSON.stringify(report.body)).toBe(200);
    const today = (report.body.items as Record<string, unknown>[]).at(-1)!;
    expect(today).toMatchObject({ attempts: 4, liveAnswers: 2, abandons: 0, outsideWindow: 0, shortRings: 0 });

    // Stop: the night contact made due and callable changes nothing any more.
    expect((await admin('POST', `/api/v1/campaigns/${id}/stop`)).status).toBe(200);
    await db.updateTable('campaign_contacts').set({ time_zones: JSON.stringify([open]), next_attempt_at: new Date(Date.now() - 1000) }).where('number', '=', '+4930888134').where('campaign_id', '=', id).execute();
    await holdFor(3_000, 'a stopped campaign dials nothing within three dialer ticks');
    expect(await timesDialed('+4930888134')).toBe(0);
    expect((await dialed()).length).toBe(4);
  }, 150_000);
});
