/**
 * Prompts API through the wired daemon (src/app.ts) against real Postgres, sox and espeak-ng:
 * WAV and MP3 uploads converted to 8 kHz WAV + 16 kHz sln16 (checked with soxi), checksum and
 * duration, the refusals (not audio, too long, too big, empty, silent, wrong type, taken name),
 * text-to-speech with its cache, list, download, delete, and "in use" refusal.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { execFile } from 'node:child_process';
import { createHash, randomUUID } from 'node:crypto';
import { mkdtemp, readdir, readFile, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import type { App } from '../../src/app.js';
import { AuthService, CLI_ACTOR } from '../../src/auth/service.js';
import { buildHttp } from '../../src/http/server.js';
import { createLogger } from '../../src/logger.js';
import { promptsPlugin } from '../../src/prompts/plugin.js';
import { PromptService } from '../../src/prompts/service.js';
import { startTestApp, testConfig } from '../support/app.js';

const run = promisify(execFile);
const ASTERISK_DIR = '/srv/asterisk-view/prompts';
const MAX_SECONDS = 5;
const MAX_BYTES = 1024 * 1024;

let app: App;
let adminToken: string;
let viewerToken: string;
let promptsDir: string;
let fixtures: string;
const files: Record<string, Buffer> = {};

type Method = 'GET' | 'POST' | 'DELETE';
const api = (method: Method, url: string, opts: { token?: string; json?: unknown; raw?: Buffer; type?: string } = {}) =>
  app.http.inject({
    method,
    url,
    headers: {
      authorization: `Bearer ${opts.token ?? adminToken}`,
      ...(opts.type ? { 'content-type': opts.type } : {}),
    },
    ...(opts.json !== undefined ? { payload: opts.json as object } : opts.raw !== undefined ? { payload: opts.raw } : {}),
  });
const upload = (name: string, raw: Buffer, type = 'audio/wav', token?: string) =>
  api('POST', `/api/v1/prompts?name=${encodeURIComponent(name)}`, { raw, type, ...(token ? { token } : {}) });

const sha256 = (buf: Buffer) => createHash('sha256').update(buf).digest('hex');
const soxi = async (flag: string, file: string) => (await run('soxi', [flag, file])).stdout.trim();
const leftovers = async () => (await readdir(promptsDir)).filter((f) => f.startsWith('.work-'));

async function make(name: string, args: string[]): Promise<void> {
  const file = path.join(fixtures, name);
  await run('sox', [...args.slice(0, args.indexOf('OUT')), file, ...args.slice(args.indexOf('OUT') + 1)]);
  files[name] = await readFile(file);
}

/** The converted pair of a prompt: 8 kHz mono 16-bit WAV, 16 kHz raw of the same length, world-readable. */
async function expectConverted(id: string, durationMs: number, checksum: string): Promise<void> {
  const wav = path.join(promptsDir, `${id}.wav`);
  const sln = path.join(promptsDir, `${id}.sln16`);
  expect(await soxi('-r', wav)).toBe('8000');
  expect(await soxi('-c', wav)).toBe('1');
  expect(await soxi('-b', wav)).toBe('16');
  expect(await soxi('-e', wav)).toBe('Signed Integer PCM');
  expect(Math.abs(Number(await soxi('-D', wav)) * 1000 - durationMs)).toBeLessThan(1);
  expect(sha256(await readFile(wav))).toBe(checksum);
  // Raw has no header: 16 000 samples/s x 2 bytes, as long as the WAV; sox reads it when told the format.
  const slnSize = (await stat(sln)).size;
  expect(Math.abs(slnSize / 32 - durationMs)).toBeLessThanOrEqual(2);
  const { stderr } = await run('sox', ['-t', 'raw', '-r', '16000', '-e', 'signed-integer', '-b', '16', '-c', '1', sln, '-n', 'stat']);
  expect(Number(/Length \(seconds\):\s*([0-9.]+)/.exec(stderr)?.[1])).toBeCloseTo(durationMs / 1000, 2);
  expect(Number(/Maximum amplitude:\s*([0-9.]+)/.exec(stderr)?.[1])).toBeGreaterThan(0.1);
  for (const f of [wav, sln]) expect((await stat(f)).mode & 0o777).toBe(0o644);
}

