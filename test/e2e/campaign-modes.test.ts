/**
 * Campaign modes through the real dialer (docs/campaigns.md): the built daemon dials through the
 * real Asterisk to a SIPp carrier whose contacts act by their number's last digit
 * (test/e2e/sipp/campaign-contacts.xml: 1 talks until hung up, 2 busy, 4 talks 8 s and hangs up,
 * 5 an answering machine with a recorded greeting, 6 answers late, after 3 s of ringing).
 *
 * - predictive (a fixed level of 3 lines per ready agent) dials three lines for one ready agent;
 *   the first live answer goes to the agent, the late one finds no agent within 2 s and hears the
 *   abandon message (heard at the contact's side), which counts against the cap in the compliance
 *   report; over the cap, the dialer falls back to one line per ready agent;
 * - the agent keys *71 at the desk phone during wrap-up: the call's disposition is set;
 * - a machine (AMD) follows the campaign's rule: the message left (done), or hung up and retried;
 * - agentless: the contacts hear the campaign's flow and are done.
 *
 * Numbers used by no other e2e file: carrier 127.0.0.15 (trunk campaign-modes), contacts
 * +4930666xxx, queue campaign-modes, agent 02 (PIN 3568: the digits of one call rise, see
 * sipp-dtmf.ts) at desk phone 6361, flow campaign-modes-message.
 */
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import type { Daemon } from '../support/daemon.js';
import { cliToken } from '../support/api.js';
import { apiClient, createScriptedExtension, startReadyDaemon } from '../support/pbx.js';
import { registerPhone, runSipp, sippCall } from '../support/sipp.js';
import { dtmfScenario, type CallerStep } from '../support/sipp-dtmf.js';
import { freePort } from '../support/ports.js';
import { eventually } from '../support/wait.js';
import { REPO } from '../support/asterisk.js';
import { RtpPhone, ulawEncode } from '../support/rtp.js';
import { writePhoneRtpPcap } from '../support/rtp-pcap.js';
import { zoneAtLocalHour } from '../support/zones.js';
import { campaignViews, importCsv, publishFlow, startContactsCarrier, type ContactsCarrier } from '../support/campaign-e2e.js';

const world = inject('e2e');
const CARRIER_IP = '127.0.0.15';
const TRUNK = 'campaign-modes';
const QUEUE = 'campaign-modes';
const FLOW = 'campaign-modes-message';
const AGENT = { number: '02', pin: '3568', phone: '6361' };
const run = Date.now().toString(36).slice(-5);
const WRAP_UP_SECONDS = 15;

let daemon: Daemon;
let admin: ReturnType<typeof apiClient>;
let token = '';
let carrier: ContactsCarrier;
let rtp: RtpPhone;
let agentPhone: ReturnType<typeof runSipp> | null = null;
let phonePassword = '';
const campaigns: string[] = [];

/** u-law audio: `[ms, toneHz | 0]` segments (0: silence), a loud sine for "speech". */
function audio(segments: readonly [number, number][]): Buffer {
  const out: number[] = [];
  for (const [ms, hz] of segments) for (let i = 0; i < ms * 8; i++) out.push(ulawEncode(hz ? Math.round(9000 * Math.sin((2 * Math.PI * hz * i) / 8000)) : 0));
  return Buffer.from(out);
}

const nameOf = (i: number): string => `modes-${run}-${i}`;

async function createCampaign(fields: Record<string, unknown>): Promise<string> {
  const created = await admin('POST', '/api/v1/campaigns', {
    name: nameOf(campaigns.length), trunk: TRUNK, callerId: '+4930999300', callerName: 'Modes Co', defaultCountry: 'DE',
    timeZone: 'Europe/Berlin', ringSeconds: 15, window: { start: '08:00', end: '21:00', days: [1, 2, 3, 4, 5, 6, 7] }, ...fields,
  });
  expect(created.status, JSON.stringify(created.body)).toBe(201);
  const id = String(created.body.id);
  campaigns.push(id);
  return id;
}

