/**
 * Recordings API on the real app (real Postgres, files on disk): search by every filter with the
 * keyset cursor, one recording, the audio with HTTP Range (200, 206, 416) and an audit row per
 * listen or download naming who, legal hold, erasure by caller number, bad input and unknown ids.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { randomBytes, randomUUID } from 'node:crypto';
import { mkdir, readFile, rm, stat, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import type { App } from '../../src/app.js';
import { AuthService, CLI_ACTOR } from '../../src/auth/service.js';
import { recordingPath } from '../../src/recordings/layout.js';
import { startTestApp, testConfig } from '../support/app.js';
import { eventually } from '../support/wait.js';

const exec = promisify(execFile);

let app: App;
let supervisor: string;
let admin: string;
const dir = testConfig().recordings.dir;
/** Marks this file's rows: every search below filters by it or by something only they have. */
const run = randomUUID().slice(0, 8);
const queue = `it-recq-${run}`;
/** This run's caller numbers: other files' rows in the same database never share them (erasure goes by number). */
const digits = String(Math.floor(Math.random() * 1e6)).padStart(6, '0');
const callerA = `+49301${digits}`;
const callerB = `+49302${digits}`;
const callerC = `+49303${digits}`;

const get = (url: string, token = supervisor, headers: Record<string, string> = {}) =>
  app.http.inject({ method: 'GET', url, headers: { authorization: `Bearer ${token}`, ...headers } });

interface Made {
  id: string;
  callId: string;
  file: string;
  content: Buffer;
}

/** A finished (compressed) recording with a file of random bytes. */
async function make(o: { agent?: string; caller?: string; called?: string; durationMs?: number; startedAt: Date; q?: string | null }): Promise<Made> {
  const id = randomUUID();
  const callId = `it-ra-${run}-${id.slice(0, 4)}`;
  const rel = recordingPath(o.startedAt, callId, id, 'mp3');
  const file = path.join(dir, rel);
  const content = randomBytes(1000 + Math.floor(Math.random() * 1000));
  await mkdir(path.dirname(file), { recursive: true });
  await writeFile(file, content);
  await app.db.insertInto('recordings').values({
    id, call_id: callId, agent: o.agent ?? null, queue: o.q === undefined ? queue : o.q, caller: o.caller ?? '+4930100', called: o.called ?? '200',
    parts: JSON.stringify(['queue', 'talk']), state: 'compressed', path: rel, format: 'mp3', channels: 2, sha256: 'a'.repeat(64), bytes: content.length,
    started_at: o.startedAt, ended_at: new Date(o.startedAt.getTime() + (o.durationMs ?? 60_000)), duration_ms: o.durationMs ?? 60_000,
    retain_until: new Date(Date.now() + 86_400_000),
  }).execute();
  return { id, callId, file, content };
}

const base = new Date('2026-11-02T09:00:00Z');
const at = (minutes: number) => new Date(base.getTime() + minutes * 60_000);
let r: Made[];

beforeAll(async () => {
  app = await startTestApp();
  const auth = new AuthService(app.db);
  supervisor = (await auth.createToken(CLI_ACTOR, { username: `rec-sup-${run}`, name: 'it', ttlDays: 1, ensureRole: 'supervisor' })).token;
  admin = (await auth.createToken(CLI_ACTOR, { username: `rec-admin-${run}`, name: 'it', ttlDays: 1, ensureRole: 'admin' })).token;
  r = [
    await make({ startedAt: at(0), agent: '7001', caller: callerA, called: '100', durationMs: 30_000 }),
    await make({ startedAt: at(10), agent: '7002', caller: callerB, called: '100', durationMs: 90_000 }),
    await make({ startedAt: at(20), agent: '7001', caller: callerA, called: '200', durationMs: 300_000 }),
    await make({ startedAt: at(30), agent: '7003', caller: callerC, called: '200', durationMs: 5_000 }),
    await make({ startedAt: at(40), agent: '7001', caller: '+4930444', called: '300', durationMs: 61_000 }),
  ];
});

afterAll(async () => {
  await app?.stop();
});

