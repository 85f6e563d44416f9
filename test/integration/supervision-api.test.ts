/**
 * Live supervision's API and flag through the wired daemon (src/app.ts) against real Postgres,
 * Asterisk down: an extension's canSupervise (off by default, set by PATCH), and the requests
 * refused before anything would ring: 400 naming the field, 404 for an unknown supervisor
 * extension, agent or session, 409 for an agent who is logged out (not on a call), 403 for a viewer.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { App } from '../../src/app.js';
import { AuthService, CLI_ACTOR } from '../../src/auth/service.js';
import { startTestApp } from '../support/app.js';

let app: App;
let admin: string;
let supervisor: string;
let viewer: string;

type Method = 'GET' | 'POST' | 'PATCH' | 'DELETE';
const req = (method: Method, url: string, body?: unknown, token = supervisor) =>
  app.http.inject({ method, url: `/api/v1${url}`, headers: { authorization: `Bearer ${token}` }, ...(body === undefined ? {} : { payload: body as object }) });

// Numbers no other integration file uses (they share the run's database).
const SUP = '5801';
const AGENT = '7801';

beforeAll(async () => {
  app = await startTestApp();
  const auth = new AuthService(app.db);
  admin = (await auth.createToken(CLI_ACTOR, { username: 'it-sup-admin', name: 'it', ttlDays: 1, ensureRole: 'admin' })).token;
  supervisor = (await auth.createToken(CLI_ACTOR, { username: 'it-sup-supervisor', name: 'it', ttlDays: 1, ensureRole: 'supervisor' })).token;
  viewer = (await auth.createToken(CLI_ACTOR, { username: 'it-sup-viewer', name: 'it', ttlDays: 1, ensureRole: 'viewer' })).token;
  expect((await req('POST', '/extensions', { number: SUP, displayName: 'Sup Desk' }, admin)).statusCode).toBe(201);
  expect((await req('POST', '/agents', { number: AGENT, name: 'Logged Out', pin: '4711' })).statusCode).toBe(201);
});

afterAll(async () => {
  await app?.stop();
});

describe('canSupervise', () => {
  it('is off for a new extension and set by an admin; the row says the same', async () => {
    expect((await req('GET', `/extensions/${SUP}`)).json().canSupervise).toBe(false);
    const on = await req('PATCH', `/extensions/${SUP}`, { canSupervise: true }, admin);
    expect(on.statusCode, on.body).toBe(200);
    expect(on.json().canSupervise).toBe(true);
    const row = await app.db.selectFrom('extensions').select('can_supervise').where('number', '=', SUP).executeTakeFirstOrThrow();
    expect(row.can_supervise).toBe(true);
    expect((await req('PATCH', `/extensions/${SUP}`, { canSupervise: true }, supervisor)).statusCode).toBe(403);
  });
});

describe('POST /supervision', () => {
  it('400 names the field: a bad mode, two targets, none', async () => {
    const bad = await req('POST', '/supervision', { supervisorExtension: SUP, agent: AGENT, mode: 'spy' });
    expect(bad.statusCode).toBe(400);
    expect(bad.json().error.code).toBe('validation-failed');
    expect(bad.json().error.message).toMatch(/^body\/mode|^body\.mode/);
    const two = await req('POST', '/supervision', { supervisorExtension: SUP, agent: AGENT, extension: SUP, mode: 'listen' });
    expect(two.statusCode).toBe(400);
    expect(two.json().error.details).toEqual({ field: 'agent,extension' });
    const none = await req('POST', '/supervision', { supervisorExtension: SUP, mode: 'listen' });
    expect(none.statusCode).toBe(400);
  });

  it('404 for an unknown supervisor extension or agent; 409 for an agent not on a call; 403 for a viewer; nothing rings', async () => {
    const noSup = await req('POST', '/supervision', { supervisorExtension: '5899', agent: AGENT, mode: 'listen' });
    expect(noSup.statusCode).toBe(404);
    expect(noSup.json().error).toMatchObject({ code: 'extension-not-found', details: { field: 'supervisorExtension' } });
    const noAgent = await req('POST', '/supervision', { supervisorExtension: SUP, agent: '7899', mode: 'whisper' });
    expect(noAgent.statusCode).toBe(404);
    expect(noAgent.json().error.code).toBe('agent-not-found');
    const loggedOut = await req('POST', '/supervision', { supervisorExtension: SUP, agent: AGENT, mode: 'barge' });
    expect(loggedOut.statusCode).toBe(409);
    expect(loggedOut.json().error.code).toBe('supervision-not-on-call');
    expect((await req('POST', '/supervision', { supervisorExtension: SUP, agent: AGENT, mode: 'listen' }, viewer)).statusCode).toBe(403);
    expect((await req('GET', '/supervision')).json()).toEqual({ items: [], nextCursor: null });
  });
});

describe('a session by id', () => {
  it('404 supervision-not-found for one that does not exist: GET, PATCH, DELETE', async () => {
    for (const [method, body] of [['GET', undefined], ['PATCH', { mode: 'barge' }], ['DELETE', undefined]] as const) {
      const res = await req(method, '/supervision/sv-nope', body);
      expect(res.statusCode, `${method} ${res.body}`).toBe(404);
      expect(res.json().error.code).toBe('supervision-not-found');
    }
  });
});
