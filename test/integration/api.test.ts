import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { App } from '../../src/app.js';
import { AuthService, CLI_ACTOR } from '../../src/auth/service.js';
import { closeCall } from '../../src/calls/repository.js';
import { buildCdr } from '../../src/calls/cdr.js';
import { startTestApp } from '../support/app.js';

let app: App;
let admin: string;
let viewer: string;

const get = (url: string, token?: string) =>
  app.http.inject({ method: 'GET', url, headers: token ? { authorization: `Bearer ${token}` } : {} });
const send = (method: 'POST' | 'DELETE', url: string, token: string, body?: unknown) =>
  app.http.inject({ method, url, headers: { authorization: `Bearer ${token}` }, ...(body === undefined ? {} : { payload: body as object }) });

beforeAll(async () => {
  app = await startTestApp();
  const auth = new AuthService(app.db);
  admin = (await auth.createToken(CLI_ACTOR, { username: 'it-admin', name: 'it', ttlDays: 1, ensureRole: 'admin' })).token;
  viewer = (await auth.createToken(CLI_ACTOR, { username: 'it-viewer', name: 'it', ttlDays: 1, ensureRole: 'viewer' })).token;
});

afterAll(async () => {
  await app?.stop();
});

describe('health', () => {
  it('live answers without auth', async () => {
    const res = await get('/health/live');
    expect(res.statusCode).toBe(200);
    expect(res.json()).toEqual({ status: 'ok' });
  });

  it('ready is 503 while Asterisk is down and reports each dependency separately', async () => {
    const res = await get('/health/ready');
    expect(res.statusCode).toBe(503);
    const body = res.json();
    expect(body.status).toBe('not-ready');
    expect(body.checks.postgres.ok).toBe(true);
    expect(body.checks.redis.ok).toBe(true);
    expect(body.checks.asterisk).toMatchObject({ ok: false, ari: false, ami: false });
    expect(body.checks.asterisk.error).toMatch(/ARI and AMI not connected/);
  });
});

describe('auth', () => {
  it('refuses a missing token, a bad token and a malformed header with distinct codes', async () => {
    expect((await get('/api/v1/me')).json().error.code).toBe('unauthorized');
    const bad = await get('/api/v1/me', 'pbx_not-a-real-token');
    expect(bad.statusCode).toBe(401);
    expect(bad.json().error.code).toBe('token-invalid');
    const basic = await app.http.inject({ method: 'GET', url: '/api/v1/me', headers: { authorization: 'Basic Zm9vOmJhcg==' } });
    expect(basic.json().error.code).toBe('unauthorized');
  });

  it('refuses an expired token with token-expired', async () => {
    const auth = new AuthService(app.db, () => new Date(Date.now() - 2 * 86_400_000));
    const { token } = await auth.createToken(CLI_ACTOR, { username: 'it-old', name: 'old', ttlDays: 1, ensureRole: 'viewer' });
    const res = await get('/api/v1/me', token);
    expect(res.statusCode).toBe(401);
    expect(res.json().error.code).toBe('token-expired');
  });

  it('tells a viewer it needs admin', async () => {
    const res = await send('POST', '/api/v1/users', viewer, { username: 'x1', role: 'viewer' });
    expect(res.statusCode).toBe(403);
    expect(res.json().error).toMatchObject({ code: 'forbidden', details: { need: 'admin', have: 'viewer' } });
  });

  it('creates a user, audits it, and refuses a duplicate', async () => {
    const res = await send('POST', '/api/v1/users', admin, { username: 'alice', role: 'supervisor' });
    expect(res.statusCode).toBe(201);
    expect(res.json()).toMatchObject({ username: 'alice', role: 'supervisor', disabled: false });
    const dup = await send('POST', '/api/v1/users', admin, { username: 'alice', role: 'viewer' });
    expect(dup.statusCode).toBe(409);
    expect(dup.json().error.code).toBe('user-exists');
    const audit = (await get('/api/v1/audit?limit=50', admin)).json().items;
    expect(audit.find((a: { action: string; details: { username?: string } }) => a.action === 'user.create' && a.details.username === 'alice'))
      .toMatchObject({ actor: 'user:it-admin', entity: 'user' });
  });

  it('issues a token once, which works until revoked', async () => {
    const created = await send('POST', '/api/v1/tokens', admin, { username: 'alice', name: 'wallboard', ttlDays: 7 });
    expect(created.statusCode).toBe(201);
    const { id, secret: token } = created.json();
    expect((await get('/api/v1/me', token)).json()).toMatchObject({ username: 'alice', role: 'supervisor' });
    const listed = (await get('/api/v1/tokens', admin)).json().items;
    expect(JSON.stringify(listed)).not.toContain(token);
    expect((await send('DELETE', `/api/v1/tokens/${id}`, admin)).statusCode).toBe(204);
    expect((await get('/api/v1/me', token)).json().error.code).toBe('token-invalid');
    expect((await send('DELETE', '/api/v1/tokens/999999', admin)).json().error.code).toBe('token-not-found');
  });
});