beforeAll(async () => {
  promptsDir = await mkdtemp(path.join(tmpdir(), 'pbx-it-prompts-'));
  fixtures = await mkdtemp(path.join(tmpdir(), 'pbx-it-prompt-fixtures-'));
  await Promise.all([
    make('tone.wav', ['-n', '-r', '44100', '-c', '2', 'OUT', 'synth', '1', 'sine', '440']),
    make('tone.mp3', ['-n', '-r', '44100', '-c', '2', 'OUT', 'synth', '2', 'sine', '660']),
    make('long.wav', ['-n', '-r', '8000', '-c', '1', 'OUT', 'synth', String(MAX_SECONDS + 3), 'sine', '300']),
    make('big.wav', ['-n', '-r', '44100', '-c', '2', 'OUT', 'synth', '4', 'sine', '500']),
    make('silent.wav', ['-n', '-r', '8000', '-c', '1', '-b', '16', 'OUT', 'trim', '0', '2']),
    make('headeronly.wav', ['-n', '-r', '8000', '-c', '1', '-b', '16', 'OUT', 'trim', '0', '0']),
  ]);
  app = await startTestApp({
    PBX_PROMPTS_DIR: promptsDir,
    PBX_PROMPTS_DIR_ASTERISK: ASTERISK_DIR,
    PBX_PROMPT_MAX_SECONDS: String(MAX_SECONDS),
    PBX_PROMPT_MAX_BYTES: String(MAX_BYTES),
  });
  const auth = new AuthService(app.db);
  adminToken = (await auth.createToken(CLI_ACTOR, { username: 'prompt-admin', name: 'it', ttlDays: 1, ensureRole: 'admin' })).token;
  viewerToken = (await auth.createToken(CLI_ACTOR, { username: 'prompt-viewer', name: 'it', ttlDays: 1, ensureRole: 'viewer' })).token;
});
afterAll(async () => {
  await app?.stop();
  for (const dir of [promptsDir, fixtures]) if (dir) await rm(dir, { recursive: true, force: true });
});

