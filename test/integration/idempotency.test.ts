/**
 * Idempotency keys (issue #19) against the real Postgres: through the daemon's own routes (tokens,
 * extensions), and through a small server of its own with routes that fail, block and answer with
 * headers, for what the real routes cannot be made to do on demand.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { FastifyInstance, InjectOptions } from 'fastify';
import { sql } from 'kysely';
import { randomUUID } from 'node:crypto';
import type { App } from '../../src/app.js';
import { AuthService, CLI_ACTOR } from '../../src/auth/service.js';
import { AppError } from '../../src/errors.js';
import { requireRole } from '../../src/http/auth.js';
import { buildHttp } from '../../src/http/server.js';
import { idempotencyPlugin } from '../../src/idempotency/plugin.js';
import { purgeExpiredKeys } from '../../src/idempotency/repository.js';
import { createLogger } from '../../src/logger.js';
import { startTestApp } from '../support/app.js';
import { holdFor } from '../support/wait.js';

let app: App;
let tokenA: string;
let tokenB: string;

type Method = 'GET' | 'POST' | 'PUT' | 'PATCH' | 'DELETE';
const send = (http: FastifyInstance, token: string, method: Method, url: string, body?: unknown, key?: string) =>
  http.inject({
    method,
    url,
    headers: { authorization: `Bearer ${token}`, ...(key === undefined ? {} : { 'idempotency-key': key }) },
    ...(body === undefined ? {} : { payload: body as InjectOptions['payload'] }),
  });
const api = (token: string, method: Method, url: string, body?: unknown, key?: string) => send(app.http, token, method, `/api/v1${url}`, body, key);

const tokensNamed = async (name: string): Promise<number> =>
  (await app.db.selectFrom('api_tokens').select('id').where('name', '=', name).execute()).length;
const replayed = (res: { headers: Record<string, unknown> }): boolean => res.headers['idempotent-replayed'] === 'true';
const newKey = (): string => `it-${randomUUID()}`;

beforeAll(async () => {
  app = await startTestApp();
  const auth = new AuthService(app.db);
  tokenA = (await auth.createToken(CLI_ACTOR, { username: 'idem-a', name: 'it', ttlDays: 1, ensureRole: 'admin' })).token;
  tokenB = (await auth.createToken(CLI_ACTOR, { username: 'idem-b', name: 'it', ttlDays: 1, ensureRole: 'admin' })).token;
});
afterAll(async () => {
  await app?.stop();
});

describe('Idempotency-Key on the API', () => {
  it('replays the first answer of a create, with no second effect', async () => {
    const key = newKey();
    const body = { username: 'idem-a', name: 'replay-token' };
    const first = await api(tokenA, 'POST', '/tokens', body, key);
    expect(first.statusCode).toBe(201);
    expect(replayed(first)).toBe(false);
    // The same body with its keys in another order is the same request.
    const again = await api(tokenA, 'POST', '/tokens', { name: 'replay-token', username: 'idem-a' }, key);
    expect(again.statusCode).toBe(201);
    expect(replayed(again)).toBe(true);
    expect(again.payload).toBe(first.payload);
    expect(again.headers['content-type']).toBe(first.headers['content-type']);
    expect(await tokensNamed('replay-token')).toBe(1);
    // The stored answer holds the new token's secret sealed, not in plaintext.
    const secret = JSON.stringify(first.json()).match(/pbx_[A-Za-z0-9_-]+/)?.[0];
    expect(secret).toBeDefined();
    const row = await app.db.selectFrom('idempotency_keys').selectAll().where('key', '=', key).executeTakeFirstOrThrow();
    expect(row).toMatchObject({ method: 'POST', path: '/api/v1/tokens', state: 'done', response_status: 201 });
    expect(row.response_body?.includes(Buffer.from(secret!))).toBe(false);
  });

  it('makes an extension once, however often the create is sent with one key', async () => {
    const key = newKey();
    const body = { number: '3801', displayName: 'Idem Potent' };
    const first = await api(tokenA, 'POST', '/extensions', body, key);
    expect(first.statusCode).toBe(201);
    const password = (await app.db.selectFrom('ps_auths').select('password').where('id', '=', '3801').executeTakeFirstOrThrow()).password;
    const again = await api(tokenA, 'POST', '/extensions', body, key);
    expect({ status: again.statusCode, replayed: replayed(again), payload: again.payload }).toEqual({ status: 201, replayed: true, payload: first.payload });
    // Without the key the same create is a second attempt, refused.
    expect((await api(tokenA, 'POST', '/extensions', body)).statusCode).toBe(409);
    expect((await app.db.selectFrom('ps_auths').select('password').where('id', '=', '3801').executeTakeFirstOrThrow()).password).toBe(password);
    const audit = await app.db.selectFrom('audit_log').select('id').where('entity', '=', 'extension').where('entity_id', '=', '3801').execute();
    expect(audit).toHaveLength(1);
  });

  it('refuses the key with another body, or on another route, with 422 idempotency-key-reused', async () => {
    const key = newKey();
    expect((await api(tokenA, 'POST', '/tokens', { username: 'idem-a', name: 'mismatch-1' }, key)).statusCode).toBe(201);
    const otherBody = await api(tokenA, 'POST', '/tokens', { username: 'idem-a', name: 'mismatch-2' }, key);
    expect(otherBody.statusCode).toBe(422);
    expect(otherBody.json().error).toMatchObject({ code: 'idempotency-key-reused', details: { differs: 'body' } });
    const otherRoute = await api(tokenA, 'POST', '/users', { username: 'idem-mismatch', role: 'viewer' }, key);
    expect(otherRoute.statusCode).toBe(422);
    expect(otherRoute.json().error).toMatchObject({ code: 'idempotency-key-reused', details: { differs: 'method and path', path: '/api/v1/tokens' } });
    expect(await tokensNamed('mismatch-2')).toBe(0);
    expect(await app.db.selectFrom('users').select('id').where('username', '=', 'idem-mismatch').executeTakeFirst()).toBeUndefined();
  });

  it('two concurrent requests with one key: one effect, the same answer twice', async () => {
    const key = newKey();
    const body = { username: 'idem-a', name: 'concurrent-token' };
    const answers = await Promise.all([1, 2, 3].map(() => api(tokenA, 'POST', '/tokens', body, key)));
    expect(answers.map((a) => a.statusCode)).toEqual([201, 201, 201]);
    expect(new Set(answers.map((a) => a.payload)).size).toBe(1);
    expect(answers.filter(replayed)).toHaveLength(2);
    expect(await tokensNamed('concurrent-token')).toBe(1);

    const ext = { number: '3802', displayName: 'Concurrent' };
    const [x, y] = await Promise.all([api(tokenA, 'POST', '/extensions', ext, key + '-ext'), api(tokenA, 'POST', '/extensions', ext, key + '-ext')]);
    expect([x!.statusCode, y!.statusCode]).toEqual([201, 201]);
    expect(x!.payload).toBe(y!.payload);
    expect([x, y].filter((r) => replayed(r!))).toHaveLength(1);
    expect(await app.db.selectFrom('extensions').select('number').where('number', '=', '3802').execute()).toHaveLength(1);
  });

  it('keeps keys per token: another token with the same key and body makes its own', async () => {
    const key = newKey();
    const body = { username: 'idem-a', name: 'per-token' };
    const a = await api(tokenA, 'POST', '/tokens', body, key);
    const b = await api(tokenB, 'POST', '/tokens', body, key);
    expect([a.statusCode, b.statusCode, replayed(b)]).toEqual([201, 201, false]);
    expect(b.json().id).not.toBe(a.json().id);
    expect(await tokensNamed('per-token')).toBe(2);
  });

  it('stores and replays a 4xx answer; the first answer stands even when it would now differ', async () => {
    const key = newKey();
    const body = { number: '3801', displayName: 'Taken' };
    const first = await api(tokenA, 'POST', '/extensions', body, key);
    expect(first.statusCode).toBe(409);
    expect((await api(tokenA, 'DELETE', '/extensions/3801')).statusCode).toBe(204);
    const again = await api(tokenA, 'POST', '/extensions', body, key);
    expect({ status: again.statusCode, replayed: replayed(again), payload: again.payload }).toEqual({ status: 409, replayed: true, payload: first.payload });
    expect(await app.db.selectFrom('extensions').select('number').where('number', '=', '3801').executeTakeFirst()).toBeUndefined();
  });

  it('replays a DELETE (204, no body)', async () => {
    const id = (await api(tokenA, 'POST', '/tokens', { username: 'idem-a', name: 'to-revoke' })).json().id as string;
    const key = newKey();
    const first = await api(tokenA, 'DELETE', `/tokens/${id}`, undefined, key);
    const again = await api(tokenA, 'DELETE', `/tokens/${id}`, undefined, key);
    expect([first.statusCode, again.statusCode, replayed(again), again.payload]).toEqual([204, 204, true, '']);
  });

  it('runs a request again once its key is over 24 h old, and the purge deletes such keys', async () => {
    const key = newKey();
    const body = { username: 'idem-a', name: 'expired-key' };
    expect((await api(tokenA, 'POST', '/tokens', body, key)).statusCode).toBe(201);
    await app.db.updateTable('idempotency_keys').set({ created_at: sql`now() - interval '24 hours 1 minute'` }).where('key', '=', key).execute();
    const later = await api(tokenA, 'POST', '/tokens', body, key);
    expect([later.statusCode, replayed(later)]).toEqual([201, false]);
    expect(await tokensNamed('expired-key')).toBe(2);

    const old = newKey();
    expect((await api(tokenA, 'POST', '/tokens', { username: 'idem-a', name: 'purged-key' }, old)).statusCode).toBe(201);
    await app.db.updateTable('idempotency_keys').set({ created_at: sql`now() - interval '25 hours'` }).where('key', '=', old).execute();
    expect(await purgeExpiredKeys(app.db)).toBeGreaterThanOrEqual(1);
    const left = await app.db.selectFrom('idempotency_keys').select('key').where('key', 'in', [key, old]).execute();
    expect(left.map((r) => r.key)).toEqual([key]);
  });

  it('refuses a malformed key with 400 idempotency-key-invalid; reads ignore the header', async () => {
    for (const bad of ['', 'x'.repeat(256), 'clé']) {
      const res = await api(tokenA, 'POST', '/tokens', { username: 'idem-a', name: 'bad-key' }, bad);
      expect(res.statusCode).toBe(400);
      expect(res.json().error.code).toBe('idempotency-key-invalid');
    }
    expect(await tokensNamed('bad-key')).toBe(0);
    expect((await api(tokenA, 'GET', '/me', undefined, 'x'.repeat(300))).statusCode).toBe(200);
  });

  it('does not store answers to requests refused before their handler (no token, invalid body)', async () => {
    const key = newKey();
    const noToken = await app.http.inject({ method: 'POST', url: '/api/v1/tokens', headers: { 'idempotency-key': key }, payload: { username: 'idem-a', name: 'x' } });
    expect(noToken.statusCode).toBe(401);
    expect((await api(tokenA, 'POST', '/tokens', { username: 'idem-a', name: '' }, key)).statusCode).toBe(400);
    expect(await app.db.selectFrom('idempotency_keys').select('key').where('key', '=', key).executeTakeFirst()).toBeUndefined();
    expect((await api(tokenA, 'POST', '/tokens', { username: 'idem-a', name: 'after-400' }, key)).statusCode).toBe(201);
  });

  it('lists the header on every changing route of the OpenAPI document, and on no read', async () => {
    const doc = (await app.http.inject({ method: 'GET', url: '/docs/json' })).json() as {
      paths: Record<string, Record<string, { parameters?: { in: string; name: string }[]; responses?: Record<string, unknown> }>>;
    };
    const withHeader = (op: { parameters?: { in: string; name: string }[] }): boolean =>
      (op.parameters ?? []).some((p) => p.in === 'header' && p.name === 'idempotency-key');
    const ops = Object.entries(doc.paths).filter(([path]) => path.startsWith('/api/v1/')).flatMap(([path, methods]) => Object.entries(methods).map(([m, op]) => ({ id: `${m} ${path}`, changes: m !== 'get' && m !== 'head', has: withHeader(op) })));
    expect(ops.filter((o) => o.changes).length).toBeGreaterThan(20);
    expect(ops.filter((o) => o.changes !== o.has).map((o) => o.id)).toEqual([]);
    expect(Object.keys(doc.paths['/api/v1/extensions']!['post']!.responses ?? {})).toEqual(expect.arrayContaining(['201', '409', '422']));
  });
});

describe('Idempotency-Key when the handler fails, blocks or is slow', () => {
  let http: FastifyInstance;
  let calls = 0;
  let behaviour: 'ok' | 'throw' | 'unavailable' | 'block' = 'ok';
  let unblock: () => void = () => undefined;
  let blocked: Promise<void> = Promise.resolve();
  let entered: () => void = () => undefined;

  const post = (key: string, n = 1) => send(http, tokenA, 'POST', '/api/v1/thing', { n }, key);
  const rows = (key: string) => app.db.selectFrom('idempotency_keys').select(['state']).where('key', '=', key).execute();
  /** The next call of the handler waits until unblock(); resolves once it has been entered. */
  const blockNext = (): Promise<void> => {
    behaviour = 'block';
    blocked = new Promise<void>((resolve) => (unblock = resolve));
    return new Promise<void>((resolve) => (entered = resolve));
  };

  beforeAll(async () => {
    http = await buildHttp({ log: createLogger('silent'), version: 'test', authFailures: { limit: 1000, windowSeconds: 60 } });
    const auth = new AuthService(app.db);
    await http.register(
      async (scope) => {
        await scope.register(idempotencyPlugin, { db: app.db, waitMs: 2_000 });
        scope.post<{ Body: { n: number } }>(
          '/thing',
          { onRequest: requireRole(auth, 'admin'), schema: { security: [{ bearer: [] }], body: { type: 'object', properties: { n: { type: 'integer' } }, required: ['n'] } } },
          async (request, reply) => {
            calls++;
            if (behaviour === 'throw') throw new Error('boom');
            if (behaviour === 'unavailable') throw new AppError('asterisk-unavailable', 503, 'Asterisk ARI is not connected');
            if (behaviour === 'block') {
              entered();
              await blocked;
            }
            return reply.status(201).header('location', `/api/v1/thing/${calls}`).send({ call: calls, n: request.body.n });
          },
        );
        // A raw body, as prompt uploads are (src/prompts/routes.ts).
        scope.addContentTypeParser('application/octet-stream', { parseAs: 'buffer' }, (_request, body, done) => done(null, body));
        scope.post<{ Body: Buffer }>(
          '/upload',
          { onRequest: requireRole(auth, 'admin'), schema: { security: [{ bearer: [] }], querystring: { type: 'object', properties: { name: { type: 'string' } } } } },
          async (request, reply) => reply.status(201).send({ call: ++calls, bytes: request.body.length }),
        );
      },
      { prefix: '/api/v1' },
    );
    await http.ready();
  });
  afterAll(async () => {
    unblock();
    await http?.close();
  });

  it('a 500 (the handler threw) releases the key: the retry runs, and is then replayed', async () => {
    const key = newKey();
    behaviour = 'throw';
    const before = calls;
    expect((await post(key)).statusCode).toBe(500);
    expect(await rows(key)).toEqual([]);
    behaviour = 'ok';
    const retry = await post(key);
    expect([retry.statusCode, replayed(retry)]).toEqual([201, false]);
    const third = await post(key);
    expect([third.statusCode, replayed(third), third.payload, third.headers['location']]).toEqual([201, true, retry.payload, retry.headers['location']]);
    expect(calls - before).toBe(2);
  });

  it('a 503 releases the key too', async () => {
    const key = newKey();
    behaviour = 'unavailable';
    expect((await post(key)).statusCode).toBe(503);
    expect(await rows(key)).toEqual([]);
    behaviour = 'ok';
    expect((await post(key)).statusCode).toBe(201);
    expect(await rows(key)).toEqual([{ state: 'done' }]);
  });

  it('a request finding its key pending waits for the first answer and replays it', async () => {
    const key = newKey();
    const before = calls;
    const inHandler = blockNext();
    const first = post(key);
    await inHandler;
    const second = post(key);
    await holdFor(300, 'the second request waits while the first holds the key');
    behaviour = 'ok';
    unblock();
    const [a, b] = await Promise.all([first, second]);
    expect([a.statusCode, replayed(a), b.statusCode, replayed(b)]).toEqual([201, false, 201, true]);
    expect(b.payload).toBe(a.payload);
    expect(calls - before).toBe(1);
  });

  it('gives up after the wait with 409 idempotency-in-progress and Retry-After; a different body is told at once', async () => {
    const key = newKey();
    const inHandler = blockNext();
    const first = post(key);
    await inHandler;
    const other = await post(key, 2);
    expect([other.statusCode, other.json().error.code]).toEqual([422, 'idempotency-key-reused']);
    const second = await post(key);
    expect(second.statusCode).toBe(409);
    expect(second.json().error.code).toBe('idempotency-in-progress');
    expect(Number(second.headers['retry-after'])).toBeGreaterThanOrEqual(1);
    behaviour = 'ok';
    unblock();
    expect((await first).statusCode).toBe(201);
    expect(replayed(await post(key))).toBe(true);
  });

  it('a raw body is compared byte for byte, and the query string is part of the path', async () => {
    const key = newKey();
    const upload = (name: string, bytes: Buffer) =>
      http.inject({ method: 'POST', url: `/api/v1/upload?name=${name}`, headers: { authorization: `Bearer ${tokenA}`, 'idempotency-key': key, 'content-type': 'application/octet-stream' }, payload: bytes });
    const first = await upload('a', Buffer.from('RIFF0000WAVE'));
    expect(first.statusCode).toBe(201);
    const again = await upload('a', Buffer.from('RIFF0000WAVE'));
    expect([again.statusCode, replayed(again), again.payload]).toEqual([201, true, first.payload]);
    const otherBytes = await upload('a', Buffer.from('RIFF0001WAVE'));
    expect([otherBytes.statusCode, otherBytes.json().error.details.differs]).toEqual([422, 'body']);
    const otherQuery = await upload('b', Buffer.from('RIFF0000WAVE'));
    expect([otherQuery.statusCode, otherQuery.json().error.details.differs]).toEqual([422, 'method and path']);
  });

  it('a pending key whose request never finished is free again after its lease', async () => {
    const key = newKey();
    const tokenId = (await app.db.selectFrom('api_tokens').innerJoin('users', 'users.id', 'api_tokens.user_id').select('api_tokens.id').where('users.username', '=', 'idem-a').where('api_tokens.name', '=', 'it').executeTakeFirstOrThrow()).id;
    await app.db.insertInto('idempotency_keys').values({
      token_id: tokenId, key, method: 'POST', path: '/api/v1/thing', body_hash: '0'.repeat(64), state: 'pending', claim: randomUUID(), created_at: sql`now() - interval '3 minutes'`,
    }).execute();
    behaviour = 'ok';
    const res = await post(key);
    expect([res.statusCode, replayed(res)]).toEqual([201, false]);
  });
});