describe('bad input', () => {
  it.each([
    [{ username: 'bob', role: 'root' }, 'body.role'],
    [{ username: 'bob' }, 'body.role'],
    [{ username: 'bob', role: 'viewer', admin: true }, 'body.admin'],
    [{ username: 'B O B', role: 'viewer' }, 'body.username'],
  ])('POST /users %j names %s', async (body, field) => {
    const res = await send('POST', '/api/v1/users', admin, body);
    expect(res.statusCode).toBe(400);
    const err = res.json().error;
    expect(err.code).toBe('validation-failed');
    expect(err.details.problems.map((p: { field: string }) => p.field)).toContain(field);
  });

  it('rejects a body that is not JSON', async () => {
    const res = await app.http.inject({
      method: 'POST',
      url: '/api/v1/users',
      headers: { authorization: `Bearer ${admin}`, 'content-type': 'application/json' },
      payload: '{"username":',
    });
    expect(res.statusCode).toBe(400);
    expect(res.json().error.code).toBe('validation-failed');
  });

  it('unknown routes get route-not-found', async () => {
    const res = await get('/api/v1/nope', admin);
    expect(res.statusCode).toBe(404);
    expect(res.json().error.code).toBe('route-not-found');
  });

  it.each([
    ['/api/v1/cdrs?limit=0', 'querystring.limit'],
    ['/api/v1/cdrs?disposition=MAYBE', 'querystring.disposition'],
    ['/api/v1/cdrs?from=yesterday', 'querystring.from'],
    ['/api/v1/cdrs?cursor=garbage', 'querystring.cursor'],
    ['/api/v1/cdrs?color=red', 'querystring.color'],
    ['/api/v1/cdrs?from=2026-01-02T00:00:00Z&to=2026-01-01T00:00:00Z', 'querystring.from'],
  ])('GET %s names %s', async (url, field) => {
    const res = await get(url, viewer);
    expect(res.statusCode).toBe(400);
    expect(JSON.stringify(res.json().error)).toContain(field);
  });
});

describe('CDR search', () => {
  beforeAll(async () => {
    const base = Date.parse('2026-01-05T09:00:00Z');
    for (let i = 0; i < 7; i++) {
      const startedAt = new Date(base + i * 60_000);
      await closeCall(
        app.db,
        buildCdr(
          {
            callId: `it-${i}`,
            direction: 'inbound',
            callerNumber: i % 2 ? '1001' : '1002',
            callerName: null,
            dialedNumber: '500',
            startedAt,
            answeredAt: i === 6 ? null : new Date(startedAt.getTime() + 1000),
            digits: '',
          },
          { endedAt: new Date(startedAt.getTime() + 11_000), cause: 16, causeText: 'Normal Clearing', endedBy: 'caller', reconciled: false },
        ),
      );
    }
  });

  it('filters and pages newest first without gaps or repeats', async () => {
    const seen: string[] = [];
    let cursor: string | null = null;
    do {
      const res = await get(`/api/v1/cdrs?limit=3&dialed=500&from=2026-01-05T00:00:00Z${cursor ? `&cursor=${cursor}` : ''}`, viewer);
      expect(res.statusCode).toBe(200);
      const page = res.json();
      seen.push(...page.items.map((c: { callId: string }) => c.callId));
      cursor = page.nextCursor;
    } while (cursor);
    expect(seen).toEqual(['it-6', 'it-5', 'it-4', 'it-3', 'it-2', 'it-1', 'it-0']);
  });

  it('filters by caller and disposition', async () => {
    const res = (await get('/api/v1/cdrs?caller=1002&disposition=ANSWERED&from=2026-01-05T00:00:00Z', viewer)).json();
    expect(res.items.map((c: { callId: string }) => c.callId)).toEqual(['it-4', 'it-2', 'it-0']);
    const one = res.items[0];
    expect(one).toMatchObject({ durationSeconds: 11, billableSeconds: 10, hangupCause: 16, disposition: 'ANSWERED' });
    const byId = await get(`/api/v1/cdrs/${one.id}`, viewer);
    expect(byId.json().callId).toBe('it-4');
    expect((await get('/api/v1/cdrs/424242', viewer)).statusCode).toBe(404);
  });

  it('closing the same call twice keeps one CDR', async () => {
    const facts = { callId: 'it-dup', direction: 'inbound' as const, callerNumber: '1', callerName: null, dialedNumber: '2', startedAt: new Date(), answeredAt: null, digits: '' };
    const end = { endedAt: new Date(), cause: 16, causeText: null, endedBy: 'caller' as const, reconciled: false };
    expect(await closeCall(app.db, buildCdr(facts, end))).toBe(true);
    expect(await closeCall(app.db, buildCdr(facts, end))).toBe(false);
    const res = (await get('/api/v1/cdrs?callId=it-dup', viewer)).json();
    expect(res.items).toHaveLength(1);
  });
});

describe('OpenAPI', () => {
  it('documents every API route with its security', async () => {
    const res = await get('/docs/json');
    expect(res.statusCode).toBe(200);
    const spec = res.json();
    expect(spec.openapi).toMatch(/^3\./);
    for (const path of ['/api/v1/cdrs', '/api/v1/calls/live', '/api/v1/tokens', '/health/ready']) expect(spec.paths).toHaveProperty([path]);
    expect(spec.paths['/api/v1/cdrs'].get.security).toEqual([{ bearer: [] }]);
  });
});