describe('prompts API: uploads', () => {
  let wavId = '';

  it('converts a 44.1 kHz stereo WAV to 8 kHz WAV + 16 kHz sln16, with checksum, duration and media URI', async () => {
    expect(files['tone.wav']!.length).toBeLessThan(MAX_BYTES);
    const res = await upload('tone 440', files['tone.wav']!);
    expect(res.statusCode).toBe(201);
    const p = res.json();
    expect(p).toMatchObject({ name: 'tone 440', source: 'upload', text: null, language: null, voice: null, durationMs: 1000, bytes: 44 + 16_000 });
    expect(p.id).toMatch(/^[0-9a-f-]{36}$/);
    expect(p.media).toBe(`sound:${ASTERISK_DIR}/${p.id}`);
    await expectConverted(p.id, 1000, p.checksum);
    expect(await leftovers()).toEqual([]);
    wavId = p.id;
  });

  it('converts an MP3 (audio/mpeg)', async () => {
    const res = await upload('tone-660.mp3', files['tone.mp3']!, 'audio/mpeg');
    expect(res.statusCode).toBe(201);
    const p = res.json();
    expect(p.source).toBe('upload');
    // MP3 encoding adds a little padding at the ends.
    expect(p.durationMs).toBeGreaterThanOrEqual(1_950);
    expect(p.durationMs).toBeLessThanOrEqual(2_150);
    await expectConverted(p.id, p.durationMs, p.checksum);
  });

  it('takes audio/x-wav too, and the same file gives the same checksum', async () => {
    const res = await upload('tone again', files['tone.wav']!, 'audio/x-wav');
    expect(res.statusCode).toBe(201);
    const first = (await api('GET', `/api/v1/prompts/${wavId}`)).json();
    expect(res.json().checksum).toBe(first.checksum);
    expect(res.json().id).not.toBe(wavId);
  });

  it('refuses what sox cannot read: 400 prompt-not-audio naming the problem, nothing left behind', async () => {
    const text = await upload('not audio', Buffer.from('hello, this is certainly not a RIFF file\n'.repeat(20)));
    expect(text.statusCode).toBe(400);
    expect(text.json().error.code).toBe('prompt-not-audio');
    expect(text.json().error.message).toMatch(/not a readable WAV file: .*RIFF/);
    const noise = await upload('not audio', Buffer.from(Array.from({ length: 4096 }, (_, i) => (i * 7919) % 256)), 'audio/mpeg');
    expect(noise.statusCode).toBe(400);
    expect(noise.json().error.code).toBe('prompt-not-audio');
    expect(noise.json().error.message).toMatch(/not a readable MP3 file: sox found no audio/);
    // an MP3 declared as WAV is not read as WAV
    const mislabelled = await upload('not audio', files['tone.mp3']!, 'audio/wav');
    expect(mislabelled.json().error.code).toBe('prompt-not-audio');
    expect(await leftovers()).toEqual([]);
  });

  it('refuses audio longer than PBX_PROMPT_MAX_SECONDS: 400 prompt-too-long', async () => {
    const res = await upload('too long', files['long.wav']!);
    expect(res.statusCode).toBe(400);
    expect(res.json().error.code).toBe('prompt-too-long');
    expect(res.json().error.message).toContain(`at most ${MAX_SECONDS} s`);
    expect(res.json().error.details).toMatchObject({ durationMs: (MAX_SECONDS + 3) * 1000, maxSeconds: MAX_SECONDS });
  });

  it('refuses a body over PBX_PROMPT_MAX_BYTES: 413 payload-too-large', async () => {
    expect(files['big.wav']!.length).toBeGreaterThan(MAX_BYTES);
    const res = await upload('too big', files['big.wav']!);
    expect(res.statusCode).toBe(413);
    expect(res.json().error.code).toBe('payload-too-large');
    expect(res.json().error.message).toContain(String(MAX_BYTES));
    // without a Content-Length (chunked), the body parser's limit still stops it
    const chunked = await app.http.inject({
      method: 'POST',
      url: '/api/v1/prompts?name=too%20big',
      headers: { authorization: `Bearer ${adminToken}`, 'content-type': 'audio/wav', 'transfer-encoding': 'chunked' },
      payload: files['big.wav']!,
    });
    expect(chunked.statusCode).toBe(413);
    expect(chunked.json().error.code).toBe('payload-too-large');
  });

  it('refuses empty and silent audio: 400 prompt-empty', async () => {
    for (const [raw, words] of [[Buffer.alloc(0), /empty/], [files['headeronly.wav']!, /no audio/], [files['silent.wav']!, /silent/]] as const) {
      const res = await upload('empty', raw);
      expect(res.statusCode).toBe(400);
      expect(res.json().error.code).toBe('prompt-empty');
      expect(res.json().error.message).toMatch(words);
    }
  });

  it('refuses other content types (415), bad or taken names (400, 409), viewers (403)', async () => {
    const octets = await upload('x', files['tone.wav']!, 'application/octet-stream');
    expect(octets.statusCode).toBe(415);
    expect(octets.json().error.code).toBe('unsupported-media-type');
    expect(octets.json().error.message).toMatch(/audio\/wav.*got application\/octet-stream/);
    const json = await api('POST', '/api/v1/prompts?name=x', { json: { audio: 'base64...' } });
    expect(json.statusCode).toBe(415);
    const badName = await upload('semi;colon', files['tone.wav']!);
    expect(badName.statusCode).toBe(400);
    expect(badName.json().error.message).toMatch(/name/);
    const noName = await api('POST', '/api/v1/prompts', { raw: files['tone.wav']!, type: 'audio/wav' });
    expect(noName.statusCode).toBe(400);
    expect(noName.json().error.message).toMatch(/name/);
    const taken = await upload('tone 440', files['tone.wav']!);
    expect(taken.statusCode).toBe(409);
    expect(taken.json().error.code).toBe('prompt-exists');
    expect((await upload('viewer', files['tone.wav']!, 'audio/wav', viewerToken)).statusCode).toBe(403);
    expect((await app.http.inject({ method: 'POST', url: '/api/v1/prompts?name=anon', headers: { 'content-type': 'audio/wav' }, payload: files['tone.wav']! })).statusCode).toBe(401);
  });

  it('lists, shows and downloads for viewers', async () => {
    const list = await api('GET', '/api/v1/prompts', { token: viewerToken });
    expect(list.statusCode).toBe(200);
    // other files share the run's database and make prompts of their own: this file's are named tone...
    expect(list.json().items.map((p: { name: string }) => p.name).filter((n: string) => n.startsWith('tone')).sort()).toEqual(['tone 440', 'tone again', 'tone-660.mp3']);
    const one = await api('GET', `/api/v1/prompts/${wavId}`, { token: viewerToken });
    expect(one.statusCode).toBe(200);
    const audio = await api('GET', `/api/v1/prompts/${wavId}/audio`, { token: viewerToken });
    expect(audio.statusCode).toBe(200);
    expect(audio.headers['content-type']).toBe('audio/wav');
    expect(audio.headers['content-length']).toBe(String(one.json().bytes));
    expect(sha256(audio.rawPayload)).toBe(one.json().checksum);
    expect((await api('GET', `/api/v1/prompts/${randomUUID()}`)).json().error.code).toBe('prompt-not-found');
    expect((await api('GET', '/api/v1/prompts/not-a-uuid')).statusCode).toBe(400);
  });

  it('deletes row and files (audited); a second delete is 404', async () => {
    const del = await api('DELETE', `/api/v1/prompts/${wavId}`);
    expect(del.statusCode).toBe(204);
    await expect(stat(path.join(promptsDir, `${wavId}.wav`))).rejects.toThrow();
    await expect(stat(path.join(promptsDir, `${wavId}.sln16`))).rejects.toThrow();
    expect((await api('GET', `/api/v1/prompts/${wavId}`)).statusCode).toBe(404);
    expect((await api('DELETE', `/api/v1/prompts/${wavId}`)).statusCode).toBe(404);
    expect((await api('DELETE', `/api/v1/prompts/${randomUUID()}`, { token: viewerToken })).statusCode).toBe(403);
    const audit = await app.db.selectFrom('audit_log').select(['action']).where('entity_id', '=', wavId).orderBy('id').execute();
    expect(audit.map((a) => a.action)).toEqual(['prompt.create', 'prompt.delete']);
  });
});