const ids = (res: { json: () => { items: { id: string }[] } }) => res.json().items.map((x) => x.id);

describe('search', () => {
  it('by queue, newest first, every field of the answer', async () => {
    const res = await get(`/api/v1/recordings?queue=${queue}`);
    expect(res.statusCode).toBe(200);
    expect(ids(res)).toEqual([r[4]!.id, r[3]!.id, r[2]!.id, r[1]!.id, r[0]!.id]);
    expect(res.json().nextCursor).toBeNull();
    expect(res.json().items[4]).toMatchObject({
      id: r[0]!.id, callId: r[0]!.callId, queue, agent: '7001', caller: callerA, called: '100', parts: ['queue', 'talk'], state: 'compressed',
      format: 'mp3', channels: 2, bytes: r[0]!.content.length, durationMs: 30_000, startedAt: at(0).toISOString(), legalHold: false, attempts: 0, lastError: null,
    });
  });

  it.each([
    ['agent=7001', [4, 2, 0]],
    [`caller=${encodeURIComponent(callerA)}`, [2, 0]],
    ['called=200', [3, 2]],
    ['minDurationSeconds=61', [4, 2, 1]],
    ['maxDurationSeconds=30', [3, 0]],
    ['minDurationSeconds=60&maxDurationSeconds=90', [4, 1]],
    [`from=${at(10).toISOString()}&to=${at(30).toISOString()}`, [2, 1]],
    ['agent=7001&called=300', [4]],
  ])('filter %s', async (filter, want) => {
    const res = await get(`/api/v1/recordings?queue=${queue}&${filter}`);
    expect(res.statusCode).toBe(200);
    expect(ids(res)).toEqual(want.map((i) => r[i]!.id));
  });

  it('by callId: a CDR\'s recordings', async () => {
    expect(ids(await get(`/api/v1/recordings?callId=${r[3]!.callId}`))).toEqual([r[3]!.id]);
  });

  it('pages with the cursor: each row once, in order, then nextCursor null', async () => {
    const seen: string[] = [];
    let cursor: string | null = null;
    let pages = 0;
    do {
      const res = await get(`/api/v1/recordings?queue=${queue}&limit=2${cursor ? `&cursor=${cursor}` : ''}`);
      expect(res.statusCode).toBe(200);
      seen.push(...ids(res));
      cursor = res.json().nextCursor;
      pages += 1;
    } while (cursor);
    expect(pages).toBe(3);
    expect(seen).toEqual([r[4]!.id, r[3]!.id, r[2]!.id, r[1]!.id, r[0]!.id]);
  });

  it('a cursor this API did not issue: 400 cursor-invalid, as on every paged list', async () => {
    for (const cursor of ['bm9wZQ', Buffer.from('2026-01-01T00:00:00Z|12').toString('base64url')]) {
      const res = await get(`/api/v1/recordings?cursor=${cursor}`);
      expect(res.statusCode).toBe(400);
      expect(res.json().error).toMatchObject({ code: 'cursor-invalid', details: { field: 'querystring.cursor' } });
    }
  });

  it.each([
    [`from=${at(30).toISOString()}&to=${at(10).toISOString()}`, 'querystring.from'],
    ['minDurationSeconds=90&maxDurationSeconds=30', 'querystring.minDurationSeconds'],
    ['minDurationSeconds=-1', 'minDurationSeconds'],
    ['caller=no%20spaces', 'caller'],
    ['colour=red', 'colour'],
  ])('bad input %s: 400 naming %s', async (query, field) => {
    const res = await get(`/api/v1/recordings?${query}`);
    expect(res.statusCode).toBe(400);
    expect(res.json().error.code).toBe('validation-failed');
    expect(JSON.stringify(res.json().error)).toContain(field);
  });
});