/** The contacts (number, name) as a CSV whose every row lives where it is noon now. */
const csvOf = (rows: readonly [string, string][]): string => ['number,name,timezone', ...rows.map(([n, name]) => `${n},${name},${zoneAtLocalHour(12)}`)].join('\n');

async function start(id: string): Promise<void> {
  const r = await admin('POST', `/api/v1/campaigns/${id}/start`);
  expect(r.status, JSON.stringify(r.body)).toBe(200);
}

const agentState = async (): Promise<string> => (await admin('GET', `/api/v1/agents/${AGENT.number}`)).body.state as string;

beforeAll(async () => {
  const env = world.daemonEnv;
  ({ daemon, admin } = await startReadyDaemon(env));
  token = await cliToken(env, 'admin');
  rtp = await RtpPhone.open(1000);
  // A recorded greeting: words of 350 ms with 150 ms between them, for 3 s, then silence (AMD: MACHINE).
  const greeting = path.join(tmpdir(), `pbx-e2e-campaign-modes-greeting-${run}.pcap`);
  const ulaw = audio([...Array.from({ length: 6 }, (_, i) => [[350, 400 + 50 * i], [150, 0]] as [number, number][]).flat(), [4000, 0]]);
  await writePhoneRtpPcap(greeting, ulaw, [{ audioMs: ulaw.length / 8 }]);
  carrier = await startContactsCarrier(CARRIER_IP, 'campaign-modes', { greetingPcap: greeting, lateMediaPort: rtp.port });
  const trunk = await admin('POST', '/api/v1/trunks', { name: TRUNK, kind: 'ip', host: CARRIER_IP, port: carrier.port, codecs: ['ulaw'] });
  expect(trunk.status, JSON.stringify(trunk.body)).toBe(201);
  const q = await admin('POST', '/api/v1/queues', { name: QUEUE, strategy: 'longest-idle', ringTimeoutSeconds: 15, wrapUpSeconds: WRAP_UP_SECONDS, announceSeconds: 0, joinEmpty: true });
  expect(q.status, JSON.stringify(q.body)).toBe(201);
  const a = await admin('POST', '/api/v1/agents', { number: AGENT.number, name: 'Modes Agent', pin: AGENT.pin, autoAnswer: true });
  expect(a.status, JSON.stringify(a.body)).toBe(201);
  expect((await admin('PUT', `/api/v1/queues/${QUEUE}/members`, { agent: AGENT.number, penalty: 0 })).status).toBeLessThan(300);
  phonePassword = await createScriptedExtension(admin, world.db, { number: AGENT.phone, displayName: 'Modes Desk' });
  // *91 at the desk phone: agent number (ended by silence), PIN and '#'.
  const steps: CallerStep[] = [{ pause: 800 }, ...[...AGENT.number].map((digit) => ({ digit })), { pause: 3500 }, { pause: 800 }, ...[...`${AGENT.pin}#`].map((digit) => ({ digit }))];
  const login = await sippCall({ scenario: 'uac-long-call', scenarioFile: await dtmfScenario(steps, { waitForBye: true }), dialed: '*91', sipPort: world.sipPort, user: AGENT.phone, password: phonePassword, timeoutS: 60 });
  expect(login.code, login.output).toBe(0);
  // The desk phone answers every call it is offered and stays until the other side hangs up.
  const port = await freePort(true);
  expect((await registerPhone({ sipPort: world.sipPort, ext: AGENT.phone, password: phonePassword, port })).code).toBe(0);
  agentPhone = runSipp(['-sf', path.join(REPO, 'test/e2e/sipp/phone-answer.xml'), '-p', String(port), '-mp', String(await freePort(true)), '-i', '127.0.0.1', '-nostdin', '-trace_logs', '-log_file', path.join(tmpdir(), `pbx-e2e-campaign-modes-agent-${run}.log`)]);
  await eventually(async () => ((await agentState()) === 'ready' ? true : undefined), 15_000, 'agent ready');
  for (const [name, text] of [
    [`modes-abandon-${run}`, 'This is Example Company calling. Sorry we missed you. To be taken off our list, call 555 0100.'],
    [`modes-machine-${run}`, 'Hello, this is Example Company. Please call us back at 555 0100.'],
  ] as const) {
    const p = await admin('POST', '/api/v1/prompts/tts', { name, text, language: 'en' });
    expect(p.status, JSON.stringify(p.body)).toBe(201);
  }
  await publishFlow(admin, FLOW);
}, 150_000);

