/**
 * Call recording end to end (docs/recording.md), with real audio: a carrier's caller (SIPp on
 * 127.0.0.7) sends a 440 Hz tone into a queue whose policy is `always`; the agent's desk phone
 * (SIPp) answers and sends 1000 Hz. Asterisk's MixMonitor records the caller's channel (two
 * directions), the daemon merges them into one stereo WAV, and the file is read here sample by
 * sample: the level of each tone in each channel (Goertzel amplitude, 16-bit scale; SIPp sends at
 * about 16000 peak), per 20 ms window.
 *   - channel 1 carries the caller's tone and not the agent's; channel 2 the agent's and not the caller's;
 *   - the duration matches the call (the daemon's row, the file and the call's own times);
 *   - `recording.ready` on the live event stream (docs/events.md) names that recording, once stored;
 *   - a PCI pause by API: the file is silent (both channels) from the pause to the resume, within
 *     a few hundred ms of the API calls, with the audio on either side;
 *   - the daemon SIGKILLed mid-call, the caller hanging up while it is dead: Asterisk recorded on,
 *     and the next daemon finishes the recording (stored, with the audio after the kill);
 *   - a recordings disk below the free-space threshold (a full tmpfs): no recording, the call goes on;
 *   - an attended transfer (desk phones 6311 A, 6312 B, 6313 C: B consults C, then joins A and C):
 *     A's and C's tones are in the recording of the joined part, whichever call was recorded.
 * What was measured is written to $TMPDIR/pbx-e2e-recording-measured.json for the report.
 */
