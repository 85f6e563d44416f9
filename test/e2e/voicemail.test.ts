/**
 * Voicemail end to end, through the real Asterisk and the built daemon with SIPp phones:
 *   - an unanswered call goes to the mailbox: greeting, beep, the caller talks and hangs up; the
 *     message is stored (row + WAV in the data folder) and downloads through the API;
 *   - the mailbox's registered phone gets the message-summary NOTIFY (lamp on), and again (off)
 *     when the message is deleted;
 *   - *97 with the PIN (RFC 4733 digits) reaches the messages (9 marks one heard); a wrong PIN
 *     three times is hung up and logged;
 *   - the daemon killed while a caller is recording: the message is kept, whether the caller hangs
 *     up while no daemon runs or the restarted daemon ends the call.
 */
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { spawn } from 'node:child_process';
import { mkdtemp, readFile, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { Daemon, eventually } from '../support/daemon.js';
import { Api, cliToken } from '../support/api.js';
import { registerPhone, startPhone, type SippResult } from '../support/sipp.js';
import { REPO, asteriskInstance } from '../support/asterisk.js';
import { freePort } from '../support/ports.js';
import { openDb } from '../support/db.js';

const world = inject('e2e');
const CALLER = '4101';
const MAILBOX = '4102';
const OFFLINE = '4103'; // a mailbox whose phone is never registered: callers go straight to voicemail
const PIN = '1357'; // the digits vm-uac-mailbox.xml sends (ascending: see its header)
let daemon: Daemon;
let api: Api;
let adminToken: string;
let dataDir: string;
const base = () => `http://127.0.0.1:${world.daemonEnv['PBX_HTTP_PORT']}`;
const passwords = new Map<string, string>();

async function admin(method: string, url: string, body?: unknown): Promise<{ status: number; body: any; headers: Headers; bytes: Buffer }> { // eslint-disable-line @typescript-eslint/no-explicit-any
  const res = await fetch(base() + url, {
    method,
    headers: { authorization: `Bearer ${adminToken}`, ...(body ? { 'content-type': 'application/json' } : {}) },
    body: body ? JSON.stringify(body) : undefined,
  });
  const bytes = Buffer.from(await res.arrayBuffer());
  const json = (res.headers.get('content-type') ?? '').includes('json') ? JSON.parse(bytes.toString()) : null;
  return { status: res.status, body: json, headers: res.headers, bytes };
}

async function createExtension(number: string, displayName: string, extra: Record<string, unknown> = {}): Promise<void> {
  const res = await admin('POST', '/api/v1/extensions', { number, displayName, ...extra });
  expect(res.status, JSON.stringify(res.body)).toBe(201);
  passwords.set(number, res.body.secret);
  // Scripted phones take neither connected-line re-INVITEs nor OPTIONS keep-alives (see extensions.test.ts).
  const db = openDb(world.db);
  await db.updateTable('ps_endpoints').set({ send_connected_line: 'no' } as never).where('id', '=', number).execute();
  await db.updateTable('ps_aors').set({ qualify_frequency: 0 }).where('id', '=', number).execute();
  await db.destroy();
}

function sipp(args: string[]): { done: Promise<SippResult> } {
  const proc = spawn('sipp', args, { stdio: ['ignore', 'pipe', 'pipe'] });
  let output = '';
  proc.stdout.on('data', (c: Buffer) => (output += c.toString()));
  proc.stderr.on('data', (c: Buffer) => (output += c.toString()));
  return { done: new Promise((resolve) => proc.once('exit', (code) => resolve({ code, output: output.slice(-4000) }))) };
}

/** A call from `from` with one of the vm-uac-*.xml scenarios. */
async function call(from: string, to: string, scenario: 'vm-uac-leave-message' | 'vm-uac-mailbox' | 'vm-uac-wrong-pin', set: Record<string, string> = {}): Promise<SippResult> {
  const [localPort, mediaPort] = [await freePort(true), await freePort(true)];
  return sipp([
    ...Object.entries(set).flatMap(([k, v]) => ['-set', k, v]),
    `127.0.0.1:${world.sipPort}`, '-sf', path.join(REPO, 'test/e2e/sipp', `${scenario}.xml`), '-s', to,
    '-key', 'caller', from, '-au', from, '-ap', passwords.get(from)!, '-m', '1', '-l', '1',
    '-p', String(localPort), '-mp', String(mediaPort), '-i', '127.0.0.1', '-timeout', '60s', '-timeout_error', '-nostdin',
  ]).done;
}

/** The mailbox phone on `port` waits for one MWI NOTIFY; resolves with what it received. */
async function mwiListener(port: number): Promise<{ done: Promise<SippResult>; messages: () => Promise<string> }> {
  const file = path.join(tmpdir(), `pbx-e2e-mwi-${port}-${Date.now()}.msg`);
  const run = sipp([
    '-sf', path.join(REPO, 'test/e2e/sipp/vm-phone-mwi.xml'), '-p', String(port), '-i', '127.0.0.1', '-m', '1',
    '-timeout', '60s', '-timeout_error', '-nostdin', '-trace_msg', '-message_file', file,
  ]);
  return { done: run.done, messages: () => readFile(file, 'utf8') };
}

let phonePort = 0;
let messageId = '';

beforeAll(async () => {
  dataDir = await mkdtemp(path.join(tmpdir(), 'pbx-e2e-vm-'));
  daemon = Daemon.start({ ...world.daemonEnv, PBX_DATA_DIR: dataDir });
  adminToken = await cliToken(world.daemonEnv, 'admin');
  api = Api.for(world.daemonEnv, adminToken);
  await eventually(async () => ((await api.ready()) === 200 ? true : undefined), 30_000, 'daemon ready');
  await createExtension(CALLER, 'Vera Caller');
  await createExtension(MAILBOX, 'Max Mailbox', { voicemailPin: PIN, ringTimeoutSeconds: 5 });
  await createExtension(OFFLINE, 'Olga Offline', { voicemailPin: PIN });
  phonePort = await freePort(true);
  const reg = await registerPhone({ sipPort: world.sipPort, ext: MAILBOX, password: passwords.get(MAILBOX)!, port: phonePort });
  expect(reg.code, reg.output).toBe(0);
});

afterAll(async () => {
  await daemon?.stop();
  if (dataDir) await rm(dataDir, { recursive: true, force: true });
});

describe('voicemail', () => {
  it('an unanswered call leaves a message; the lamp of the mailbox phone goes on; the audio downloads', async () => {
    const phone = await startPhone('phone-no-answer', phonePort, path.join(tmpdir(), `pbx-e2e-vm-phone-${phonePort}.log`));
    const caller = call(CALLER, MAILBOX, 'vm-uac-leave-message');
    expect((await phone.done).code).toBe(0); // rang 5 s, then cancelled
    const lamp = await mwiListener(phonePort); // the same phone now waits for the NOTIFY
    const res = await caller;
    expect(res.code, res.output).toBe(0);
    const mwi = await lamp.done;
    expect(mwi.code, mwi.output).toBe(0);
    const notify = await lamp.messages();
    expect(notify).toMatch(/Event: message-summary/i);
    expect(notify).toContain('Messages-Waiting: yes');
    expect(notify).toContain('Voice-Message: 1/0');

    const list = await eventually(async () => {
      const r = await admin('GET', `/api/v1/extensions/${MAILBOX}/voicemail`);
      return r.status === 200 && r.body.items.length === 1 ? r.body.items : undefined;
    }, 10_000, 'message listed');
    const msg = list[0];
    expect(msg).toMatchObject({ mailbox: MAILBOX, callerNumber: CALLER, callerName: 'Vera Caller', heard: false });
    expect(msg.durationMs).toBeGreaterThan(2_000);
    messageId = msg.id;

    const audio = await admin('GET', `/api/v1/extensions/${MAILBOX}/voicemail/${msg.id}/audio`);
    expect(audio.status).toBe(200);
    expect(audio.headers.get('content-type')).toBe('audio/wav');
    expect(Number(audio.headers.get('content-length'))).toBe(msg.sizeBytes);
    expect(audio.bytes.subarray(0, 4).toString()).toBe('RIFF');
    expect(audio.bytes.length).toBe(msg.sizeBytes);
    // Not silence: the caller's speech is in the file.
    const samples = new Int16Array(audio.bytes.buffer, audio.bytes.byteOffset + 44, (audio.bytes.length - 44) >> 1);
    expect(samples.reduce((m, v) => Math.max(m, Math.abs(v)), 0)).toBeGreaterThan(1_000);

    const db = openDb(world.db);
    const row = await db.selectFrom('voicemail_messages').selectAll().where('id', '=', msg.id).executeTakeFirstOrThrow();
    await db.destroy();
    expect(row.file_path.startsWith(dataDir)).toBe(true);
    expect((await stat(row.file_path)).size).toBe(msg.sizeBytes);
    // The message points at its call: the CDR with that call id.
    const cdr = await eventually(async () => (await api.cdrs(`callId=${encodeURIComponent(row.call_id)}`))[0], 10_000, 'CDR');
    expect(cdr).toMatchObject({ disposition: 'ANSWERED' });
  });

  it('a phone that registers again (say, rebooted) while a message waits gets its lamp set again', async () => {
    expect(messageId).not.toBe('');
    const reg = await registerPhone({ sipPort: world.sipPort, ext: MAILBOX, password: passwords.get(MAILBOX)!, port: phonePort });
    expect(reg.code, reg.output).toBe(0);
    const lamp = await mwiListener(phonePort); // the NOTIFY, or its retransmission, once the phone listens again
    const mwi = await lamp.done;
    expect(mwi.code, mwi.output).toBe(0);
    expect(await lamp.messages()).toContain('Messages-Waiting: yes');
  });

  it('*97 with the PIN reaches the messages: 9 saves the message (heard)', async () => {
    expect(messageId).not.toBe('');
    const lamp = await mwiListener(phonePort); // marking it heard turns the lamp off
    const res = await call(MAILBOX, '*97', 'vm-uac-mailbox');
    expect(res.code, res.output).toBe(0);
    const mwi = await lamp.done;
    expect(mwi.code, mwi.output).toBe(0);
    expect(await lamp.messages()).toContain('Messages-Waiting: no');
    const msg = await admin('GET', `/api/v1/extensions/${MAILBOX}/voicemail/${messageId}`);
    expect(msg.body).toMatchObject({ heard: true });
  });

  it('*97 with a wrong PIN three times is hung up and logged', async () => {
    const res = await call(MAILBOX, '*97', 'vm-uac-wrong-pin');
    expect(res.code, res.output).toBe(0);
    // Each wrong PIN is the auth-failure line fail2ban reads, with the address the phone sends SIP from.
    const wrong = daemon.logs.filter((l) => l['event'] === 'auth-failure' && l['kind'] === 'voicemail' && l['mailbox'] === MAILBOX);
    expect(wrong.length).toBeGreaterThanOrEqual(3);
    expect(wrong.map((l) => l['reason'])).toContain('wrong-pin');
    expect(new Set(wrong.map((l) => l['ip']))).toEqual(new Set(['127.0.0.1']));
    await daemon.waitForLog((l) => l.msg === 'voicemail PIN wrong too often; hanging up', 5_000);
  });

  it('deleting through the API removes row and file and updates the lamp', async () => {
    const lamp = await mwiListener(phonePort);
    await admin('PATCH', `/api/v1/extensions/${MAILBOX}/voicemail/${messageId}`, { heard: false }); // lamp on again
    expect((await lamp.done).code).toBe(0);
    expect(await lamp.messages()).toContain('Messages-Waiting: yes');
    const off = await mwiListener(phonePort);
    const del = await admin('DELETE', `/api/v1/extensions/${MAILBOX}/voicemail/${messageId}`);
    expect(del.status).toBe(204);
    expect((await off.done).code).toBe(0);
    expect(await off.messages()).toContain('Messages-Waiting: no');
    expect((await admin('GET', `/api/v1/extensions/${MAILBOX}/voicemail/${messageId}/audio`)).status).toBe(404);
    expect((await admin('GET', `/api/v1/extensions/${MAILBOX}/voicemail`)).body.items).toEqual([]);
  });

  describe('the daemon dies while a caller is recording a message', () => {
    /** Starts a caller leaving a message for OFFLINE; resolves once Asterisk is recording it. */
    async function recordingCall(talkMs: number): Promise<{ caller: Promise<SippResult>; recording: string }> {
      const caller = call(CALLER, OFFLINE, 'vm-uac-leave-message', { talk_ms: String(talkMs) });
      const db = openDb(world.db);
      try {
        const recording = await eventually(async () => {
          const row = await db.selectFrom('live_calls').select('recording_name').where('dialed_number', '=', OFFLINE).executeTakeFirst();
          return row?.recording_name ?? undefined;
        }, 20_000, 'recording started');
        // The caller talks a little: until Asterisk's file holds 1.5 s of it.
        await eventually(async () => ((await recordedMs(recording)) >= 1_500 ? true : undefined), 20_000, `1.5 s recorded in ${recording}`, 100);
        return { caller, recording };
      } finally {
        await db.destroy();
      }
    }

    /** How much Asterisk has written of `recording` so far (wav: 8 kHz 16-bit mono, 16 bytes a ms after a 44-byte header). */
    async function recordedMs(recording: string): Promise<number> {
      const dir = (await asteriskInstance('path', world.asteriskEnv)).trim();
      const size = await stat(path.join(dir, 'spool/recording', `${recording}.wav`)).then((s) => s.size, () => 0);
      return Math.max(0, (size - 44) / 16);
    }

    async function messageOf(recording: string): Promise<{ durationMs: number; callerNumber: string }> {
      return eventually(async () => {
        const r = await admin('GET', `/api/v1/extensions/${OFFLINE}/voicemail`);
        const db = openDb(world.db);
        const row = await db.selectFrom('voicemail_messages').select(['id', 'recording_name']).where('recording_name', '=', recording).executeTakeFirst();
        await db.destroy();
        return row ? r.body.items.find((m: { id: string }) => m.id === row.id) : undefined;
      }, 20_000, `message ${recording} saved`);
    }

    it('the caller hangs up while no daemon runs: the next daemon keeps the message', async () => {
      const { caller, recording } = await recordingCall(5000);
      await daemon.kill();
      expect((await caller).code).toBe(0); // talked 5 s and hung up, as scripted
      daemon = Daemon.start({ ...world.daemonEnv, PBX_DATA_DIR: dataDir });
      const msg = await messageOf(recording);
      expect(msg).toMatchObject({ callerNumber: CALLER });
      expect(msg.durationMs).toBeGreaterThan(3_000);
    });

    it('the caller is still talking when the daemon is back: it ends the call and keeps the message', async () => {
      const { caller, recording } = await recordingCall(20_000); // talks on until the daemon hangs up
      await daemon.kill();
      daemon = Daemon.start({ ...world.daemonEnv, PBX_DATA_DIR: dataDir });
      const msg = await messageOf(recording);
      expect(msg).toMatchObject({ callerNumber: CALLER });
      expect(msg.durationMs).toBeGreaterThan(1_000);
      await caller; // hung up by the daemon (SIPp wanted to hang up itself: its exit code does not matter)
    });
  });
});