afterAll(async () => {
  for (const id of campaigns) await admin?.('POST', `/api/v1/campaigns/${id}/stop`).catch(() => undefined);
  carrier?.kill();
  agentPhone?.kill();
  rtp?.close();
  await admin?.('DELETE', `/api/v1/agents/${AGENT.number}`).catch(() => undefined);
  await daemon?.stop();
  // For a failed run: what the daemon said.
  await writeFile(path.join(tmpdir(), `pbx-e2e-campaign-modes-daemon-${run}.log`), (daemon?.logs ?? []).map((l) => JSON.stringify(l)).join('\n')).catch(() => undefined);
});

describe('a predictive campaign', () => {
  it('dials three lines for one ready agent; the late answer finds no agent, hears the abandon message within 2 s and counts against the cap; then one line per agent; *71 at the phone in wrap-up sets the disposition', async () => {
    const id = await createCampaign({
      mode: 'predictive', queue: QUEUE, pacing: { mode: 'fixed', level: 3 }, abandonPrompt: `modes-abandon-${run}`, connectSeconds: 2,
      retryRules: { busy: { delayMinutes: 30, maxAttempts: 1 } },
    });
    // 104 answers first and talks 8 s with the agent; 106 answers 3 s later (no agent free); 102 and
    // 112 are busy (the fourth line: three stay in flight while the agent is ready); 122 and 132 wait
    // for the agent's next ready moment.
    const numbers = ['+4930666104', '+4930666106', '+4930666102', '+4930666112', '+4930666122', '+4930666132'];
    await importCsv(world.daemonEnv, token, admin, id, csvOf(numbers.map((n, i) => [n, `Person ${i}`])));
    const v = campaignViews(admin, id);
    const startedAt = Date.now();
    await start(id);

    // Three lines at once for the one ready agent.
    await eventually(async () => ((await carrier.events()).filter((e) => e.what === 'dialed' && numbers.slice(0, 3).includes(e.number)).length === 3 ? true : undefined), 20_000, 'three lines dialed');
    const firstThree = (await carrier.events()).filter((e) => e.what === 'dialed' && numbers.slice(0, 3).includes(e.number)).map((e) => e.at);
    expect(Math.max(...firstThree) - Math.min(...firstThree)).toBeLessThan(1500);
    const pacing = () => daemon.logs.filter((l) => l.msg === 'campaign pacing' && l['campaign'] === nameOf(0));
    expect(pacing().some((l) => l['lines'] === 3 && l['ready'] === 1), JSON.stringify(pacing())).toBe(true);

    // 104 talked with the agent, 106 was abandoned, 102 was busy.
    await eventually(async () => ((await v.contact('+4930666106')).lastOutcome === 'abandoned' ? true : undefined), 30_000, 'the late answer abandoned');
    const talked = (await v.attemptsOf('+4930666104'))[0]!;
    expect(talked).toMatchObject({ outcome: 'human', agent: AGENT.number });
    expect(talked.connectedAt).not.toBeNull();
    const abandoned = (await v.attemptsOf('+4930666106'))[0]!;
    expect(abandoned).toMatchObject({ outcome: 'abandoned', agent: null });
    // Heard at the contact: the message's first sound, from the contact's answer (its 200 OK).
    const answered = (await carrier.events()).find((e) => e.what === 'answered' && e.number === '+4930666106')!.at;
    const heardAt = firstSound(rtp, answered);
    process.stderr.write(`[campaign-modes] abandon message heard ${heardAt - answered} ms after the answer\n`);
    expect(heardAt - answered).toBeLessThan(2000);
    // ... and it is the message (seconds of speech), not a click.
    await eventually(async () => (rtp.audio(heardAt, heardAt + 3000).filter((s) => Math.abs(s) > 1000).length > 4000 ? true : undefined), 10_000, 'seconds of speech');

    // The agent's call ends (the contact hangs up after 8 s): wrap-up; *71 at the desk phone: a sale.
    await eventually(async () => ((await v.attemptsOf('+4930666104'))[0]!.state === 'ended' ? true : undefined), 20_000, 'the agent call ended');
    expect(await agentState()).toBe('wrap-up');
    const keyed = await sippCall({ scenario: 'uac-long-call', scenarioFile: await dtmfScenario([], { waitForBye: true }), dialed: '*71', sipPort: world.sipPort, user: AGENT.phone, password: phonePassword, timeoutS: 30 });
    expect(keyed.code, keyed.output).toBe(0);
    expect((await v.attemptsOf('+4930666104'))[0]).toMatchObject({ disposition: 'sale' });
    expect(await v.contact('+4930666104')).toMatchObject({ state: 'done', disposition: 'sale' });
    expect(daemon.logs.some((l) => l.msg === 'disposition keyed at the phone' && l['outcome'] === 'ok' && l['code'] === '1')).toBe(true);

    // Over the cap, the agent ready again: one line per ready agent, no more.
    const abandonAt = Date.parse(String(abandoned.answeredAt));
    await eventually(async () => ((await Promise.all(numbers.slice(3).map((n) => v.contact(n)))).every((c) => c.state === 'exhausted') ? true : undefined), 60_000, 'the other busy numbers tried');
    const later = pacing().filter((l) => Date.parse(String(l['time'])) > abandonAt);
    expect(later.length).toBeGreaterThan(0);
    for (const l of later) expect(Number(l['lines']), JSON.stringify(l)).toBeLessThanOrEqual(Number(l['ready']));
    for (const n of numbers) expect(await carrier.timesDialed(n), n).toBe(1);
    // Compliance: one abandon of two live answers, over the 3 % cap.
    expect(await v.today()).toMatchObject({ attempts: 6, liveAnswers: 2, connects: 1, abandons: 1, abandonRate: 0.5, abandons30d: 1, liveAnswers30d: 2, withinCap: false, outsideWindow: 0, shortRings: 0 });
    expect(Date.now() - startedAt).toBeLessThan(90_000);
  }, 120_000);
});

