/**
 * Issue #21, finding 3 and its hardening points, against the daemon's app and real PostgreSQL:
 * authentication before the body is read (no parsing, no schema validation without a valid token),
 * failed authentications limited per source, a JSON depth limit, and no array taken for a string.
 */
import { Writable } from 'node:stream';
import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createApp, type App } from '../../src/app.js';
import { AuthService, CLI_ACTOR } from '../../src/auth/service.js';
import { testConfig } from '../support/app.js';

const LIMIT = 5;
let app: App;
let admin: string;
let viewer: string;
const logLines: Record<string, unknown>[] = [];

type Method = 'GET' | 'POST' | 'PATCH';
const call = (method: Method, url: string, opts: { token?: string; ip: string; json?: unknown; raw?: string }) =>
  app.http.inject({
    method,
    url,
    remoteAddress: opts.ip,
    headers: {
      ...(opts.token ? { authorization: `Bearer ${opts.token}` } : {}),
      ...(opts.raw !== undefined || opts.json !== undefined ? { 'content-type': 'application/json' } : {}),
    },
    ...(opts.raw !== undefined ? { payload: opts.raw } : opts.json !== undefined ? { payload: JSON.stringify(opts.json) } : {}),
  });
const nested = (depth: number) => '['.repeat(depth) + ']'.repeat(depth);
const authFailures = (ip: string) => logLines.filter((l) => l['event'] === 'auth-failure' && l['ip'] === ip);

beforeAll(async () => {
  const config = testConfig({ PBX_AUTH_FAIL_LIMIT: String(LIMIT), PBX_AUTH_FAIL_WINDOW_SECONDS: '60' });
  const log = pino({ level: 'info' }, new Writable({
    write: (chunk, _enc, cb) => {
      for (const line of String(chunk).split('\n').filter(Boolean)) logLines.push(JSON.parse(line) as Record<string, unknown>);
      cb();
    },
  }));
  app = await createApp(config, log);
  await app.http.ready();
  const auth = new AuthService(app.db);
  admin = (await auth.createToken(CLI_ACTOR, { username: 'hard-admin', name: 'it', ttlDays: 1, ensureRole: 'admin' })).token;
  viewer = (await auth.createToken(CLI_ACTOR, { username: 'hard-viewer', name: 'it', ttlDays: 1, ensureRole: 'viewer' })).token;
});

afterAll(async () => {
  await app?.stop();
});

describe('authentication comes before the body', () => {
  it('a schema-invalid body without a token gets 401, not 400', async () => {
    const res = await call('POST', '/api/v1/users', { ip: '192.0.2.1', json: { username: 42, role: 'emperor', extra: true } });
    expect(res.statusCode).toBe(401);
    expect(res.json().error.code).toBe('unauthorized');
  });

  it('a body that is not JSON at all, with a wrong token, gets 401 token-invalid: it is never parsed', async () => {
    const res = await call('PATCH', '/api/v1/extensions/3001', { ip: '192.0.2.2', token: 'pbx_not-a-real-token', raw: '{"displayName": ' });
    expect(res.statusCode).toBe(401);
    expect(res.json().error.code).toBe('token-invalid');
  });

  it('a megabyte of nested arrays without a token gets 401', async () => {
    const body = nested(500_000);
    expect(body.length).toBe(1_000_000);
    const res = await call('POST', '/api/v1/extensions', { ip: '192.0.2.3', raw: body });
    expect(res.statusCode).toBe(401);
    expect(res.json().error.code).toBe('unauthorized');
  });

  it('a viewer sending a broken body to an admin route gets 403 before the body is parsed', async () => {
    const res = await call('POST', '/api/v1/users', { ip: '192.0.2.4', token: viewer, raw: 'not json' });
    expect(res.statusCode).toBe(403);
    expect(res.json().error).toMatchObject({ code: 'forbidden', details: { need: 'admin', have: 'viewer' } });
  });

  it('a body sent to no route gets 404 unparsed', async () => {
    const res = await call('POST', '/api/v1/no-such-thing', { ip: '192.0.2.6', raw: '{"broken": ' });
    expect(res.statusCode).toBe(404);
    expect(res.json().error.code).toBe('route-not-found');
  });

  it('with a valid token the body is parsed and validated as before', async () => {
    const res = await call('POST', '/api/v1/users', { ip: '192.0.2.5', token: admin, json: { username: 42, role: 'emperor' } });
    expect(res.statusCode).toBe(400);
    expect(res.json().error.code).toBe('validation-failed');
  });
});