describe('one recording', () => {
  it('GET by id; unknown id 404 recording-not-found; a malformed id 400', async () => {
    expect((await get(`/api/v1/recordings/${r[1]!.id}`)).json()).toMatchObject({ id: r[1]!.id, callId: r[1]!.callId });
    const unknown = await get(`/api/v1/recordings/${randomUUID()}`);
    expect(unknown.statusCode).toBe(404);
    expect(unknown.json().error.code).toBe('recording-not-found');
    const bad = await get('/api/v1/recordings/42');
    expect(bad.statusCode).toBe(400);
    expect(JSON.stringify(bad.json().error)).toContain('id');
  });
});

describe('audio', () => {
  const audits = async (id: string) =>
    app.db.selectFrom('audit_log').selectAll().where('entity', '=', 'recording').where('entity_id', '=', id).where('action', 'in', ['recording.listen', 'recording.download']).orderBy('id').execute();

  it('whole file 200; a range 206 with Content-Range; a suffix range; past the end 416; each request audited with who', async () => {
    const m = r[2]!;
    const size = m.content.length;
    const full = await get(`/api/v1/recordings/${m.id}/audio`);
    expect(full.statusCode).toBe(200);
    expect(full.headers['content-type']).toBe('audio/mpeg');
    expect(full.headers['accept-ranges']).toBe('bytes');
    expect(full.headers['content-length']).toBe(String(size));
    expect(full.headers['content-disposition']).toMatch(/^attachment; filename=".+\.mp3"$/);
    expect(full.rawPayload.equals(m.content)).toBe(true);

    const part = await get(`/api/v1/recordings/${m.id}/audio?as=listen`, supervisor, { range: 'bytes=100-199' });
    expect(part.statusCode).toBe(206);
    expect(part.headers['content-range']).toBe(`bytes 100-199/${size}`);
    expect(part.headers['content-length']).toBe('100');
    expect(part.headers['content-disposition']).toMatch(/^inline/);
    expect(part.rawPayload.equals(m.content.subarray(100, 200))).toBe(true);

    const tail = await get(`/api/v1/recordings/${m.id}/audio`, supervisor, { range: 'bytes=-10' });
    expect(tail.statusCode).toBe(206);
    expect(tail.headers['content-range']).toBe(`bytes ${size - 10}-${size - 1}/${size}`);
    expect(tail.rawPayload.equals(m.content.subarray(size - 10))).toBe(true);

    const open = await get(`/api/v1/recordings/${m.id}/audio`, supervisor, { range: `bytes=${size - 5}-` });
    expect(open.statusCode).toBe(206);
    expect(open.rawPayload.length).toBe(5);

    const past = await get(`/api/v1/recordings/${m.id}/audio`, supervisor, { range: `bytes=${size}-` });
    expect(past.statusCode).toBe(416);
    expect(past.headers['content-range']).toBe(`bytes */${size}`);
    expect(past.json().error.code).toBe('range-not-satisfiable');

    const rows = await audits(m.id);
    expect(rows.map((a) => [a.action, a.actor_label])).toEqual([
      ['recording.download', `user:rec-sup-${run}`],
      ['recording.listen', `user:rec-sup-${run}`],
      ['recording.download', `user:rec-sup-${run}`],
      ['recording.download', `user:rec-sup-${run}`],
      ['recording.download', `user:rec-sup-${run}`],
    ]);
    expect(rows[1]!.details).toMatchObject({ callId: m.callId, range: 'bytes=100-199' });
  });

  it('a row whose file is gone: 404 recording-file-missing, not a 500', async () => {
    const m = await make({ startedAt: at(50), q: null });
    await rm(m.file);
    const res = await get(`/api/v1/recordings/${m.id}/audio`);
    expect(res.statusCode).toBe(404);
    expect(res.json().error.code).toBe('recording-file-missing');
    await app.db.deleteFrom('recordings').where('id', '=', m.id).execute();
  });

  it('a recording still in progress: 409 recording-not-ready', async () => {
    const m = await make({ startedAt: at(55), q: null });
    await app.db.updateTable('recordings').set({ state: 'recording' }).where('id', '=', m.id).execute();
    const res = await get(`/api/v1/recordings/${m.id}/audio`);
    expect(res.statusCode).toBe(409);
    expect(res.json().error.code).toBe('recording-not-ready');
    expect((await stat(m.file)).size).toBe(m.content.length);
  });
});

