/**
 * Voicemail API against real Postgres: list, download, mark heard, delete (row, file, audit, MWI),
 * 404s and bad input naming the field. The feature's plugin is mounted on the daemon's server (buildHttp) like src/app.ts does.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { FastifyInstance } from 'fastify';
import { mkdtemp, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import type { App } from '../../src/app.js';
import { AuthService, CLI_ACTOR } from '../../src/auth/service.js';
import { buildHttp } from '../../src/http/server.js';
import { createLogger } from '../../src/logger.js';
import { voicemailPlugin } from '../../src/voicemail/plugin.js';
import { VoicemailService } from '../../src/voicemail/service.js';
import { VOICEMAIL_PIN_LOCK_SECONDS } from '../../src/voicemail/repository.js';
import { sql } from 'kysely';
import { silentWav } from '../../src/voicemail/audio.js';
import { startTestApp, testConfig } from '../support/app.js';
import { ExtensionService } from '../../src/extensions/service.js';
import { testSecretBox } from '../support/env.js';

let app: App;
let http: FastifyInstance;
let adminToken: string;
let viewerToken: string;
let supervisorToken: string;
let dataDir: string;
const mwi: Record<string, string>[] = [];
const asteriskCopies = new Map<string, Buffer>();
let voicemail: VoicemailService;

const req = (method: 'GET' | 'POST' | 'PATCH' | 'DELETE', url: string, body?: unknown, token = adminToken) =>
  http.inject({ method, url, headers: { authorization: `Bearer ${token}` }, ...(body === undefined ? {} : { payload: body as object }) });

beforeAll(async () => {
  app = await startTestApp();
  const auth = new AuthService(app.db);
  adminToken = (await auth.createToken(CLI_ACTOR, { username: 'vm-admin', name: 'it', ttlDays: 1, ensureRole: 'admin' })).token;
  viewerToken = (await auth.createToken(CLI_ACTOR, { username: 'vm-viewer', name: 'it', ttlDays: 1, ensureRole: 'viewer' })).token;
  supervisorToken = (await auth.createToken(CLI_ACTOR, { username: 'vm-supervisor', name: 'it', ttlDays: 1, ensureRole: 'supervisor' })).token;
  dataDir = await mkdtemp(path.join(tmpdir(), 'pbx-it-vm-'));
  voicemail = new VoicemailService({
    db: app.db,
    recordings: {
      storedRecordingFile: async (name) => asteriskCopies.get(name) ?? null,
      deleteStoredRecording: async (name) => void asteriskCopies.delete(name),
    },
    mwi: { action: async (fields) => (mwi.push(fields), { response: 'Success' }) },
    dataDir,
    log: createLogger('silent'),
  });
  // The daemon's server (src/http/server.ts): its validation options, body parser and auth limits.
  http = await buildHttp({ log: createLogger('silent'), version: 'test', authFailures: testConfig().http.authFailures });
  await http.register(voicemailPlugin, { auth, voicemail, prefix: '/api/v1' });
  await http.ready();
  for (const [number, pin] of [['3201', '4821'], ['3202', null]] as const) {
    await app.http.inject({ method: 'POST', url: '/api/v1/extensions', headers: { authorization: `Bearer ${adminToken}` }, payload: { number, displayName: `Box ${number}`, ...(pin ? { voicemailPin: pin } : {}) } });
  }
});
afterAll(async () => {
  await http?.close();
  await app?.stop();
  if (dataDir) await rm(dataDir, { recursive: true, force: true });
});

async function leave(name: string, ms: number) {
  asteriskCopies.set(name, silentWav(ms));
  voicemail.recordingEnded(name);
  return voicemail.saveMessage(name, { mailbox: '3201', callId: `call-${name}`, callerNumber: '3202', callerName: 'Box 3202' });
}

describe('voicemail API', () => {
  let first = '';
  let second = '';

  it('keeps a message: file in the data folder, row with size, sha256 and duration; MWI on', async () => {
    const row = await leave('vm-3201-aaaaaaaa', 2_000);
    expect(row).toMatchObject({ mailbox: '3201', duration_ms: 2_000, size_bytes: 44 + 32_000, heard: false, call_id: 'call-vm-3201-aaaaaaaa' });
    expect(row!.file_path).toBe(path.join(dataDir, '3201', 'vm-3201-aaaaaaaa.wav'));
    expect((await stat(row!.file_path)).size).toBe(row!.size_bytes);
    expect(row!.sha256).toMatch(/^[0-9a-f]{64}$/);
    expect(mwi.at(-1)).toMatchObject({ Action: 'PJSIPNotify', Endpoint: '3201' });
    expect(mwi.at(-1)!['Variable']).toContain('Messages-Waiting: yes');
    first = row!.id;
    second = (await leave('vm-3201-bbbbbbbb', 1_000))!.id;
    // saving the same recording again does nothing
    asteriskCopies.set('vm-3201-bbbbbbbb', silentWav(1_000));
    expect(await leave('vm-3201-bbbbbbbb', 1_000)).toBeNull();
  });

  it('discards empty recordings (and Asterisk\'s copy)', async () => {
    expect(await leave('vm-3201-cccccccc', 100)).toBeNull();
    expect(asteriskCopies.has('vm-3201-cccccccc')).toBe(false);
    expect(await voicemail.saveMessage('vm-3201-dddddddd', { mailbox: '3201', callId: 'x', callerNumber: null, callerName: null })).toBeNull();
  });

  it('lists newest first for viewers', async () => {
    const res = await req('GET', '/api/v1/extensions/3201/voicemail', undefined, viewerToken);
    expect(res.statusCode).toBe(200);
    expect(res.json().items.map((m: { id: string }) => m.id)).toEqual([second, first]);
    expect(res.json().items[1]).toMatchObject({ callerNumber: '3202', callerName: 'Box 3202', durationMs: 2_000, heard: false, sizeBytes: 32_044 });
    expect((await req('GET', '/api/v1/extensions/3202/voicemail')).json()).toEqual({ items: [], nextCursor: null });
  });

  it('downloads the WAV with content type and length (supervisor or admin; a viewer gets 403)', async () => {
    const refused = await req('GET', `/api/v1/extensions/3201/voicemail/${first}/audio`, undefined, viewerToken);
    expect(refused.statusCode).toBe(403);
    expect(refused.json().error).toMatchObject({ code: 'forbidden', details: { need: 'supervisor', have: 'viewer' } });
    const res = await req('GET', `/api/v1/extensions/3201/voicemail/${first}/audio`, undefined, supervisorToken);
    expect(res.statusCode).toBe(200);
    expect(res.headers['content-type']).toBe('audio/wav');
    expect(res.headers['content-length']).toBe('32044');
    expect(res.rawPayload.subarray(0, 4).toString()).toBe('RIFF');
    expect(res.rawPayload.length).toBe(32_044);
  });

  it('404s: unknown extension, unknown message, message of another mailbox, missing file', async () => {
    expect((await req('GET', '/api/v1/extensions/3999/voicemail')).json().error.code).toBe('extension-not-found');
    expect((await req('GET', '/api/v1/extensions/3201/voicemail/999999/audio')).json().error.code).toBe('voicemail-not-found');
    expect((await req('GET', `/api/v1/extensions/3202/voicemail/${first}/audio`)).statusCode).toBe(404);
    const row = await app.db.selectFrom('voicemail_messages').select('file_path').where('id', '=', second).executeTakeFirstOrThrow();
    await rm(row.file_path);
    const gone = await req('GET', `/api/v1/extensions/3201/voicemail/${second}/audio`);
    expect(gone.statusCode).toBe(404);
    expect(gone.json().error.code).toBe('voicemail-not-found');
    await writeFile(row.file_path, silentWav(1_000));
  });

  it('bad input names the field; unknown fields are refused; viewers cannot change', async () => {
    const bad = await req('GET', '/api/v1/extensions/32x1/voicemail');
    expect(bad.statusCode).toBe(400);
    expect(bad.json().error.message).toMatch(/number/);
    const badId = await req('GET', '/api/v1/extensions/3201/voicemail/abc/audio');
    expect(badId.statusCode).toBe(400);
    expect(badId.json().error.message).toMatch(/id/);
    const extra = await req('PATCH', `/api/v1/extensions/3201/voicemail/${first}`, { heard: true, color: 'red' });
    expect(extra.statusCode).toBe(400);
    expect(extra.json().error.code).toBe('validation-failed');
    const wrongType = await req('PATCH', `/api/v1/extensions/3201/voicemail/${first}`, { heard: 'yes please' });
    expect(wrongType.statusCode).toBe(400);
    expect(wrongType.json().error.message).toMatch(/heard/);
    expect((await req('DELETE', `/api/v1/extensions/3201/voicemail/${first}`, undefined, viewerToken)).statusCode).toBe(403);
  });

  it('marks heard (audited, lamp follows) and deletes row, file and Asterisk copy', async () => {
    const heard = await req('PATCH', `/api/v1/extensions/3201/voicemail/${first}`, { heard: true });
    expect(heard.statusCode).toBe(200);
    expect(heard.json()).toMatchObject({ id: first, heard: true });
    expect(mwi.at(-1)!['Variable']).toContain('Voice-Message: 1/1');
    const row = await app.db.selectFrom('voicemail_messages').selectAll().where('id', '=', first).executeTakeFirstOrThrow();
    const del = await req('DELETE', `/api/v1/extensions/3201/voicemail/${first}`);
    expect(del.statusCode).toBe(204);
    await expect(stat(row.file_path)).rejects.toThrow();
    expect(asteriskCopies.has(row.recording_name)).toBe(false);
    expect((await req('DELETE', `/api/v1/extensions/3201/voicemail/${first}`)).statusCode).toBe(404);
    await req('DELETE', `/api/v1/extensions/3201/voicemail/${second}`);
    expect(mwi.at(-1)!['Variable']).toContain('Messages-Waiting: no');
    const audit = await app.db.selectFrom('audit_log').select(['action', 'entity_id']).where('action', 'like', 'voicemail.%').orderBy('id').execute();
    expect(audit).toEqual([
      { action: 'voicemail.update', entity_id: first },
      { action: 'voicemail.delete', entity_id: first },
      { action: 'voicemail.delete', entity_id: second },
    ]);
  });

  it('a mailbox takes messages only with voicemail on and a PIN; greetings replace the old one', async () => {
    expect(await voicemail.mailboxFor('3201')).toEqual({ greeting: null });
    expect(await voicemail.mailboxFor('3202')).toBeNull();
    expect(await voicemail.checkPin('3201', '4821')).toMatchObject({ outcome: 'ok' });
    expect(await voicemail.checkPin('3201', '1111')).toMatchObject({ outcome: 'wrong', failures: 1 });
    expect(await voicemail.checkPin('3201', '4821')).toMatchObject({ outcome: 'ok' }); // and the count starts over
    asteriskCopies.set('vmg-3201-gggggggg', silentWav(1_500));
    voicemail.recordingEnded('vmg-3201-gggggggg');
    expect(await voicemail.saveGreeting('3201', 'vmg-3201-gggggggg')).toBe(true);
    expect(await voicemail.mailboxFor('3201')).toEqual({ greeting: 'recording:vmg-3201-gggggggg' });
    asteriskCopies.set('vmg-3201-hhhhhhhh', silentWav(1_500));
    voicemail.recordingEnded('vmg-3201-hhhhhhhh');
    await voicemail.saveGreeting('3201', 'vmg-3201-hhhhhhhh');
    expect(asteriskCopies.has('vmg-3201-gggggggg')).toBe(false); // the old one is gone
    expect(await voicemail.mailboxFor('3201')).toEqual({ greeting: 'recording:vmg-3201-hhhhhhhh' });
  });

  it('wrong PINs at the phone: the fifth in a row locks the mailbox, lastingly (a restarted daemon still refuses); a new PIN opens it', async () => {
    const ext = (method: 'POST' | 'PATCH', url: string, payload: object) =>
      app.http.inject({ method, url: `/api/v1/extensions${url}`, headers: { authorization: `Bearer ${adminToken}` }, payload });
    expect((await ext('POST', '', { number: '3203', displayName: 'Box 3203', voicemailPin: '5930' })).statusCode).toBe(201);
    for (let i = 1; i <= 4; i++) expect(await voicemail.checkPin('3203', '0000')).toMatchObject({ outcome: 'wrong', failures: i, lockedUntil: null });
    const fifth = await voicemail.checkPin('3203', '0000');
    expect(fifth).toMatchObject({ outcome: 'locked' });
    const seconds = (fifth.lockedUntil!.getTime() - Date.now()) / 1000;
    expect(seconds).toBeGreaterThan(VOICEMAIL_PIN_LOCK_SECONDS - 30);
    expect(seconds).toBeLessThanOrEqual(VOICEMAIL_PIN_LOCK_SECONDS + 1);
    // the right PIN is not even looked at while locked, also by another service (a restarted daemon)
    expect(await voicemail.checkPin('3203', '5930')).toMatchObject({ outcome: 'locked' });
    const restarted = new VoicemailService({ db: app.db, recordings: { storedRecordingFile: async () => null, deleteStoredRecording: async () => undefined }, mwi: null, dataDir, log: createLogger('silent') });
    expect(await restarted.checkPin('3203', '5930')).toMatchObject({ outcome: 'locked' });
    // other mailboxes are not affected
    expect(await voicemail.checkPin('3201', '4821')).toMatchObject({ outcome: 'ok' });
    // the owner (or an admin) sets a new PIN: the lock and the count were for the old one
    expect((await ext('PATCH', '/3203', { voicemailPin: '7741' })).statusCode).toBe(200);
    expect(await voicemail.checkPin('3203', '5930')).toMatchObject({ outcome: 'wrong', failures: 1 });
    expect(await voicemail.checkPin('3203', '7741')).toMatchObject({ outcome: 'ok' });
    // a lock that ran out lets the right PIN in and starts the count over
    await sql`update voicemail_pin_failures set locked_until = now() - interval '1 second', failures = 0 where mailbox = '3203'`.execute(app.db);
    expect(await voicemail.checkPin('3203', '0000')).toMatchObject({ outcome: 'wrong', failures: 1 });
    expect(await voicemail.checkPin('3203', '7741')).toMatchObject({ outcome: 'ok' });
    expect(await voicemail.checkPin('3203', '0000')).toMatchObject({ outcome: 'wrong', failures: 1 });
  });

  it('deleting the extension removes its messages, greeting, files and Asterisk copies', async () => {
    const msg = await leave('vm-3201-eeeeeeee', 1_500);
    const greeting = await app.db.selectFrom('voicemail_greetings').selectAll().where('mailbox', '=', '3201').executeTakeFirstOrThrow();
    const extensions = new ExtensionService(app.db, testSecretBox(), [], [(tx, n) => voicemail.forgetMailbox(tx, n)]);
    await extensions.remove(CLI_ACTOR, '3201');
    await expect(stat(msg!.file_path)).rejects.toThrow();
    await expect(stat(greeting.file_path)).rejects.toThrow();
    await expect(stat(path.join(dataDir, '3201'))).rejects.toThrow();
    expect(asteriskCopies.has('vm-3201-eeeeeeee')).toBe(false);
    expect(asteriskCopies.has(greeting.recording_name)).toBe(false);
    expect(await app.db.selectFrom('voicemail_messages').select('id').where('mailbox', '=', '3201').execute()).toEqual([]);
  });
});