describe('prompts API: text-to-speech (espeak-ng)', () => {
  let welcomeId = '';

  it('renders text into the same two formats', async () => {
    const res = await api('POST', '/api/v1/prompts/tts', { json: { name: 'welcome', text: 'Welcome to the test company.', language: 'en' } });
    expect(res.statusCode).toBe(201);
    const p = res.json();
    expect(p).toMatchObject({ name: 'welcome', source: 'tts', text: 'Welcome to the test company.', language: 'en', voice: null });
    expect(p.durationMs).toBeGreaterThan(500);
    expect(p.media).toBe(`sound:${ASTERISK_DIR}/${p.id}`);
    await expectConverted(p.id, p.durationMs, p.checksum);
    welcomeId = p.id;
  });

  it('the same text, language and voice again reuses the prompt (200)', async () => {
    const again = await api('POST', '/api/v1/prompts/tts', { json: { name: 'welcome', text: 'Welcome to the test company.', language: 'en' } });
    expect(again.statusCode).toBe(200);
    expect(again.json().id).toBe(welcomeId);
    const otherName = await api('POST', '/api/v1/prompts/tts', { json: { name: 'welcome 2', text: 'Welcome to the test company.', language: 'EN' } });
    expect(otherName.statusCode).toBe(200);
    expect(otherName.json().id).toBe(welcomeId);
    const count = await app.db.selectFrom('audit_log').select('id').where('action', '=', 'prompt.create').where('entity_id', '=', welcomeId).execute();
    expect(count).toHaveLength(1);
  });

  it('a voice variant or another language is another prompt; a taken name is 409', async () => {
    const female = await api('POST', '/api/v1/prompts/tts', { json: { name: 'welcome f3', text: 'Welcome to the test company.', language: 'en', voice: 'f3' } });
    expect(female.statusCode).toBe(201);
    expect(female.json()).toMatchObject({ voice: 'f3' });
    expect(female.json().id).not.toBe(welcomeId);
    for (const [language, text] of [['fr', 'Bonjour et bienvenue.'], ['de', 'Guten Tag und willkommen.'], ['es', 'Hola y bienvenido.']]) {
      const res = await api('POST', '/api/v1/prompts/tts', { json: { name: `hello ${language}`, text, language } });
      expect(res.statusCode, language).toBe(201);
      expect(res.json().durationMs).toBeGreaterThan(0);
    }
    const taken = await api('POST', '/api/v1/prompts/tts', { json: { name: 'welcome', text: 'Something else.', language: 'en' } });
    expect(taken.statusCode).toBe(409);
    expect(taken.json().error.code).toBe('prompt-exists');
  });

  it('unknown language or voice: 400 naming it; bad text: 400', async () => {
    const lang = await api('POST', '/api/v1/prompts/tts', { json: { name: 'x', text: 'Hello.', language: 'xx-klingon' } });
    expect(lang.statusCode).toBe(400);
    expect(lang.json().error.code).toBe('prompt-language-unknown');
    expect(lang.json().error.message).toContain('xx-klingon');
    const voice = await api('POST', '/api/v1/prompts/tts', { json: { name: 'x', text: 'Hello.', language: 'en', voice: 'nosuchvoice' } });
    expect(voice.statusCode).toBe(400);
    expect(voice.json().error.code).toBe('prompt-voice-unknown');
    expect(voice.json().error.message).toContain('nosuchvoice');
    const long = await api('POST', '/api/v1/prompts/tts', { json: { name: 'x', text: 'a'.repeat(501), language: 'en' } });
    expect(long.statusCode).toBe(400);
    expect(long.json().error.message).toMatch(/text/);
    const blank = await api('POST', '/api/v1/prompts/tts', { json: { name: 'x', text: '   ', language: 'en' } });
    expect(blank.statusCode).toBe(400);
    expect(blank.json().error.message).toMatch(/text/);
    const extra = await api('POST', '/api/v1/prompts/tts', { json: { name: 'x', text: 'Hi.', language: 'en', speed: 3 } });
    expect(extra.statusCode).toBe(400);
    expect(extra.json().error.code).toBe('validation-failed');
    expect((await api('POST', '/api/v1/prompts/tts', { token: viewerToken, json: { name: 'x', text: 'Hi.', language: 'en' } })).statusCode).toBe(403);
  });

  it('text starting with "-" is spoken, not read as an espeak-ng option', async () => {
    const res = await api('POST', '/api/v1/prompts/tts', { json: { name: 'dash', text: '--version minus one', language: 'en' } });
    expect(res.statusCode).toBe(201);
    expect(res.json().durationMs).toBeGreaterThan(500);
  });
});

