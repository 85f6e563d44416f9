/**
 * Outbound campaigns, the call side end to end (docs/campaigns.md#the-call-side): the AMI
 * AttemptDialer against a SIPp carrier behind an IP trunk, the answered contact in the app, AMD,
 * the connect to an agent on a desk phone, and the abandon message heard at the contact's side.
 *
 * The dialer itself (src/campaigns) is not part of this file: the daemon runs in this process so
 * that the seam, CampaignCallReports, is a small recorder here that answers with the plan each
 * test sets (the full campaign e2e plugs in the real one).
 *
 * Numbers used by no other e2e file (one database for the e2e run): carrier 127.0.0.12 (trunk
 * campaign-carrier), contact numbers +4930777101..., queue campaign-calls, agent 134 (PIN 5679: the digits of one call rise, see sipp-dtmf.ts; agent 13 is recording.test.ts') at
 * desk phone 6271.
 */
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { copyFile, readFile, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { createApp, type App } from '../../src/app.js';
import { loadConfig } from '../../src/config.js';
import { createLogger } from '../../src/logger.js';
import type { AmdResult, AnsweredPlan, CampaignCallReports, NotAnsweredOutcome, OriginateRequest } from '../../src/campaigns/ports.js';
import { cliToken } from '../support/api.js';
import { apiClient, createScriptedExtension } from '../support/pbx.js';
import { registerPhone, runSipp, sippCall, startPhone } from '../support/sipp.js';
import { dtmfScenario, type CallerStep } from '../support/sipp-dtmf.js';
import { freePort } from '../support/ports.js';
import { eventually } from '../support/wait.js';
import { REPO } from '../support/asterisk.js';
import { RtpPhone, ulawEncode } from '../support/rtp.js';
import { writePhoneRtpPcap } from '../support/rtp-pcap.js';
import { openDb } from '../support/db.js';

const world = inject('e2e');
const CARRIER_IP = '127.0.0.12';
const TRUNK = 'campaign-carrier';
const QUEUE = 'campaign-calls';
const AGENT = { number: '134', pin: '5679', phone: '6271' };
const CALLER_ID = '+4930999100';

type Report =
  | { kind: 'not-answered'; attemptId: string; outcome: NotAnsweredOutcome; cause: number | null; ringMs: number | null }
  | { kind: 'answered'; attemptId: string; channelId: string; amd: AmdResult | null; ringMs: number | null; at: number }
  | { kind: 'connected'; attemptId: string; agentId: string }
  | { kind: 'abandoned'; attemptId: string }
  | { kind: 'ended'; attemptId: string };

/** The seam as the dialer would see it: every report kept, answered() given the plan the test set. */
class RecordingReports implements CampaignCallReports {
  readonly reports: Report[] = [];
  readonly plans = new Map<string, AnsweredPlan>();
  async notAnswered(attemptId: string, outcome: NotAnsweredOutcome, d: { cause: number | null; ringMs: number | null }): Promise<void> {
    this.reports.push({ kind: 'not-answered', attemptId, outcome, ...d });
  }
  async answered(attemptId: string, channelId: string, amd: AmdResult | null, ringMs: number | null): Promise<AnsweredPlan> {
    this.reports.push({ kind: 'answered', attemptId, channelId, amd, ringMs, at: Date.now() });
    return this.plans.get(attemptId) ?? { kind: 'hangup' };
  }
  async connected(attemptId: string, agentId: string): Promise<void> {
    this.reports.push({ kind: 'connected', attemptId, agentId });
  }
  async abandoned(attemptId: string): Promise<void> {
    this.reports.push({ kind: 'abandoned', attemptId });
  }
  async ended(attemptId: string): Promise<void> {
    this.reports.push({ kind: 'ended', attemptId });
  }
  of(attemptId: string): Report[] {
    return this.reports.filter((r) => r.attemptId === attemptId);
  }
  wait<K extends Report['kind']>(kind: K, attemptId: string, timeoutMs = 20_000): Promise<Extract<Report, { kind: K }>> {
    return eventually(async () => this.reports.find((r): r is Extract<Report, { kind: K }> => r.kind === kind && r.attemptId === attemptId), timeoutMs, `${kind} of ${attemptId}`, 20);
  }
}

let app: App;
let admin: ReturnType<typeof apiClient>;
let carrierPort: number;
let phonePassword: string;
let agentId: string;
const reports = new RecordingReports();
const base = Math.floor(Math.random() * 1e6);
let serial = 0;
let contact = 100;

function attempt(over: Partial<OriginateRequest> = {}): OriginateRequest {
  contact += 1;
  return { attemptId: `${base}-${++serial}`, campaignId: '1', number: `+4930777${contact}`, trunk: TRUNK, callerId: CALLER_ID, callerName: 'Campaign Test', ringSeconds: 15, amd: false, ...over };
}

/** The carrier for one attempt: a SIPp scenario (campaign-*.xml) listening on the trunk's address. */
async function carrier(scenario: 'busy' | 'ring' | 'answer', o: { pcap?: string; mediaPort?: number } = {}) {
  const logFile = path.join(tmpdir(), `pbx-e2e-campaign-${scenario}-${base}-${serial + 1}.log`);
  let file = path.join(REPO, `test/e2e/sipp/campaign-${scenario}.xml`);
  if (scenario === 'answer') {
    const xml = (await readFile(file, 'utf8'))
      .replaceAll('MEDIA_IP', o.mediaPort ? '127.0.0.1' : '[media_ip]') // the RtpPhone listens on 127.0.0.1
      .replaceAll('MEDIA_PORT', o.mediaPort ? String(o.mediaPort) : '[media_port]')
      .replaceAll('<!--PLAY-->', o.pcap ? `<exec play_pcap_audio="${o.pcap}"/>` : '<log message="no audio"/>');
    file = `${logFile}.xml`;
    await writeFile(file, xml);
  }
  const sipp = runSipp(['-sf', file, '-i', CARRIER_IP, '-p', String(carrierPort), '-mp', String(await freePort(true)), '-timeout', '60s', '-timeout_error', '-nostdin', '-trace_logs', '-log_file', logFile]);
  // Listening once SIPp has bound the port (it exits at once if it cannot).
  await eventually(async () => ((await readFile('/proc/net/udp', 'utf8')).includes(`:${carrierPort.toString(16).toUpperCase().padStart(4, '0')} `) ? true : undefined), 10_000, 'carrier listening', 20);
  return { ...sipp, log: () => readFile(logFile, 'utf8').catch(() => '') };
}

/** The epoch ms of the SIPp log line "<what> <timestamp>" ([timestamp]: date, time, epoch.usec). */
function logTime(log: string, what: string): number {
  const m = new RegExp(`${what} \\S+\\t\\S+\\t(\\d+\\.\\d+)`).exec(log);
  if (!m) throw new Error(`no "${what}" in the carrier log: ${log.slice(-500)}`);
  return Math.round(Number(m[1]) * 1000);
}

/** u-law audio: `[ms, toneHz | 0]` segments (0: silence), a loud sine for "speech". */
function audio(segments: readonly [number, number][]): Buffer {
  const out: number[] = [];
  for (const [ms, hz] of segments) for (let i = 0; i < ms * 8; i++) out.push(ulawEncode(hz ? Math.round(9000 * Math.sin((2 * Math.PI * hz * i) / 8000)) : 0));
  return Buffer.from(out);
}

async function pcap(name: string, segments: readonly [number, number][]): Promise<string> {
  const file = path.join(tmpdir(), `pbx-e2e-campaign-${name}-${base}.pcap`);
  const ulaw = audio(segments);
  await writePhoneRtpPcap(file, ulaw, [{ audioMs: ulaw.length / 8 }]);
  return file;
}

const agentState = async (): Promise<string> => (await admin('GET', `/api/v1/agents/${AGENT.number}`)).body.state as string;
const waitAgent = (state: string) => eventually(async () => ((await agentState()) === state ? true : undefined), 15_000, `agent ${state}`);

beforeAll(async () => {
  const env = world.daemonEnv;
  app = await createApp(loadConfig(env), createLogger(process.env['PBX_TEST_DAEMON_LOG'] ? 'debug' : 'warn'));
  await app.start();
  app.campaignCalls.useReports(reports);
  admin = apiClient(env, await cliToken(env, 'admin'));
  await eventually(async () => ((await fetch(`http://127.0.0.1:${env['PBX_HTTP_PORT']}/health/ready`)).status === 200 ? true : undefined), 30_000, 'ready');
  carrierPort = await freePort(true);
  const trunk = await admin('POST', '/api/v1/trunks', { name: TRUNK, kind: 'ip', host: CARRIER_IP, port: carrierPort, codecs: ['ulaw'] });
  expect(trunk.status, JSON.stringify(trunk.body)).toBe(201);
  const q = await admin('POST', '/api/v1/queues', { name: QUEUE, strategy: 'longest-idle', ringTimeoutSeconds: 15, wrapUpSeconds: 1, announceSeconds: 0, joinEmpty: true, missedOffersPause: 5 });
  expect(q.status, JSON.stringify(q.body)).toBe(201);
  const a = await admin('POST', '/api/v1/agents', { number: AGENT.number, name: 'Camp Agent', pin: AGENT.pin });
  expect(a.status, JSON.stringify(a.body)).toBe(201);
  const db = openDb(world.db);
  try {
    agentId = (await db.selectFrom('agents').select('id').where('number', '=', AGENT.number).executeTakeFirstOrThrow()).id;
  } finally {
    await db.destroy();
  }
  expect((await admin('PUT', `/api/v1/queues/${QUEUE}/members`, { agent: AGENT.number, penalty: 0 })).status).toBeLessThan(300);
  phonePassword = await createScriptedExtension(admin, world.db, { number: AGENT.phone, displayName: 'Campaign Desk' });
  // *91 at the desk phone: agent number (ended by silence), PIN and '#'.
  const steps: CallerStep[] = [{ pause: 800 }, ...[...AGENT.number].map((digit) => ({ digit })), { pause: 3500 }, { pause: 800 }, ...[...`${AGENT.pin}#`].map((digit) => ({ digit }))];
  const login = await sippCall({ scenario: 'uac-long-call', scenarioFile: await dtmfScenario(steps, { waitForBye: true }), dialed: '*91', sipPort: world.sipPort, user: AGENT.phone, password: phonePassword, timeoutS: 60 });
  expect(login.code, login.output).toBe(0);
  await waitAgent('ready');
  // Paused until a test wants the agent.
  expect((await admin('POST', `/api/v1/agents/${AGENT.number}/state`, { state: 'paused', pauseCode: 1 })).status).toBe(200);
  // AMI is up (the dialer rejects otherwise): wait until it takes an originate of nothing we dial.
}, 120_000);

afterAll(async () => {
  await admin?.('DELETE', `/api/v1/agents/${AGENT.number}`).catch(() => undefined);
  await app?.stop();
  // For a failed run: what Asterisk said (the instance goes with the run).
  const instance = world.asteriskEnv['PBX_AST_INSTANCE'];
  await copyFile(`/var/cache/pbx/asterisk-root/var/lib/pbx-instances/${instance}/log/messages.log`, path.join(tmpdir(), 'pbx-e2e-campaign-asterisk.log')).catch(() => undefined);
});

describe('campaign attempts over AMI', () => {
  it('a busy number (486) is not answered: busy', async () => {
    const c = await carrier('busy');
    const req = attempt();
    await app.campaignCalls.dialer.originate(req);
    const r = await reports.wait('not-answered', req.attemptId);
    expect(r).toMatchObject({ outcome: 'busy' });
    expect((await c.done).code).toBe(0);
    expect(await c.log()).toContain(`dialed ${req.number} from ${CALLER_ID} name Campaign Test`);
  });

  it('a number that rings on is no answer, and only after the ring time (15 s)', async () => {
    const c = await carrier('ring');
    const req = attempt({ ringSeconds: 15 });
    const sent = Date.now();
    await app.campaignCalls.dialer.originate(req);
    const r = await reports.wait('not-answered', req.attemptId, 30_000);
    expect(r).toMatchObject({ outcome: 'no-answer' });
    expect(r.ringMs).toBeGreaterThanOrEqual(15_000);
    expect((await c.done).code).toBe(0);
    // At the carrier: cancelled no earlier than 15 s after the originate.
    expect(logTime(await c.log(), 'cancelled') - sent).toBeGreaterThanOrEqual(15_000);
  }, 40_000);

  it('an answered contact reaches the app: answered() with its ring time, the plan (hang up) carried out, ended; its CDR is an outbound call with the attempt id', async () => {
    const c = await carrier('answer');
    const req = attempt();
    await app.campaignCalls.dialer.originate(req);
    const r = await reports.wait('answered', req.attemptId);
    expect(r).toMatchObject({ channelId: req.attemptId, amd: null });
    expect(r.ringMs).toBeGreaterThanOrEqual(250); // the carrier rings 300 ms
    await reports.wait('ended', req.attemptId);
    expect((await c.done).code).toBe(0);
    const db = openDb(world.db);
    try {
      const cdr = await eventually(() => db.selectFrom('cdrs').selectAll().where('call_id', '=', req.attemptId).executeTakeFirst(), 10_000, 'CDR');
      expect(cdr).toMatchObject({ direction: 'outbound', caller_number: CALLER_ID, dialed_number: req.number, disposition: 'ANSWERED', ended_by: 'system' });
    } finally {
      await db.destroy();
    }
  });

  it('AMD: a long greeting is a MACHINE, "hello" and silence is a HUMAN', async () => {
    // A recorded greeting: words of 350 ms with 150 ms between them, for 3 s, then silence.
    const machine = await pcap('machine', [...Array.from({ length: 6 }, (_, i) => [[350, 400 + 50 * i], [150, 0]] as [number, number][]).flat(), [4000, 0]]);
    // A person: "hello" (450 ms), then waiting in silence.
    const human = await pcap('human', [[450, 500], [6000, 0]]);
    const results: Record<string, AmdResult | null> = {};
    for (const [name, file] of [['machine', machine], ['human', human]] as const) {
      const c = await carrier('answer', { pcap: file });
      const req = attempt({ amd: true });
      await app.campaignCalls.dialer.originate(req);
      results[name] = (await reports.wait('answered', req.attemptId)).amd;
      await reports.wait('ended', req.attemptId);
      expect((await c.done).code).toBe(0);
    }
    process.stderr.write(`[campaign-calls] AMD machine: ${JSON.stringify(results['machine'])}, human: ${JSON.stringify(results['human'])}\n`);
    expect(results['machine']?.status).toBe('MACHINE');
    expect(results['human']?.status).toBe('HUMAN');
  }, 60_000);

  it("a machine's message starts after its greeting and beep ([pbx-campaign] WaitForSilence), not when AMD decides", async () => {
    const prompt = `campaign-calls-machine-${base}`;
    const made = await admin('POST', '/api/v1/prompts/tts', { name: prompt, text: 'Hello, this is Example Company. Please call us back.', language: 'en' });
    expect(made.status, JSON.stringify(made.body)).toBe(201);
    const rtp = await RtpPhone.open(1000);
    try {
      const c = await carrier('answer', { mediaPort: rtp.port });
      const req = attempt({ amd: true, machineMessage: true });
      reports.plans.set(req.attemptId, { kind: 'machine', prompt });
      await app.campaignCalls.dialer.originate(req);
      // The contact's media: Asterisk's address from the INVITE's SDP; the greeting starts at the answer.
      const remote = await eventually(async () => {
        const m = /remote-media (\S+) (\d+)/.exec(await c.log());
        return m && (await c.log()).includes('answered ') ? { host: m[1]!, port: Number(m[2]) } : undefined;
      }, 20_000, 'answered with remote media', 10);
      // A greeting of 6 words (350 ms, 150 ms apart: AMD says MACHINE at the 3rd), a pause, a
      // 1 kHz beep of 500 ms; then the recording's silence.
      const words = Array.from({ length: 6 }, (_, i) => [[350, 400 + 50 * i], [150, 0]] as [number, number][]).flat();
      rtp.speak([...words, [300, 0], [500, 1000]]);
      rtp.start(remote);
      const greetingFrom = Date.now();
      const beepEnds = greetingFrom + 3_000 + 300 + 500;
      const answered = await reports.wait('answered', req.attemptId, 40_000);
      expect(answered.amd?.status).toBe('MACHINE');
      await reports.wait('ended', req.attemptId, 40_000);
      expect((await c.done).code).toBe(0);
      const heardAt = firstSound(rtp, greetingFrom);
      process.stderr.write(`[campaign-calls] machine message heard ${heardAt - beepEnds} ms after the beep ended (AMD ${answered.amd?.cause})\n`);
      // After the beep and 1.5 s of silence (less a packet or two of jitter); AMD decided at the 3rd word, ~1.5 s in.
      expect(heardAt - beepEnds).toBeGreaterThanOrEqual(1_300);
      expect(heardAt - beepEnds).toBeLessThan(4_000);
    } finally {
      rtp.close();
    }
  }, 60_000);
});

describe('an answered contact and the agents', () => {
  it("connect: an agent's desk phone rings with the contact and answers: connected (agent id); the agent hangs up: ended", async () => {
    const port = await freePort(true);
    expect((await registerPhone({ sipPort: world.sipPort, ext: AGENT.phone, password: phonePassword, port })).code).toBe(0);
    const phoneLog = path.join(tmpdir(), `pbx-e2e-campaign-agent-${base}-answer.log`);
    const phone = await startPhone('phone-answer-hangup', port, phoneLog);
    expect((await admin('POST', `/api/v1/agents/${AGENT.number}/state`, { state: 'ready' })).status).toBe(200);
    const c = await carrier('answer');
    const req = attempt();
    reports.plans.set(req.attemptId, { kind: 'connect', queue: QUEUE, connectMs: 2000, abandonPrompt: null, contact: { contactId: '1', campaign: 'spring', number: req.number, name: 'Carla Contact', data: { plan: 'gold' } } });
    await app.campaignCalls.dialer.originate(req);
    expect(await reports.wait('connected', req.attemptId)).toMatchObject({ agentId });
    // The agent's phone was shown the contact, not the campaign's caller ID.
    expect(await readFile(phoneLog, 'utf8')).toContain(`name=Carla Contact number=${req.number}`);
    await reports.wait('ended', req.attemptId);
    expect(reports.of(req.attemptId).map((r) => r.kind)).toEqual(['answered', 'connected', 'ended']);
    expect((await phone.done).code).toBe(0);
    expect((await c.done).code).toBe(0);
    await waitAgent('ready'); // after 1 s of wrap-up
  }, 40_000);

  it('connect with no agent in time: the ringing offer is withdrawn and the abandon message is heard within 2 s of the answer (at the contact), abandoned, ended', async () => {
    const port = await freePort(true);
    expect((await registerPhone({ sipPort: world.sipPort, ext: AGENT.phone, password: phonePassword, port })).code).toBe(0);
    const phone = await startPhone('phone-no-answer', port, path.join(tmpdir(), `pbx-e2e-campaign-agent-${base}-no-answer.log`));
    await waitAgent('ready');
    const rtp = await RtpPhone.open(1000);
    try {
      const c = await carrier('answer', { mediaPort: rtp.port });
      const req = attempt();
      reports.plans.set(req.attemptId, { kind: 'connect', queue: QUEUE, connectMs: 2000, abandonPrompt: null, contact: { contactId: '2', campaign: 'spring', number: req.number, name: null, data: {} } });
      await app.campaignCalls.dialer.originate(req);
      await reports.wait('abandoned', req.attemptId);
      await reports.wait('ended', req.attemptId);
      expect((await c.done).code).toBe(0);
      // The agent's phone rang and was cancelled (the offer withdrawn).
      expect((await phone.done).code).toBe(0);
      const answered = logTime(await c.log(), 'answered');
      // The message: the first packet with sound in it (music on hold before it is quieter? no: the first loud one).
      const heardAt = firstSound(rtp, answered);
      process.stderr.write(`[campaign-calls] abandon message heard ${heardAt - answered} ms after the answer\n`);
      expect(heardAt - answered).toBeLessThan(2000);
      expect(reports.of(req.attemptId).map((r) => r.kind)).toEqual(['answered', 'abandoned', 'ended']);
    } finally {
      rtp.close();
    }
  }, 40_000);
});

/** When the first packet at the contact held sound (any sample above a whisper) after `fromMs`. */
function firstSound(rtp: RtpPhone, fromMs: number): number {
  for (let t = fromMs; t < fromMs + 10_000; t += 20) {
    const samples = rtp.audio(t, t + 19);
    if (samples.some((s) => Math.abs(s) > 1000)) return t;
  }
  throw new Error('no sound heard at the contact');
}
