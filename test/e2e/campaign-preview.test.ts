/**
 * Preview mode end to end (docs/campaigns.md#preview-mode): a preview campaign with one contact and
 * one agent logged in at a SIPp desk phone whose audio is the test's own RTP socket (rtp.ts). The
 * real dialer offers the contact to the agent (campaign.preview on the event stream, the API's
 * GET), and rings the agent's phone with the contact's name as the caller; the phone hears the
 * name spoken (speech energy on its RTP stream) while the contact is not dialed; the agent keys 1
 * (RFC 4733); the contact is dialed through the carrier, answers, and is connected to that agent.
 *
 * Numbers used by no other e2e file: carrier 127.0.0.17 (trunk preview-e2e), contact +4930666204
 * (campaign-contacts.xml: 4 answers and hangs up after 8 s), queue preview-e2e, agent 03 (PIN 4579:
 * the digits of one call rise, see sipp-dtmf.ts) at desk phone 6371.
 */
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { readFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { createApp, type App } from '../../src/app.js';
import { loadConfig } from '../../src/config.js';
import { createLogger } from '../../src/logger.js';
import type { PbxEvent } from '../../src/events/model.js';
import { cliToken } from '../support/api.js';
import { apiClient, createScriptedExtension } from '../support/pbx.js';
import { registerPhone, runSipp, sippCall } from '../support/sipp.js';
import { dtmfScenario, type CallerStep } from '../support/sipp-dtmf.js';
import { freePort } from '../support/ports.js';
import { RtpPhone, remoteMedia } from '../support/rtp.js';
import { eventually } from '../support/wait.js';
import { REPO } from '../support/asterisk.js';
import { zoneAtLocalHour } from '../support/zones.js';
import { campaignViews, startContactsCarrier, type ContactsCarrier } from '../support/campaign-e2e.js';

const world = inject('e2e');
const CARRIER_IP = '127.0.0.17';
const TRUNK = 'preview-e2e';
const QUEUE = 'preview-e2e';
const AGENT = { number: '03', pin: '4579', phone: '6371' };
const CONTACT = '+4930666204';
const run = Date.now().toString(36).slice(-5);

let app: App;
let admin: ReturnType<typeof apiClient>;
let phoneLog = '';
let carrier: ContactsCarrier | null = null;
let agentPhone: ReturnType<typeof runSipp> | null = null;
let rtp: RtpPhone | null = null;
const events: PbxEvent[] = [];

const timesDialed = (): Promise<number> => carrier!.timesDialed(CONTACT);

/** RMS of 20-ms frames of what the phone received in [from, to]: how many frames carry sound, and the loudest. */
function speech(phone: RtpPhone, from: number, to: number): { frames: number; loud: number; peakRms: number } {
  const audio = phone.audio(from, to);
  let loud = 0;
  let peakRms = 0;
  for (let i = 0; i + 160 <= audio.length; i += 160) {
    let sum = 0;
    for (let j = i; j < i + 160; j += 1) sum += audio[j]! * audio[j]!;
    const rms = Math.sqrt(sum / 160);
    if (rms > 300) loud += 1;
    peakRms = Math.max(peakRms, rms);
  }
  return { frames: Math.floor(audio.length / 160), loud, peakRms: Math.round(peakRms) };
}

beforeAll(async () => {
  const env = world.daemonEnv;
  app = await createApp(loadConfig(env), createLogger(process.env['PBX_TEST_DAEMON_LOG'] ? 'debug' : 'warn'));
  await app.start();
  app.events.bus.subscribe({ deliver: (e) => void events.push(e) }, null);
  admin = apiClient(env, await cliToken(env, 'admin'));
  await eventually(async () => ((await fetch(`http://127.0.0.1:${env['PBX_HTTP_PORT']}/health/ready`)).status === 200 ? true : undefined), 30_000, 'ready');
  carrier = await startContactsCarrier(CARRIER_IP, 'preview');
  expect((await admin('POST', '/api/v1/trunks', { name: TRUNK, kind: 'ip', host: CARRIER_IP, port: carrier.port, codecs: ['ulaw'] })).status).toBe(201);
  const q = await admin('POST', '/api/v1/queues', { name: QUEUE, strategy: 'longest-idle', ringTimeoutSeconds: 15, wrapUpSeconds: 1, announceSeconds: 0, joinEmpty: true });
  expect(q.status, JSON.stringify(q.body)).toBe(201);
  const a = await admin('POST', '/api/v1/agents', { number: AGENT.number, name: 'Preview Agent', pin: AGENT.pin, autoAnswer: true });
  expect(a.status, JSON.stringify(a.body)).toBe(201);
  expect((await admin('PUT', `/api/v1/queues/${QUEUE}/members`, { agent: AGENT.number, penalty: 0 })).status).toBeLessThan(300);
  const password = await createScriptedExtension(admin, world.db, { number: AGENT.phone, displayName: 'Preview Desk' });
  const steps: CallerStep[] = [{ pause: 800 }, ...[...AGENT.number].map((digit) => ({ digit })), { pause: 3500 }, { pause: 800 }, ...[...`${AGENT.pin}#`].map((digit) => ({ digit }))];
  const login = await sippCall({ scenario: 'uac-long-call', scenarioFile: await dtmfScenario(steps, { waitForBye: true }), dialed: '*91', sipPort: world.sipPort, user: AGENT.phone, password, timeoutS: 60 });
  expect(login.code, login.output).toBe(0);
  // The desk phone answers every call (the offer call, then the contact) with its audio on our RTP socket.
  rtp = await RtpPhone.open(700);
  const port = await freePort(true);
  expect((await registerPhone({ sipPort: world.sipPort, ext: AGENT.phone, password, port })).code).toBe(0);
  phoneLog = path.join(tmpdir(), `pbx-e2e-preview-agent-${run}.log`);
  agentPhone = runSipp(['-sf', path.join(REPO, 'test/e2e/sipp/rtp-phone.xml'), '-p', String(port), '-mp', String(await freePort(true)), '-key', 'rtpport', String(rtp.port), '-i', '127.0.0.1', '-nostdin', '-trace_logs', '-log_file', phoneLog]);
  await eventually(async () => ((await admin('GET', `/api/v1/agents/${AGENT.number}`)).body.state === 'ready' ? true : undefined), 15_000, 'agent ready');
}, 150_000);

afterAll(async () => {
  carrier?.kill();
  agentPhone?.kill();
  rtp?.close();
  await admin?.('DELETE', `/api/v1/agents/${AGENT.number}`).catch(() => undefined);
  await app?.stop();
});

describe('a preview campaign', () => {
  it('offers the contact to the agent (event, API, the name spoken on the phone), dials it only when the agent keys 1, and connects it to that agent', async () => {
    const created = await admin('POST', '/api/v1/campaigns', {
      name: `preview-${run}`, mode: 'preview', queue: QUEUE, trunk: TRUNK, callerId: '+4930999300', defaultCountry: 'DE', timeZone: 'Europe/Berlin',
      ringSeconds: 15, previewSeconds: 60, window: { start: '08:00', end: '21:00', days: [1, 2, 3, 4, 5, 6, 7] },
    });
    expect(created.status, JSON.stringify(created.body)).toBe(201);
    const id = String(created.body.id);
    await app.db.insertInto('campaign_contacts').values({ campaign_id: id, number: CONTACT, name: 'Anna Preview', tz_source: 'column', time_zones: JSON.stringify([zoneAtLocalHour(12)]), data: JSON.stringify({ account: 'A-204' }) }).execute();
    expect((await admin('POST', `/api/v1/campaigns/${id}/start`)).status).toBe(200);

    // The offer: on the event stream and through the API; the agent is reserved for it.
    const offered = await eventually(async () => events.find((e) => e.type === 'campaign.preview' && e.campaignId === id && e.state === 'offered'), 15_000, 'campaign.preview offered');
    expect(offered).toMatchObject({ agent: AGENT.number, contactNumber: CONTACT, contactName: 'Anna Preview', data: { account: 'A-204' } });
    const got = await admin('GET', `/api/v1/agents/${AGENT.number}/preview`);
    expect(got.status, JSON.stringify(got.body)).toBe(200);
    expect(got.body).toMatchObject({ attemptId: offered.type === 'campaign.preview' ? offered.attemptId : '', name: 'Anna Preview', number: CONTACT });
    expect((await admin('GET', `/api/v1/agents/${AGENT.number}`)).body.state).toBe('reserved');

    // The phone rings with the contact's name, answers, and hears it spoken; the contact is not dialed meanwhile.
    const media = await remoteMedia(phoneLog, 20_000);
    const answeredAt = Date.now();
    expect(await readFile(phoneLog, 'utf8')).toContain('caller-id name=Anna Preview number=+4930666204');
    rtp!.start(media);
    const heard = await eventually(async () => {
      const s = speech(rtp!, answeredAt, Date.now());
      return s.loud >= 50 ? s : undefined; // a second of sound
    }, 15_000, 'the offer spoken on the phone');
    expect(heard.peakRms).toBeGreaterThan(1000);
    expect(await timesDialed()).toBe(0);

    // 1 on the keypad: accepted, dialed once, answered, connected to this agent.
    rtp!.press('1');
    await eventually(async () => events.find((e) => e.type === 'campaign.preview' && e.campaignId === id && e.state === 'accepted'), 15_000, 'campaign.preview accepted');
    await eventually(async () => ((await timesDialed()) === 1 ? true : undefined), 15_000, 'the contact dialed');
    const { attempts } = campaignViews(admin, id);
    await eventually(async () => ((await attempts())[0]?.connectedAt ? true : undefined), 20_000, 'the contact connected');
    expect((await attempts())[0]).toMatchObject({ number: CONTACT, agent: AGENT.number, state: 'connected' });
    // the contact hangs up after 8 s: a human outcome, the agent's, and the campaign is finished
    const ended = await eventually(async () => {
      const a = (await attempts())[0]!;
      return a.state === 'ended' ? a : undefined;
    }, 30_000, 'the call over');
    expect(ended).toMatchObject({ outcome: 'human', agent: AGENT.number });
    expect(await timesDialed()).toBe(1);
    await eventually(async () => ((await admin('GET', `/api/v1/campaigns/${id}`)).body.state === 'finished' ? true : undefined), 15_000, 'campaign finished');
  }, 150_000);
});