describe('failed authentications are limited per source', () => {
  it(`after ${LIMIT} failures a source gets 429 with Retry-After; valid tokens from it still work; others are unaffected`, async () => {
    const ip = '203.0.113.7';
    // Successful requests are not counted, however many.
    for (let i = 0; i < 3 * LIMIT; i++) expect((await call('GET', '/api/v1/me', { ip, token: viewer })).statusCode).toBe(200);
    for (let i = 0; i < LIMIT; i++) {
      const res = await call('GET', '/api/v1/me', { ip, token: i % 2 ? 'pbx_wrong' : undefined });
      expect(res.statusCode).toBe(401);
    }
    const limited = await call('GET', '/api/v1/me', { ip, token: 'pbx_wrong' });
    expect(limited.statusCode).toBe(429);
    expect(limited.json().error).toMatchObject({ code: 'rate-limited', details: { limit: LIMIT, windowSeconds: 60 } });
    const retryAfter = Number(limited.headers['retry-after']);
    expect(retryAfter).toBeGreaterThanOrEqual(1);
    expect(retryAfter).toBeLessThanOrEqual(60);
    // A body does not get it past the limit either, and is still not parsed.
    expect((await call('POST', '/api/v1/users', { ip, raw: nested(1000) })).statusCode).toBe(429);

    // The wallboard behind the same address keeps working.
    const me = await call('GET', '/api/v1/me', { ip, token: viewer });
    expect(me.statusCode).toBe(200);
    expect((await call('POST', '/api/v1/users', { ip, token: admin, json: { username: 'hard-ok', role: 'viewer' } })).statusCode).toBe(201);

    // Another source is counted on its own.
    expect((await call('GET', '/api/v1/me', { ip: '203.0.113.8' })).statusCode).toBe(401);

    // Every failure, limited or not, is still one line for fail2ban.
    expect(authFailures(ip)).toHaveLength(LIMIT + 2);
    expect(authFailures(ip).at(-1)).toMatchObject({ kind: 'api', reason: 'unauthorized', msg: 'authentication failed' });
  });
});

describe('JSON bodies', () => {
  it('refuses a body nested deeper than 32 levels with 400 body-too-deep', async () => {
    const res = await call('POST', '/api/v1/users', { ip: '192.0.2.20', token: admin, raw: `{"username": ${nested(40)}, "role": "viewer"}` });
    expect(res.statusCode).toBe(400);
    expect(res.json().error).toMatchObject({ code: 'body-too-deep', message: 'body: JSON nested deeper than 32 levels', details: { maxDepth: 32 } });
    const huge = await call('POST', '/api/v1/users', { ip: '192.0.2.20', token: admin, raw: nested(500_000) });
    expect(huge.statusCode).toBe(400);
    expect(huge.json().error.code).toBe('body-too-deep');
  });

  it('refuses an array where a string is expected, naming the field, and creates nothing', async () => {
    const res = await call('POST', '/api/v1/extensions', { ip: '192.0.2.21', token: admin, json: { number: ['39031'], displayName: 'Array Number' } });
    expect(res.statusCode).toBe(400);
    expect(res.json().error).toMatchObject({ code: 'validation-failed', message: 'body.number: must be string' });
    expect(res.json().error.details.problems).toContainEqual({ field: 'body.number', message: 'must be string' });
    expect((await call('GET', '/api/v1/extensions/39031', { ip: '192.0.2.21', token: admin })).statusCode).toBe(404);
  });

  it('querystrings are still coerced from their strings', async () => {
    const res = await call('GET', '/api/v1/cdrs?limit=3', { ip: '192.0.2.22', token: viewer });
    expect(res.statusCode).toBe(200);
    const twice = await call('GET', '/api/v1/cdrs?limit=3&limit=4', { ip: '192.0.2.22', token: viewer });
    expect(twice.statusCode).toBe(400);
    expect(twice.json().error.message).toMatch(/^querystring\.limit/);
  });
});