/** The CDR of a recording's call (a recording names its CDR by call_id). */
async function cdrFor(m: Made, caller: string): Promise<void> {
  await app.db.insertInto('cdrs').values({
    call_id: m.callId, direction: 'inbound', caller_number: caller, caller_name: null, dialed_number: '200', started_at: base, answered_at: base, ended_at: at(1),
    duration_seconds: 60, billable_seconds: 60, hangup_cause: 16, hangup_cause_text: 'Normal Clearing', disposition: 'ANSWERED', ended_by: 'caller', digits: '', reconciled: false, linked_id: m.callId,
  }).execute();
}

const cdrOf = async (m: Made) => {
  const res = await get(`/api/v1/cdrs?callId=${m.callId}`);
  expect(res.statusCode).toBe(200);
  return res.json().items[0] as { id: string; recordings: string[]; recordingErased: boolean };
};

describe('the CDR lists its recordings', () => {
  it('GET /cdrs and GET /cdrs/:id name the recording ids; the recording names the CDR by callId', async () => {
    await cdrFor(r[1]!, callerB);
    const cdr = await cdrOf(r[1]!);
    expect(cdr).toMatchObject({ recordings: [r[1]!.id], recordingErased: false });
    const one = await get(`/api/v1/cdrs/${cdr.id}`);
    expect(one.json()).toMatchObject({ recordings: [r[1]!.id], recordingErased: false });
    expect((await get(`/api/v1/recordings/${r[1]!.id}`)).json().callId).toBe(r[1]!.callId);
  });
});