describe('machines (AMD)', () => {
  it("follow the campaign's rule: a message is left (done), or the machine is hung up and retried by the machine rule", async () => {
    const message = await createCampaign({ mode: 'progressive', queue: QUEUE, abandonPrompt: `modes-abandon-${run}`, amd: true, machineAction: 'message', machinePrompt: `modes-machine-${run}` });
    const hangup = await createCampaign({ mode: 'progressive', queue: QUEUE, abandonPrompt: `modes-abandon-${run}`, amd: true, machineAction: 'hangup', retryRules: { machine: { delayMinutes: 7, maxAttempts: 2 } } });
    await importCsv(world.daemonEnv, token, admin, message, csvOf([['+4930666105', 'Mach Message']]));
    await importCsv(world.daemonEnv, token, admin, hangup, csvOf([['+4930666115', 'Mach Hangup']]));
    await eventually(async () => ((await agentState()) === 'ready' ? true : undefined), 30_000, 'agent ready');
    await start(message);
    await start(hangup);
    const m = campaignViews(admin, message);
    const h = campaignViews(admin, hangup);
    await eventually(async () => ((await m.contact('+4930666105')).lastOutcome && (await h.contact('+4930666115')).lastOutcome ? true : undefined), 40_000, 'both machines tried');
    const left = (await m.attemptsOf('+4930666105'))[0]!;
    expect(left).toMatchObject({ outcome: 'machine', amdStatus: 'MACHINE', agent: null });
    expect(await m.contact('+4930666105')).toMatchObject({ state: 'done', lastOutcome: 'machine' });
    const hung = (await h.attemptsOf('+4930666115'))[0]!;
    expect(hung).toMatchObject({ outcome: 'machine', amdStatus: 'MACHINE', agent: null });
    const retry = await h.contact('+4930666115');
    expect(retry).toMatchObject({ state: 'ready', lastOutcome: 'machine', attempts: 1 });
    const due = Date.parse(String(retry.nextAttemptAt)) - Date.parse(String(hung.endedAt));
    expect(due).toBeGreaterThanOrEqual(7 * 60_000 - 1000);
    expect(due).toBeLessThanOrEqual(7 * 60_000 + 1000);
    // The message was played to the machine: its call lasted past AMD's verdict by the message;
    // the hung-up machine's did not.
    const ev = await carrier.events();
    const span = (n: string) => ev.find((e) => e.what === 'bye' && e.number === n)!.at - ev.find((e) => e.what === 'answered' && e.number === n)!.at;
    await eventually(async () => ((await carrier.events()).filter((e) => e.what === 'bye' && ['+4930666105', '+4930666115'].includes(e.number)).length === 2 ? true : undefined), 30_000, 'both machines hung up');
    const [withMessage, without] = [span('+4930666105'), span('+4930666115')];
    process.stderr.write(`[campaign-modes] machine calls: ${withMessage} ms with the message, ${without} ms hung up\n`);
    expect(withMessage - without).toBeGreaterThan(2500);
    for (const c of [m, h]) expect(await c.today()).toMatchObject({ attempts: 1, machines: 1, liveAnswers: 0, abandons: 0 });
    expect(await carrier.timesDialed('+4930666105')).toBe(1);
    expect(await carrier.timesDialed('+4930666115')).toBe(1);
  }, 90_000);
});