import { afterAll, beforeAll, describe, expect, inject, it, onTestFinished } from 'vitest';
import { execFile } from 'node:child_process';
import { chmod, chown, mkdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { sql } from 'kysely';
import { Daemon, eventually } from '../support/daemon.js';
import { holdFor } from '../support/wait.js';
import { registerPhone, runSipp, sippCall, type SippResult } from '../support/sipp.js';
import { REPO, asteriskInstance } from '../support/asterisk.js';
import { openDb } from '../support/db.js';
import { freePort } from '../support/ports.js';
import { apiClient, createScriptedExtension, startReadyDaemon } from '../support/pbx.js';
import { dtmfScenario, type CallerStep } from '../support/sipp-dtmf.js';
import { writePhoneRtpPcap } from '../support/rtp-pcap.js';
import { openEventStream } from '../support/events.js';

const run = promisify(execFile);
const world = inject('e2e');
// Numbers of their own: the e2e files share one database and one Asterisk.
const CARRIER_IP = '127.0.0.7';
const DID = '4930888000';
const CALLER = '4930222444';
const DESK = '6301';
/** Digits in ascending pcap order within one call (test/support/sipp-dtmf.ts): number 13, PIN 4579. */
const AGENT = '13';
const PIN = '4579';
const TONE = { caller: 440, agent: 1000 } as const;
/** A tone is present above this amplitude and absent below ABSENT. */
const HEARD = 2000;
const ABSENT = 400;

let daemon: Daemon;
let admin: ReturnType<typeof apiClient>;
let deskPassword = '';
let deskPort = 0;
let recordingsDir = '';
let recordingsDirAsterisk = '';
let instDir = '';
const scenarios = { caller: '', phone: '' };
const measured: Record<string, unknown>[] = [];
const db = openDb(world.db);

const daemonEnv = (extra: Record<string, string> = {}) => ({
  ...world.daemonEnv,
  PBX_RECORDINGS_DIR: recordingsDir,
  PBX_RECORDINGS_DIR_ASTERISK: recordingsDirAsterisk,
  // Kept as WAV: the test reads the samples (compression is the store's, tested there).
  PBX_RECORDING_FORMAT: 'wav',
  PBX_RECORDINGS_MIN_FREE_MB: '1',
  PBX_ACD_ENDED_CALL_CHECK_SECONDS: '2',
  ...extra,
});

/** A raw u-law tone file (SIPp's rtp_stream plays it, looped) and a scenario that sends it. */
async function toneScenario(template: string, freq: number): Promise<string> {
  const tone = path.join(tmpdir(), `pbx-e2e-rec-${freq}.ul`);
  await run('sox', ['-n', '-r', '8000', '-c', '1', '-t', 'ul', tone, 'synth', '20', 'sine', String(freq), 'vol', '0.5']);
  const xml = (await readFile(path.join(REPO, 'test/e2e/sipp', template), 'utf8')).replaceAll('TONE_FILE', tone);
  const file = path.join(tmpdir(), `pbx-e2e-rec-${process.pid}-${template}`);
  await writeFile(file, xml);
  return file;
}

/** The agent's desk phone answers the next call and sends its tone until the BYE (or plays `scenario`). */
async function deskAnswers(scenario = scenarios.phone): Promise<{ done: Promise<SippResult>; kill: () => void }> {
  const reg = await registerPhone({ sipPort: world.sipPort, ext: DESK, password: deskPassword, port: deskPort });
  expect(reg.code, reg.output).toBe(0);
  const log = path.join(tmpdir(), `pbx-e2e-rec-desk-${Date.now()}.log`);
  return runSipp(['-sf', scenario, '-p', String(deskPort), '-mp', String(await freePort(true)), '-i', '127.0.0.1', '-m', '1',
    '-timeout', '90s', '-timeout_error', '-nostdin', '-trace_logs', '-log_file', log, '-trace_err', '-error_file', `${log}.err`]);
}

/** The carrier's caller: sends its tone for holdMs, then hangs up. */
function callerCalls(holdMs: number, did = DID): Promise<SippResult> {
  return sippCall({ scenario: 'uac-long-call', scenarioFile: scenarios.caller, dialed: did, sipPort: world.sipPort, user: CALLER, password: 'unused', localIp: CARRIER_IP, timeoutS: 90, set: { hold_ms: String(holdMs) } });
}

async function agentState(): Promise<string> {
  return (await admin('GET', `/api/v1/agents/${AGENT}`)).body.state as string;
}

async function liveCallId(did = DID): Promise<string> {
  return eventually(async () => {
    const res = await admin('GET', '/api/v1/calls/live');
    return (res.body.items as { callId: string; dialedNumber: string }[]).find((c) => c.dialedNumber === did)?.callId;
  }, 15_000, 'the live queue call');
}

interface Row {
  id: string; call_id: string; linked_id: string | null; state: string; path: string; channels: number; agent: string | null; queue: string | null;
  caller: string | null; called: string | null; parts: string[]; pauses: { from: string; to: string | null; by: string }[];
  started_at: Date; ended_at: Date | null; duration_ms: number | null; sha256: string | null;
}

async function recordingOf(callId: string, states = ['stored', 'compressed']): Promise<Row> {
  return eventually(async () => {
    const row = await db.selectFrom('recordings').selectAll().where('call_id', '=', callId).executeTakeFirst();
    return row && states.includes(row.state) ? (row as unknown as Row) : undefined;
  }, 30_000, `recording of ${callId} in ${states.join('/')}`);
}

/** The talk has started: the recording row names the agent (recording-repository notes the part). */
async function talking(callId: string): Promise<Row> {
  return eventually(async () => {
    const row = (await db.selectFrom('recordings').selectAll().where('call_id', '=', callId).executeTakeFirst()) as unknown as Row | undefined;
    return row && row.parts.includes('talk') ? row : undefined;
  }, 15_000, 'the recorded call connected to the agent');
}

// ------------------------------------------------------------------ reading the file

interface Wav { channels: number; rate: number; samples: Int16Array[] }

async function readWav(file: string): Promise<Wav> {
  const buf = await readFile(file);
  expect(buf.toString('ascii', 0, 4)).toBe('RIFF');
  let at = 12;
  let channels = 0;
  let rate = 0;
  let bits = 0;
  for (;;) {
    const id = buf.toString('ascii', at, at + 4);
    const size = buf.readUInt32LE(at + 4);
    if (id === 'fmt ') {
      channels = buf.readUInt16LE(at + 10);
      rate = buf.readUInt32LE(at + 12);
      bits = buf.readUInt16LE(at + 22);
    }
    if (id === 'data') {
      expect(bits).toBe(16);
      const frames = Math.floor(Math.min(size, buf.length - at - 8) / (2 * channels));
      const samples = Array.from({ length: channels }, () => new Int16Array(frames));
      for (let i = 0; i < frames; i++) for (let c = 0; c < channels; c++) samples[c]![i] = buf.readInt16LE(at + 8 + (i * channels + c) * 2);
      return { channels, rate, samples };
    }
    at += 8 + size + (size % 2);
  }
}

/** Goertzel amplitude of `freq` in channel `ch` (0-based) over [fromMs, toMs). */
function level(w: Wav, ch: number, freq: number, fromMs: number, toMs: number): number {
  const s = w.samples[ch]!;
  const a = Math.max(0, Math.floor((fromMs * w.rate) / 1000));
  const b = Math.min(s.length, Math.floor((toMs * w.rate) / 1000));
  const n = b - a;
  if (n <= 0) return 0;
  const k = (2 * Math.cos((2 * Math.PI * freq) / w.rate));
  let s1 = 0;
  let s2 = 0;
  for (let i = a; i < b; i++) {
    const s0 = s[i]! + k * s1 - s2;
    s2 = s1;
    s1 = s0;
  }
  const power = s1 * s1 + s2 * s2 - k * s1 * s2;
  return (2 * Math.sqrt(Math.max(0, power))) / n;
}

/** Largest absolute sample over [fromMs, toMs) in every channel: 0 is digital silence. */
function peak(w: Wav, fromMs: number, toMs: number): number {
  let max = 0;
  for (const s of w.samples) {
    const a = Math.max(0, Math.floor((fromMs * w.rate) / 1000));
    const b = Math.min(s.length, Math.floor((toMs * w.rate) / 1000));
    for (let i = a; i < b; i++) max = Math.max(max, Math.abs(s[i]!));
  }
  return max;
}

const durationMs = (w: Wav): number => (w.samples[0]!.length * 1000) / w.rate;

/** The stretches of digital silence (every channel 0) of at least 500 ms, in 20 ms windows: [fromMs, toMs]. */
function silences(w: Wav): [number, number][] {
  const out: [number, number][] = [];
  let start: number | null = null;
  const total = durationMs(w);
  for (let t = 0; t + 20 <= total; t += 20) {
    const quiet = peak(w, t, t + 20) <= 2;
    if (quiet && start === null) start = t;
    if (!quiet && start !== null) {
      if (t - start >= 500) out.push([start, t]);
      start = null;
    }
  }
  if (start !== null && total - start >= 500) out.push([start, total]);
  return out;
}

// ------------------------------------------------------------------ setup

beforeAll(async () => {
  // The recordings folder inside the Asterisk instance (it may run chrooted): Asterisk writes, the daemon reads.
  instDir = (await asteriskInstance('path', world.asteriskEnv)).trim();
  recordingsDir = world.daemonEnv['PBX_RECORDINGS_DIR'] ?? `${instDir}/lib/recordings`;
  recordingsDirAsterisk = world.daemonEnv['PBX_RECORDINGS_DIR_ASTERISK'] ?? recordingsDir.slice(recordingsDir.indexOf('/var/lib/pbx-instances/'));
  await mkdir(recordingsDir, { recursive: true });
  await run('chown', ['asterisk:pbx', recordingsDir]);
  await chmod(recordingsDir, 0o2770);

  scenarios.caller = await toneScenario('rec-uac-tone.xml', TONE.caller);
  scenarios.phone = await toneScenario('rec-phone-tone.xml', TONE.agent);
  ({ daemon, admin } = await startReadyDaemon(daemonEnv()));
  deskPassword = await createScriptedExtension(admin, world.db, { number: DESK, displayName: 'Recorded Desk' });
  deskPort = await freePort(true);
  const trunk = await admin('POST', '/api/v1/trunks', { name: 'rec-carrier', kind: 'ip', host: CARRIER_IP, port: await freePort(true), codecs: ['ulaw'] });
  expect(trunk.status, JSON.stringify(trunk.body)).toBe(201);
  const q = await admin('POST', '/api/v1/queues', { name: 'recq', ringTimeoutSeconds: 10, wrapUpSeconds: 1, announceSeconds: 0, recordingPolicy: 'always' });
  expect(q.status, JSON.stringify(q.body)).toBe(201);
  expect(q.body).toMatchObject({ recordingPolicy: 'always', recordingSamplePercent: null, recordingAnnouncement: null });
  const bad = await admin('PATCH', '/api/v1/queues/recq', { recordingPolicy: 'sometimes' });
  expect(bad.status).toBe(400);
  expect(JSON.stringify(bad.body)).toContain('recordingPolicy');
  expect((await admin('POST', '/api/v1/agents', { number: AGENT, name: 'Rec Agent', pin: PIN })).status).toBe(201);
  expect((await admin('PUT', '/api/v1/queues/recq/members', { agent: AGENT, penalty: 0 })).status).toBeLessThan(300);
  const route = await admin('POST', '/api/v1/inbound-routes', { name: 'recorded line', didPattern: DID, target: { kind: 'queue', queue: 'recq' } });
  expect(route.status, JSON.stringify(route.body)).toBe(201);
  // The agent logs in at the desk phone: *91, agent number, PIN.
  const steps: CallerStep[] = [{ pause: 800 }, ...[...AGENT].map((digit) => ({ digit })), { pause: 3500 }, { pause: 800 }, ...[...`${PIN}#`].map((digit) => ({ digit }))];
  const login = await sippCall({ scenario: 'uac-long-call', scenarioFile: await dtmfScenario(steps, { waitForBye: true }), dialed: '*91', sipPort: world.sipPort, user: DESK, password: deskPassword, timeoutS: 60 });
  expect(login.code, login.output).toBe(0);
  await eventually(async () => ((await agentState()) === 'ready' ? true : undefined), 15_000, 'agent ready');
}, 120_000);

afterAll(async () => {
  for (const r of (await admin('GET', '/api/v1/inbound-routes')).body.items ?? []) if (String(r.name).startsWith('recorded ')) await admin('DELETE', `/api/v1/inbound-routes/${r.id}`);
  await daemon?.stop();
  await db.destroy();
  await writeFile(path.join(tmpdir(), 'pbx-e2e-recording-measured.json'), JSON.stringify(measured, null, 2)).catch(() => undefined);
  await writeFile(path.join(tmpdir(), 'pbx-e2e-recording-daemon.log'), (daemon?.logs ?? []).map((l) => JSON.stringify(l)).join('\n')).catch(() => undefined);
});

const agentReady = () => eventually(async () => ((await agentState()) === 'ready' ? true : undefined), 20_000, 'agent ready again');

/** A recorded queue call (caller holding `holdMs`) once the agent talks: the caller's SIPp, the desk phone's, the call and its recording row. */
async function recordedCallTalking(holdMs: number) {
  await agentReady();
  const desk = await deskAnswers();
  const calling = callerCalls(holdMs);
  const callId = await liveCallId();
  const started = await talking(callId);
  return { desk, calling, callId, started };
}

describe('call recording', () => {
  it('a queue call with policy always: a stereo file, the caller on channel 1 and the agent on channel 2, as long as the call; recording.ready on the event stream', async () => {
    await agentReady();
    // The live event stream (docs/events.md), opened before the call: recording.ready once the file is stored.
    const ticket = await admin('POST', '/api/v1/events/tickets');
    const stream = await openEventStream(world.daemonEnv['PBX_HTTP_PORT']!, ticket.body.ticket, 'types=recording.ready&queue=recq');
    onTestFinished(() => stream.close());
    const desk = await deskAnswers();
    const t0 = Date.now();
    const calling = callerCalls(6000);
    const callId = await liveCallId();
    const res = await calling;
    const t1 = Date.now();
    expect(res.code, res.output).toBe(0);
    expect((await desk.done).code).toBe(0);

    const row = await recordingOf(callId);
    expect(row).toMatchObject({ channels: 2, agent: AGENT, queue: 'recq', caller: CALLER, called: DID, linked_id: callId });
    expect(row.parts).toEqual(expect.arrayContaining(['queue', 'talk']));
    expect(row.sha256).toMatch(/^[0-9a-f]{64}$/);
    const ready = await stream.next((e) => e.type === 'recording.ready' && e['callId'] === callId, 5_000, 'recording.ready');
    expect(ready).toMatchObject({ recordingId: row.id, callId, queue: 'recq', agent: AGENT, durationMs: row.duration_ms });
    expect(ready['durationMs']).toBeGreaterThan(0);
    expect(stream.events.filter((e) => e['callId'] === callId)).toHaveLength(1);
    const cdr = await eventually(async () => (await admin('GET', `/api/v1/cdrs?callId=${encodeURIComponent(callId)}`)).body.items?.[0], 15_000, 'CDR');
    const wav = await readWav(path.join(recordingsDir, row.path));
    expect(wav.channels).toBe(2);
    const fileMs = durationMs(wav);
    const callMs = Date.parse(cdr.endedAt) - Date.parse(cdr.startedAt);
    // The talk: the last seconds before the caller's BYE.
    const talk = [fileMs - 3000, fileMs - 500] as const;
    const levels = {
      ch1Caller: level(wav, 0, TONE.caller, ...talk), ch1Agent: level(wav, 0, TONE.agent, ...talk),
      ch2Agent: level(wav, 1, TONE.agent, ...talk), ch2Caller: level(wav, 1, TONE.caller, ...talk),
    };
    measured.push({ test: 'stereo', callId, fileMs, rowMs: row.duration_ms, callMs, sippMs: t1 - t0, talkWindowMs: talk, levels });
    expect(levels.ch1Caller).toBeGreaterThan(HEARD);
    expect(levels.ch1Agent).toBeLessThan(ABSENT);
    expect(levels.ch2Agent).toBeGreaterThan(HEARD);
    expect(levels.ch2Caller).toBeLessThan(ABSENT);
    // Duration: the file is what the row says, and the call (from the caller's answer to the BYE) within 1.5 s.
    expect(Math.abs(fileMs - row.duration_ms!)).toBeLessThan(100);
    expect(Math.abs(fileMs - callMs)).toBeLessThan(1500);
    // The call is over: its recording cannot be changed any more.
    const gone = await admin('POST', `/api/v1/calls/${callId}/recording/stop`);
    expect(gone.status).toBe(404);
    expect(gone.body.error.code).toBe('call-not-found');
  });

  it('PCI pause by API: the file is silent from the pause to the resume (within 300 ms), the audio on either side; refusals answer 409 with codes', async () => {
    const { desk, calling, callId, started } = await recordedCallTalking(9000);
    await holdFor(1500, 'recorded talk before the pause');
    const again = await admin('POST', `/api/v1/calls/${callId}/recording/start`);
    expect(again.status).toBe(409);
    expect(again.body.error.code).toBe('recording-already-active');
    expect((await admin('POST', `/api/v1/calls/${callId}/recording/resume`)).body.error.code).toBe('recording-not-paused');

    const pauseAt = Date.now();
    const paused = await admin('POST', `/api/v1/calls/${callId}/recording/pause`);
    expect(paused.status, JSON.stringify(paused.body)).toBe(200);
    expect(paused.body).toMatchObject({ callId, recordingId: started.id, state: 'paused' });
    const twice = await admin('POST', `/api/v1/calls/${callId}/recording/pause`);
    expect(twice.status).toBe(409);
    expect(twice.body.error.code).toBe('recording-already-paused');
    await holdFor(3000, 'the paused stretch');
    const resumeAt = Date.now();
    const resumed = await admin('POST', `/api/v1/calls/${callId}/recording/resume`);
    expect(resumed.status).toBe(200);
    expect(resumed.body.state).toBe('recording');
    const res = await calling;
    expect(res.code, res.output).toBe(0);
    await desk.done;

    const row = await recordingOf(callId);
    expect(row.pauses).toHaveLength(1);
    const pause = row.pauses[0]!;
    expect(pause.by).toBe('api');
    expect(Math.abs(Date.parse(pause.from) - pauseAt)).toBeLessThan(300);
    expect(Math.abs(Date.parse(pause.to!) - resumeAt)).toBeLessThan(300);
    const wav = await readWav(path.join(recordingsDir, row.path));
    // Where the pause and resume fall in the file: their times since the recording started.
    const startMs = new Date(row.started_at).getTime();
    const pauseMs = pauseAt - startMs;
    const resumeMs = resumeAt - startMs;
    const quiet = silences(wav);
    const stretch = quiet.find(([a, b]) => b > pauseMs && a < resumeMs);
    measured.push({ test: 'pci-pause', callId, pauseMs, resumeMs, silences: quiet, fileMs: durationMs(wav),
      before: { caller: level(wav, 0, TONE.caller, pauseMs - 1000, pauseMs - 300), agent: level(wav, 1, TONE.agent, pauseMs - 1000, pauseMs - 300) },
      during: { peak: peak(wav, pauseMs + 300, resumeMs - 300) },
      after: { caller: level(wav, 0, TONE.caller, resumeMs + 300, resumeMs + 1000), agent: level(wav, 1, TONE.agent, resumeMs + 300, resumeMs + 1000) } });
    expect(stretch, JSON.stringify(quiet)).toBeDefined();
    expect(Math.abs(stretch![0] - pauseMs)).toBeLessThan(300);
    expect(Math.abs(stretch![1] - resumeMs)).toBeLessThan(300);
    expect(peak(wav, pauseMs + 300, resumeMs - 300)).toBe(0);
    expect(level(wav, 0, TONE.caller, pauseMs - 1000, pauseMs - 300)).toBeGreaterThan(HEARD);
    expect(level(wav, 1, TONE.agent, pauseMs - 1000, pauseMs - 300)).toBeGreaterThan(HEARD);
    expect(level(wav, 0, TONE.caller, resumeMs + 300, resumeMs + 1000)).toBeGreaterThan(HEARD);
    expect(level(wav, 1, TONE.agent, resumeMs + 300, resumeMs + 1000)).toBeGreaterThan(HEARD);
    const unknown = await admin('POST', '/api/v1/calls/no-such-call/recording/pause');
    expect(unknown.status).toBe(404);
    expect(unknown.body.error.code).toBe('call-not-found');
  });

  it('the daemon killed mid-call, the caller hanging up while it is dead: Asterisk recorded on; the next daemon finishes and stores the recording', async () => {
    const { desk, calling, callId, started } = await recordedCallTalking(9000);
    await holdFor(1500, 'recorded talk before the kill');
    await daemon.kill();
    const killedAt = Date.now();
    const res = await calling;
    const endedAt = Date.now();
    expect(res.code, res.output).toBe(0);
    // Nobody finished it: still 'recording' while no daemon runs.
    expect((await db.selectFrom('recordings').select('state').where('id', '=', started.id).executeTakeFirstOrThrow()).state).toBe('recording');

    ({ daemon, admin } = await startReadyDaemon(daemonEnv()));
    const row = await recordingOf(callId);
    await desk.done;
    expect(row.id).toBe(started.id);
    const wav = await readWav(path.join(recordingsDir, row.path));
    const startMs = new Date(row.started_at).getTime();
    const killMs = killedAt - startMs;
    const afterKill = [killMs + 1000, endedAt - startMs - 600] as const;
    const levels = { caller: level(wav, 0, TONE.caller, ...afterKill), agent: level(wav, 1, TONE.agent, ...afterKill) };
    measured.push({ test: 'daemon-killed', callId, killMs, endMs: endedAt - startMs, fileMs: durationMs(wav), rowMs: row.duration_ms, afterKillWindow: afterKill, levels });
    expect(levels.caller).toBeGreaterThan(HEARD);
    expect(levels.agent).toBeGreaterThan(HEARD);
    expect(Math.abs(durationMs(wav) - (endedAt - startMs))).toBeLessThan(1500);
    await daemon.waitForLog((l) => l.msg === 'recording of a call that ended while the daemon was away: finishing it');
  });

  it('the daemon killed mid-call and back while the call goes on: it adopts the recording (pause by API works on it) and stores it when the call ends', async () => {
    const { desk, calling, callId, started } = await recordedCallTalking(12_000);
    await daemon.kill();
    ({ daemon, admin } = await startReadyDaemon(daemonEnv()));
    await daemon.waitForLog((l) => l.msg === 'recording kept running while the daemon was away: adopted');
    const pauseAt = Date.now();
    const paused = await admin('POST', `/api/v1/calls/${callId}/recording/pause`);
    expect(paused.status, JSON.stringify(paused.body)).toBe(200);
    expect(paused.body.recordingId).toBe(started.id);
    await holdFor(1500, 'a paused stretch after the restart');
    const resumeAt = Date.now();
    expect((await admin('POST', `/api/v1/calls/${callId}/recording/resume`)).status).toBe(200);
    const res = await calling;
    expect(res.code, res.output).toBe(0);
    await desk.done;
    const row = await recordingOf(callId);
    expect(row.id).toBe(started.id);
    expect(row.pauses).toHaveLength(1);
    const wav = await readWav(path.join(recordingsDir, row.path));
    const startMs = new Date(row.started_at).getTime();
    const quiet = silences(wav);
    measured.push({ test: 'daemon-restarted-call-on', callId, pauseMs: pauseAt - startMs, resumeMs: resumeAt - startMs, silences: quiet, fileMs: durationMs(wav) });
    const stretch = quiet.find(([a, b]) => b > pauseAt - startMs && a < resumeAt - startMs);
    expect(stretch, JSON.stringify(quiet)).toBeDefined();
    expect(Math.abs(stretch![0] - (pauseAt - startMs))).toBeLessThan(300);
    expect(Math.abs(stretch![1] - (resumeAt - startMs))).toBeLessThan(300);
  });

  it('a payment IVR pauses the recording with its recording node: the card digits reach the flow but not the CDR, its path or the logs; the file is silent meanwhile', async () => {
    // The carrier's trunk records every call (a queue would win over it; this call goes to a flow).
    await db.updateTable('trunks').set({ recording_policy: 'always' } as never).where('name', '=', 'rec-carrier').execute();
    const definition = {
      language: 'en',
      start: 'hello',
      nodes: {
        hello: { kind: 'play', prompt: { sound: 'hello-world' }, next: 'pause' },
        pause: { kind: 'recording', action: 'pause', next: 'card' },
        card: { kind: 'gather', prompt: { sound: 'hello-world' }, variable: 'card', minDigits: 4, maxDigits: 4, timeoutMs: 5000, next: 'resume', timeout: 'resume' },
        resume: { kind: 'recording', action: 'resume', next: 'after' },
        after: { kind: 'menu', prompt: { sound: 'hello-world' }, options: { '8': 'bye' }, fallback: 'bye', timeoutMs: 8000 },
        // A goodbye before the hangup: the caller's script is still sending the digit when '8' is taken.
        bye: { kind: 'play', prompt: { sound: 'vm-goodbye' }, next: 'end' },
        end: { kind: 'hangup' },
      },
    };
    expect((await admin('POST', '/api/v1/flows', { name: 'rec-pay', definition })).status).toBe(201);
    expect((await admin('POST', '/api/v1/flows/rec-pay/publish')).status).toBe(200);
    const did = '4930888002';
    expect((await admin('POST', '/api/v1/inbound-routes', { name: 'recorded pay line', didPattern: did, target: { kind: 'flow', flow: 'rec-pay' } })).status).toBe(201);
    const steps: CallerStep[] = [{ pause: 3500 }, { digit: '2' }, { digit: '3' }, { digit: '6' }, { digit: '7' }, { pause: 2500 }, { digit: '8' }];
    const scenarioFile = await dtmfScenario(steps, { waitForBye: true });
    const logsBefore = daemon.logs.length;
    const res = await sippCall({ scenario: 'uac-long-call', scenarioFile, dialed: did, sipPort: world.sipPort, user: CALLER, password: 'unused', localIp: CARRIER_IP, timeoutS: 60 });
    expect(res.code, res.output).toBe(0);
    const cdr = await eventually(async () => (await admin('GET', `/api/v1/cdrs?dialed=${did}&limit=1`)).body.items?.[0], 15_000, 'CDR of the pay line');
    const row = await recordingOf(cdr.callId);
    await db.updateTable('trunks').set({ recording_policy: null } as never).where('name', '=', 'rec-carrier').execute();
    const logs = daemon.logs.slice(logsBefore).map((l) => JSON.stringify(l)).join('\n');
    const live = JSON.stringify(await db.selectFrom('live_calls').selectAll().execute());
    const wav = await readWav(path.join(recordingsDir, row.path));
    const startMs = new Date(row.started_at).getTime();
    const pause = row.pauses[0]!;
    const [pauseMs, resumeMs] = [Date.parse(pause.from) - startMs, Date.parse(pause.to!) - startMs];
    measured.push({ test: 'ivr-pci-node', callId: cdr.callId, digits: cdr.digits, path: cdr.ivrPath?.path?.map((e: { kind: string; digits?: string }) => `${e.kind}:${e.digits ?? ''}`), pauses: row.pauses, pauseMs, resumeMs, silences: silences(wav), peakDuring: peak(wav, pauseMs + 200, resumeMs - 200), peakBefore: peak(wav, 0, pauseMs - 200), fileMs: durationMs(wav) });
    expect(cdr.digits).toBe('8');
    expect(JSON.stringify(cdr.ivrPath)).not.toContain('2367');
    expect(cdr.ivrPath.path.map((e: { kind: string }) => e.kind)).toEqual(['play', 'recording', 'gather', 'recording', 'menu', 'play', 'hangup']);
    expect(logs).not.toMatch(/2367|"digit":"[2367]"/);
    expect(live).not.toContain('2367');
    expect(row.pauses).toEqual([{ from: expect.any(String), to: expect.any(String), by: 'ivr' }]);
    expect(row.parts).toContain('ivr');
    // The gather's prompt played while paused and the digits were typed: the file holds silence from
    // the pause on, for at least the prompt's length. (This caller sends no audio, only its digits, and
    // MixMonitor writes only while media flows: the stretch between the prompt and the resume, with
    // nothing flowing either way, is not in the file. A real phone sends RTP all along; the queue
    // tests above, where both phones do, check the stretch against the clock.)
    const stretch = silences(wav).find(([a, b]) => b > pauseMs && a < pauseMs + 300);
    expect(stretch, JSON.stringify(silences(wav))).toBeDefined();
    expect(Math.abs(stretch![0] - pauseMs)).toBeLessThan(300);
    expect(stretch![1] - stretch![0]).toBeGreaterThan(1000);
    // ... and the prompts before and after it are in channel 2.
    expect(peak(wav, 0, pauseMs - 200)).toBeGreaterThan(1000);
    expect(peak(wav, stretch![1], durationMs(wav))).toBeGreaterThan(1000);
  });

  it('a queue with an announcement: the caller hears it first, the recording starts after it', async () => {
    const q = await admin('POST', '/api/v1/queues', { name: 'recq-notice', ringTimeoutSeconds: 10, wrapUpSeconds: 1, announceSeconds: 0, recordingPolicy: 'always', recordingAnnouncement: { text: 'This call may be recorded for quality and training.', language: 'en' } });
    expect(q.status, JSON.stringify(q.body)).toBe(201);
    expect((await admin('PUT', '/api/v1/queues/recq-notice/members', { agent: AGENT, penalty: 0 })).status).toBeLessThan(300);
    const did = '4930888001';
    expect((await admin('POST', '/api/v1/inbound-routes', { name: 'recorded notice line', didPattern: did, target: { kind: 'queue', queue: 'recq-notice' } })).status).toBe(201);
    await agentReady();
    const desk = await deskAnswers();
    const res = await sippCall({ scenario: 'uac-long-call', scenarioFile: scenarios.caller, dialed: did, sipPort: world.sipPort, user: CALLER, password: 'unused', localIp: CARRIER_IP, timeoutS: 90, set: { hold_ms: '9000' } });
    expect(res.code, res.output).toBe(0);
    await desk.done;
    const cdr = await eventually(async () => (await admin('GET', `/api/v1/cdrs?dialed=${did}&limit=1`)).body.items?.[0], 15_000, 'CDR of the notice line');
    const row = await recordingOf(cdr.callId);
    const late = new Date(row.started_at).getTime() - Date.parse(cdr.answeredAt);
    measured.push({ test: 'announcement', callId: cdr.callId, recordingStartsAfterAnswerMs: late, fileMs: row.duration_ms });
    // espeak-ng says the sentence in about 3 s: the recording starts once it has played.
    expect(late).toBeGreaterThan(1500);
    expect(late).toBeLessThan(8000);
    const wav = await readWav(path.join(recordingsDir, row.path));
    expect(level(wav, 1, TONE.agent, durationMs(wav) - 2500, durationMs(wav) - 500)).toBeGreaterThan(HEARD);
  });

  it('an inbound route with policy always, its DID straight to an extension: the call is recorded, stereo, each party\'s tone on its channel', async () => {
    const did = '4930888003';
    const route = await admin('POST', '/api/v1/inbound-routes', { name: 'recorded direct line', didPattern: did, target: { kind: 'extension', number: DESK }, recordingPolicy: 'always' });
    expect(route.status, JSON.stringify(route.body)).toBe(201);
    expect(route.body.recordingPolicy).toBe('always');
    await agentReady();
    const desk = await deskAnswers();
    const calling = callerCalls(6000, did);
    const callId = await liveCallId(did);
    const res = await calling;
    expect(res.code, res.output).toBe(0);
    expect((await desk.done).code).toBe(0);
    const row = await recordingOf(callId);
    expect(row).toMatchObject({ channels: 2, queue: null, caller: CALLER, called: did });
    expect(row.parts).toContain('talk');
    await daemon.waitForLog((l) => l.msg === 'recording policy' && l['policyFrom'] === 'inbound-route' && l['decision'] === 'record');
    const wav = await readWav(path.join(recordingsDir, row.path));
    const fileMs = durationMs(wav);
    const talk = [fileMs - 3000, fileMs - 500] as const;
    const levels = {
      ch1Caller: level(wav, 0, TONE.caller, ...talk), ch1Agent: level(wav, 0, TONE.agent, ...talk),
      ch2Agent: level(wav, 1, TONE.agent, ...talk), ch2Caller: level(wav, 1, TONE.caller, ...talk),
    };
    measured.push({ test: 'inbound-route-always', callId, fileMs, levels });
    expect(levels.ch1Caller).toBeGreaterThan(HEARD);
    expect(levels.ch1Agent).toBeLessThan(ABSENT);
    expect(levels.ch2Agent).toBeGreaterThan(HEARD);
    expect(levels.ch2Caller).toBeLessThan(ABSENT);
  });

  it('on demand from the handset: the agent presses *# and a recording starts, *# again and it stops (row and file with both tones)', async () => {
    const q = await admin('POST', '/api/v1/queues', { name: 'recq-demand', ringTimeoutSeconds: 10, wrapUpSeconds: 1, announceSeconds: 0, recordingPolicy: 'on-demand' });
    expect(q.status, JSON.stringify(q.body)).toBe(201);
    expect((await admin('PUT', '/api/v1/queues/recq-demand/members', { agent: AGENT, penalty: 0 })).status).toBeLessThan(300);
    const did = '4930888004';
    expect((await admin('POST', '/api/v1/inbound-routes', { name: 'recorded on demand line', didPattern: did, target: { kind: 'queue', queue: 'recq-demand' } })).status).toBe(201);
    // The agent's phone: its tone and its keys in one RTP stream, as a phone sends them (test/support/rtp-pcap.ts).
    const ulaw = await readFile(path.join(tmpdir(), `pbx-e2e-rec-${TONE.agent}.ul`));
    const pcapFile = path.join(tmpdir(), `pbx-e2e-rec-${process.pid}-handset.pcap`);
    await writePhoneRtpPcap(pcapFile, ulaw, [{ audioMs: 2500 }, { key: '*' }, { key: '#' }, { audioMs: 4000 }, { key: '*' }, { key: '#' }, { audioMs: 8000 }]);
    const phone = path.join(tmpdir(), `pbx-e2e-rec-${process.pid}-rec-phone-pcap.xml`);
    await writeFile(phone, (await readFile(path.join(REPO, 'test/e2e/sipp/rec-phone-pcap.xml'), 'utf8')).replaceAll('PCAP_FILE', pcapFile));
    await agentReady();
    const desk = await deskAnswers(phone);
    const calling = callerCalls(11_000, did);
    const callId = await liveCallId(did);
    // Policy on-demand: nothing records until the key.
    const started = await eventually(async () => db.selectFrom('recordings').selectAll().where('call_id', '=', callId).executeTakeFirst(), 15_000, 'a recording started by *#');
    const startedAt = Date.now();
    const row = await recordingOf(callId);
    const stoppedAt = Date.now();
    const res = await calling;
    expect(res.code, res.output).toBe(0);
    await desk.done;
    expect(row.id).toBe(started.id);
    expect(row.agent).toBe(AGENT);
    const toggles = daemon.logs.filter((l) => l.msg === 'recording toggled from the handset');
    expect(toggles.map((l) => [l['action'], l['ok']])).toEqual([['start', true], ['stop', true]]);
    // Stopped by the second *# (4.4 s of audio and keys after the first), long before the call ended.
    const wav = await readWav(path.join(recordingsDir, row.path));
    const fileMs = durationMs(wav);
    const rows = await db.selectFrom('recordings').select(sql<number>`count(*)::int`.as('n')).where('call_id', '=', callId).executeTakeFirstOrThrow();
    const levels = { caller: level(wav, 0, TONE.caller, 500, fileMs - 800), agent: level(wav, 1, TONE.agent, 500, fileMs - 800), agentOnCh1: level(wav, 0, TONE.agent, 500, fileMs - 800) };
    measured.push({ test: 'handset-toggle', callId, fileMs, rowMs: row.duration_ms, stoppedSeenMs: stoppedAt - startedAt, levels });
    expect(rows.n).toBe(1);
    expect(fileMs).toBeGreaterThan(3500);
    expect(fileMs).toBeLessThan(5500);
    expect(levels.caller).toBeGreaterThan(HEARD);
    expect(levels.agent).toBeGreaterThan(HEARD);
    expect(levels.agentOnCh1).toBeLessThan(ABSENT);
  });

  it('on demand from the handset: the carrier\'s caller pressing *# does nothing (only our phones work the key)', async () => {
    const q = await admin('POST', '/api/v1/queues', { name: 'recq-demand-caller', ringTimeoutSeconds: 10, wrapUpSeconds: 1, announceSeconds: 0, recordingPolicy: 'on-demand' });
    expect(q.status, JSON.stringify(q.body)).toBe(201);
    expect((await admin('PUT', '/api/v1/queues/recq-demand-caller/members', { agent: AGENT, penalty: 0 })).status).toBeLessThan(300);
    const did = '4930888005';
    expect((await admin('POST', '/api/v1/inbound-routes', { name: 'recorded caller key line', didPattern: did, target: { kind: 'queue', queue: 'recq-demand-caller' } })).status).toBe(201);
    await agentReady();
    const desk = await deskAnswers();
    const logsBefore = daemon.logs.length;
    // The caller is answered on joining the queue; the agent's phone answers within a second; then *#.
    const scenarioFile = await dtmfScenario([{ pause: 4000 }, { digit: '*' }, { digit: '#' }], { hangUpAfter: 3000 });
    const calling = sippCall({ scenario: 'uac-long-call', scenarioFile, dialed: did, sipPort: world.sipPort, user: CALLER, password: 'unused', localIp: CARRIER_IP, timeoutS: 60 });
    const callId = await liveCallId(did);
    const res = await calling;
    expect(res.code, res.output).toBe(0);
    expect((await desk.done).code).toBe(0);
    const cdr = await eventually(async () => (await admin('GET', `/api/v1/cdrs?callId=${encodeURIComponent(callId)}`)).body.items?.[0], 15_000, 'CDR');
    expect(cdr).toMatchObject({ disposition: 'ANSWERED', agent: AGENT });
    expect(cdr.talkSeconds).toBeGreaterThanOrEqual(3); // the keys came during the talk
    const rows = await db.selectFrom('recordings').select(sql<number>`count(*)::int`.as('n')).where('call_id', '=', callId).executeTakeFirstOrThrow();
    expect(rows.n).toBe(0);
    expect(daemon.logs.slice(logsBefore).filter((l) => l.msg === 'recording toggled from the handset')).toEqual([]);
    measured.push({ test: 'handset-key-from-caller', callId, talkSeconds: cdr.talkSeconds, recordings: rows.n });
  });

  it('the recordings disk below its free-space threshold: no recording starts, the call goes on, a log line says why', async () => {
    // A small tmpfs, nearly full, as the recordings folder; the threshold is 2 MB.
    const full = `${instDir}/lib/recordings-full`;
    await mkdir(full, { recursive: true });
    await run('mount', ['-t', 'tmpfs', '-o', 'size=4m,mode=2770', 'pbx-e2e-rec-full', full]);
    try {
      await chown(full, 0, 0).catch(() => undefined);
      await run('chown', ['asterisk:pbx', full]);
      await run('dd', ['if=/dev/zero', `of=${full}/filler`, 'bs=1M', 'count=3']);
      await daemon.stop();
      ({ daemon, admin } = await startReadyDaemon(daemonEnv({
        PBX_RECORDINGS_DIR: full,
        PBX_RECORDINGS_DIR_ASTERISK: full.slice(full.indexOf('/var/lib/pbx-instances/')),
        PBX_RECORDINGS_MIN_FREE_MB: '2',
      })));
      await agentReady();
      const desk = await deskAnswers();
      const calling = callerCalls(3000);
      const callId = await liveCallId();
      const res = await calling;
      expect(res.code, res.output).toBe(0);
      expect((await desk.done).code).toBe(0);
      const cdr = await eventually(async () => (await admin('GET', `/api/v1/cdrs?callId=${encodeURIComponent(callId)}`)).body.items?.[0], 15_000, 'CDR');
      expect(cdr).toMatchObject({ disposition: 'ANSWERED', agent: AGENT, queue: 'recq' });
      const line = daemon.logs.find((l) => /recording not started/.test(l.msg));
      expect(line, 'a log line saying why').toBeDefined();
      const rows = await db.selectFrom('recordings').select(sql<number>`count(*)::int`.as('n')).where('call_id', '=', callId).executeTakeFirstOrThrow();
      expect(rows.n).toBe(0);
      measured.push({ test: 'disk-full', callId, log: line });
    } finally {
      await daemon.stop();
      await run('umount', [full]).catch(() => undefined);
      await rm(full, { recursive: true, force: true });
      ({ daemon, admin } = await startReadyDaemon(daemonEnv()));
    }
  });
});

describe('recording across an attended transfer (SIP REFER with Replaces)', () => {
  // A (6311) calls B (6312); B's second line has called C (6313) first, the consultation; B REFERs
  // A's call replacing the consultation: A's call survives with A and C (test/e2e/transfers.test.ts).
  const X = { a: '6311', b: '6312', c: '6313' } as const;
  const pw = new Map<string, string>();

  beforeAll(async () => {
    for (const [number, displayName] of [[X.a, 'Rec A'], [X.b, 'Rec B'], [X.c, 'Rec C']] as const) {
      pw.set(number, await createScriptedExtension(admin, world.db, { number, displayName }));
    }
  });

  /** The transfer with tones: A sends 440 Hz for `holdMs`, C answers the consultation and sends 1000 Hz. The three CDRs. */
  async function attendedTransfer(holdMs: number) {
    const cPort = await freePort(true);
    const reg = await registerPhone({ sipPort: world.sipPort, ext: X.c, password: pw.get(X.c)!, port: cPort });
    expect(reg.code, reg.output).toBe(0);
    const cLog = path.join(tmpdir(), `pbx-e2e-rec-xfer-c-${Date.now()}.log`);
    const c = runSipp(['-sf', scenarios.phone, '-p', String(cPort), '-mp', String(await freePort(true)), '-i', '127.0.0.1', '-m', '1', '-timeout', '60s', '-timeout_error', '-nostdin', '-trace_logs', '-log_file', cLog]);
    const since = new Date(Date.now() - 50);
    const consultLog = path.join(tmpdir(), `pbx-e2e-rec-xfer-consult-${Date.now()}.log`);
    const consult = sippCall({ scenario: 'xfer-consult', dialed: X.c, sipPort: world.sipPort, user: X.b, password: pw.get(X.b)!, logFile: consultLog });
    const ids = await eventually(async () => {
      const m = /consult-dialog call-id=(\S+) from-tag=(\S+) to-tag=(\S+)/.exec(await readFile(consultLog, 'utf8').catch(() => ''));
      return m ? { callId: m[1]!, fromTag: m[2]!, toTag: m[3]! } : undefined;
    }, 15_000, 'consultation call answered');
    const bPort = await freePort(true);
    const regB = await registerPhone({ sipPort: world.sipPort, ext: X.b, password: pw.get(X.b)!, port: bPort });
    expect(regB.code, regB.output).toBe(0);
    const replaces = encodeURIComponent(`${ids.callId};to-tag=${ids.toTag};from-tag=${ids.fromTag}`);
    const b = runSipp(['-sf', path.join(REPO, 'test/e2e/sipp/xfer-attended.xml'), '-p', String(bPort), '-mp', String(await freePort(true)), '-i', '127.0.0.1', '-m', '1',
      '-key', 'target', X.c, '-key', 'replaces', replaces, '-timeout', '60s', '-timeout_error', '-nostdin']);
    const a = await sippCall({ scenario: 'uac-long-call', scenarioFile: scenarios.caller, dialed: X.b, sipPort: world.sipPort, user: X.a, password: pw.get(X.a)!, timeoutS: 60, set: { hold_ms: String(holdMs) } });
    const [bDone, cDone, consultDone] = await Promise.all([b.done, c.done, consult]);
    expect(a.code, a.output).toBe(0);
    expect(bDone.code, bDone.output).toBe(0);
    expect(cDone.code, cDone.output).toBe(0);
    expect(consultDone.code, consultDone.output).toBe(0);
    const cdr = (from: string, to: string) => eventually(async () => (await admin('GET', `/api/v1/cdrs?caller=${from}&dialed=${to}&from=${encodeURIComponent(since.toISOString())}&limit=1`)).body.items?.[0] as { callId: string; linkedId: string | null } | undefined, 15_000, `CDR ${from}->${to}`);
    return { first: await cdr(X.a, X.b), consultation: await cdr(X.b, X.c), joined: await cdr(X.a, X.c) };
  }

  /** A's tone on channel 1 and C's on channel 2 (and not the other way) over the file's last seconds: the joined part. */
  async function joinedTones(row: Row, test: string) {
    const wav = await readWav(path.join(recordingsDir, row.path));
    const fileMs = durationMs(wav);
    const talk = [fileMs - 2500, fileMs - 500] as const;
    const levels = {
      ch1A: level(wav, 0, TONE.caller, ...talk), ch1C: level(wav, 0, TONE.agent, ...talk),
      ch2C: level(wav, 1, TONE.agent, ...talk), ch2A: level(wav, 1, TONE.caller, ...talk),
    };
    measured.push({ test, callId: row.call_id, linkedId: row.linked_id, parts: row.parts, fileMs, levels });
    expect(levels.ch1A).toBeGreaterThan(HEARD);
    expect(levels.ch1C).toBeLessThan(ABSENT);
    expect(levels.ch2C).toBeGreaterThan(HEARD);
    expect(levels.ch2A).toBeLessThan(ABSENT);
    return fileMs;
  }

  it('A\'s call recorded (B\'s policy always): the recording on A\'s channel goes on through the transfer and holds A and then C', async () => {
    expect((await admin('PATCH', `/api/v1/extensions/${X.b}`, { recordingPolicy: 'always' })).status).toBe(200);
    try {
      const { first, joined } = await attendedTransfer(8000);
      expect(joined.linkedId).toBe(first.callId);
      const row = await recordingOf(first.callId);
      expect(row.parts).toEqual(expect.arrayContaining(['talk', 'transfer']));
      const fileMs = await joinedTones(row, 'attended-transfer-a-recorded');
      // One recording for the whole call: from B's answer to A's hang-up (~8 s).
      expect(fileMs).toBeGreaterThan(6000);
      const later = await db.selectFrom('recordings').select('id').where('call_id', '=', joined.callId).execute();
      expect(later).toEqual([]);
    } finally {
      await admin('PATCH', `/api/v1/extensions/${X.b}`, { recordingPolicy: null });
    }
  });

  it('the consultation recorded (C\'s policy always), A\'s call not: the consultation\'s recording ends with it, and a new one records A with C, linked to the call', async () => {
    expect((await admin('PATCH', `/api/v1/extensions/${X.c}`, { recordingPolicy: 'always' })).status).toBe(200);
    try {
      const { first, consultation, joined } = await attendedTransfer(8000);
      expect(await db.selectFrom('recordings').select('id').where('call_id', '=', first.callId).execute()).toEqual([]);
      const consulted = await recordingOf(consultation.callId);
      expect(consulted.parts).toEqual(expect.arrayContaining(['talk', 'transfer']));
      const row = await recordingOf(joined.callId);
      expect(row).toMatchObject({ linked_id: first.callId, channels: 2 });
      expect(row.parts).toEqual(expect.arrayContaining(['transfer', 'talk']));
      await daemon.waitForLog((l) => l.msg === 'recording carried on after an attended transfer');
      await joinedTones(row, 'attended-transfer-consultation-recorded');
    } finally {
      await admin('PATCH', `/api/v1/extensions/${X.c}`, { recordingPolicy: null });
    }
  });
});