describe('prompts API: in use', () => {
  it('refuses to delete a prompt a published flow plays: 409 prompt-in-use naming the flows', async () => {
    const created = await upload('menu greeting', files['tone.wav']!);
    expect(created.statusCode).toBe(201);
    const id: string = created.json().id;
    const config = testConfig({ PBX_PROMPTS_DIR: promptsDir, PBX_PROMPTS_DIR_ASTERISK: ASTERISK_DIR });
    const auth = new AuthService(app.db);
    const prompts = new PromptService({
      db: app.db, settings: config.prompts, log: createLogger('silent'),
      usage: async (promptId) => (promptId === id ? ['main-menu', 'after-hours'] : []),
    });
    // The feature's plugin mounted on the daemon's server like src/app.ts does, with the usage check wired to "flows".
    const http = await buildHttp({ log: createLogger('silent'), version: 'test', authFailures: config.http.authFailures });
    await http.register(promptsPlugin, { auth, prompts, maxBytes: config.prompts.maxBytes, prefix: '/api/v1' });
    try {
      const res = await http.inject({ method: 'DELETE', url: `/api/v1/prompts/${id}`, headers: { authorization: `Bearer ${adminToken}` } });
      expect(res.statusCode).toBe(409);
      expect(res.json().error.code).toBe('prompt-in-use');
      expect(res.json().error.message).toContain('main-menu');
      expect(res.json().error.details.flows).toEqual(['main-menu', 'after-hours']);
      expect((await stat(path.join(promptsDir, `${id}.wav`))).isFile()).toBe(true);
      expect(prompts.mediaUri(id)).toBe(`sound:${ASTERISK_DIR}/${id}`);
    } finally {
      await http.close();
    }
    expect((await api('DELETE', `/api/v1/prompts/${id}`)).statusCode).toBe(204);
  });
});