describe('an agentless campaign', () => {
  it('plays its flow to who answers, two lines at a time: human, done, no abandon', async () => {
    const id = await createCampaign({ mode: 'agentless', flow: FLOW, pacing: { mode: 'fixed', level: 2 }, retryRules: { busy: { delayMinutes: 30, maxAttempts: 1 } } });
    const numbers = ['+4930666201', '+4930666211', '+4930666202'];
    await importCsv(world.daemonEnv, token, admin, id, csvOf(numbers.map((n, i) => [n, `Broadcast ${i}`])));
    const v = campaignViews(admin, id);
    await start(id);
    await eventually(async () => ((await v.contacts()).every((c) => c.lastOutcome !== null) ? true : undefined), 30_000, 'every contact tried');
    for (const n of ['+4930666201', '+4930666211']) {
      expect((await v.attemptsOf(n))[0], n).toMatchObject({ outcome: 'human', state: 'ended', agent: null });
      expect(await v.contact(n)).toMatchObject({ state: 'done', lastOutcome: 'human' });
    }
    await eventually(async () => ((await admin('GET', `/api/v1/campaigns/${id}`)).body.state === 'finished' ? true : undefined), 10_000, 'campaign finished');
    expect(await v.today()).toMatchObject({ attempts: 3, liveAnswers: 2, abandons: 0, connects: 0 });
    // The flow played (hello-world, about 1 s) and the PBX hung up.
    const ev = await carrier.events();
    for (const n of ['+4930666201', '+4930666211']) {
      const bye = ev.find((e) => e.what === 'bye' && e.number === n)!.at;
      expect(bye - ev.find((e) => e.what === 'answered' && e.number === n)!.at, n).toBeGreaterThan(800);
    }
    for (const n of numbers) expect(await carrier.timesDialed(n), n).toBe(1);
  }, 60_000);
});

/** When the first packet at the contact held sound (any sample above a whisper) after `fromMs`. */
function firstSound(phone: RtpPhone, fromMs: number): number {
  for (let t = fromMs; t < fromMs + 10_000; t += 20) {
    if (phone.audio(t, t + 19).some((s) => Math.abs(s) > 1000)) return t;
  }
  throw new Error('no sound heard at the contact');
}