describe('legal hold and erasure', () => {
  it('legal hold on and off, audited; unknown id 404; bad body 400 naming the field', async () => {
    const on = await app.http.inject({ method: 'PATCH', url: `/api/v1/recordings/${r[0]!.id}`, headers: { authorization: `Bearer ${supervisor}` }, payload: { legalHold: true } });
    expect(on.statusCode).toBe(200);
    expect(on.json().legalHold).toBe(true);
    const actions = await app.db.selectFrom('audit_log').select(['action', 'actor_label']).where('entity_id', '=', r[0]!.id).where('action', 'like', 'recording.legal-hold.%').execute();
    expect(actions).toEqual([{ action: 'recording.legal-hold.on', actor_label: `user:rec-sup-${run}` }]);
    const unknown = await app.http.inject({ method: 'PATCH', url: `/api/v1/recordings/${randomUUID()}`, headers: { authorization: `Bearer ${supervisor}` }, payload: { legalHold: true } });
    expect(unknown.statusCode).toBe(404);
    expect(unknown.json().error.code).toBe('recording-not-found');
    const bad = await app.http.inject({ method: 'PATCH', url: `/api/v1/recordings/${r[0]!.id}`, headers: { authorization: `Bearer ${supervisor}` }, payload: { legalHold: 'yes' } });
    expect(bad.statusCode).toBe(400);
    expect(JSON.stringify(bad.json().error)).toContain('legalHold');
  });

  it('POST /recordings/:id/compress (admin): a failed one 202 and back to stored, audited; not failed 409 recording-not-failed; unknown 404; supervisor 403', async () => {
    // A recording whose compression failed for good, its WAV kept (a real one: the app's job compresses it after the retry).
    const failed = await make({ startedAt: at(50), q: null });
    const wavRel = failed.file.slice(dir.length + 1).replace(/\.mp3$/, '.wav');
    await rm(failed.file);
    await exec('sox', ['-n', '-r', '8000', '-c', '2', '-b', '16', path.join(dir, wavRel), 'synth', '2', 'sine', '440', 'sine', '660']);
    await app.db.updateTable('recordings').set({ state: 'failed', format: 'wav', path: wavRel, attempts: 5, last_error: 'sox: no handler for file extension mp3' }).where('id', '=', failed.id).execute();
    const post = (id: string, token = admin) => app.http.inject({ method: 'POST', url: `/api/v1/recordings/${id}/compress`, headers: { authorization: `Bearer ${token}` } });
    expect((await post(failed.id, supervisor)).statusCode).toBe(403);
    const res = await post(failed.id);
    expect(res.statusCode, res.body).toBe(202);
    expect(res.json()).toMatchObject({ id: failed.id, state: 'stored', attempts: 0, lastError: null });
    const audit = await app.db.selectFrom('audit_log').select(['action', 'actor_label']).where('entity_id', '=', failed.id).where('action', '=', 'recording.compress-retry').execute();
    expect(audit).toEqual([{ action: 'recording.compress-retry', actor_label: `user:rec-admin-${run}` }]);
    const again = await post(r[1]!.id);
    expect(again.statusCode).toBe(409);
    expect(again.json().error.code).toBe('recording-not-failed');
    const unknown = await post(randomUUID());
    expect(unknown.statusCode).toBe(404);
    expect(unknown.json().error.code).toBe('recording-not-found');
    expect((await post('not-a-uuid')).statusCode).toBe(400);
    await eventually(async () => ((await get(`/api/v1/recordings/${failed.id}`)).json().state === 'compressed' ? true : undefined), 20_000, 'compressed after the retry');
  });

  it('erasure by caller number (admin): the held recording stays and the answer says so; the others go with their files', async () => {
    // r[0] (held above) and r[2] are callerA's
    await cdrFor(r[2]!, callerA);
    expect(await cdrOf(r[2]!)).toMatchObject({ recordings: [r[2]!.id], recordingErased: false });
    const res = await app.http.inject({ method: 'POST', url: '/api/v1/recordings/erasure', headers: { authorization: `Bearer ${admin}` }, payload: { callerNumber: callerA } });
    expect(res.statusCode).toBe(200);
    expect(res.json()).toMatchObject({ erased: [r[2]!.id], legalHold: [r[0]!.id], inProgress: [] });
    expect((await get(`/api/v1/recordings/${r[2]!.id}`)).statusCode).toBe(404);
    await expect(readFile(r[2]!.file)).rejects.toMatchObject({ code: 'ENOENT' });
    expect((await readFile(r[0]!.file)).equals(r[0]!.content)).toBe(true);
    expect(await cdrOf(r[2]!)).toMatchObject({ recordings: [], recordingErased: true });
    const bad = await app.http.inject({ method: 'POST', url: '/api/v1/recordings/erasure', headers: { authorization: `Bearer ${admin}` }, payload: {} });
    expect(bad.statusCode).toBe(400);
    expect(JSON.stringify(bad.json().error)).toContain('callerNumber');
  });
});

describe('a queue\'s retention', () => {
  it('recordingRetentionDays is a queue setting (null: the site default); out of range 400 naming it', async () => {
    const send = (method: 'POST' | 'PATCH', url: string, payload: object) => app.http.inject({ method, url: `/api/v1${url}`, headers: { authorization: `Bearer ${supervisor}` }, payload });
    const created = await send('POST', '/queues', { name: queue });
    expect(created.statusCode, created.body).toBe(201);
    expect(created.json().recordingRetentionDays).toBeNull();
    const set = await send('PATCH', `/queues/${queue}`, { recordingRetentionDays: 30 });
    expect(set.statusCode, set.body).toBe(200);
    expect(set.json().recordingRetentionDays).toBe(30);
    expect((await app.db.selectFrom('queues').select('recording_retention_days').where('name', '=', queue).executeTakeFirstOrThrow()).recording_retention_days).toBe(30);
    const bad = await send('PATCH', `/queues/${queue}`, { recordingRetentionDays: 0 });
    expect(bad.statusCode).toBe(400);
    expect(JSON.stringify(bad.json().error)).toContain('recordingRetentionDays');
  });
});

describe('readiness', () => {
  it('reports the recordings disk', async () => {
    const res = await app.http.inject({ method: 'GET', url: '/health/ready' });
    expect(res.json().checks.recordings).toMatchObject({ ok: true, minFreeBytes: testConfig().recordings.minFreeBytes });
    expect(res.json().checks.recordings.freeBytes).toBeGreaterThan(0);
  });
});
