/**
 * Postgres unreachable (issue #22; docs/api.md#errors, docs/operations.md): every request that
 * fails because the daemon cannot reach Postgres answers 503 `service-unavailable` with
 * `Retry-After: 5` and the standard error body, not 500 `internal-error`. The daemon reaches the
 * run's Postgres through a TCP gate this test closes and freezes (the shared server keeps running):
 * - a query in flight when the connection is cut (pg reports it without any code);
 * - the connection refused (ECONNREFUSED), for a GET and a POST, and for the token check;
 * - a path that answers nothing (the pool's connect timeout, 5 s);
 * requests that need no Postgres (/health/live, /metrics without a token) still answer, and once
 * the gate is open again the same GET and POST answer 200 and 201.
 */
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import type { LightMyRequestResponse } from 'fastify';
import type { App } from '../../src/app.js';
import { CLI_ACTOR, AuthService } from '../../src/auth/service.js';
import { startTestApp } from '../support/app.js';
import { tcpGate, type TcpGate } from '../support/tcp-gate.js';
import { eventually } from '../support/wait.js';

const run = Date.now().toString(36);
let gate: TcpGate;
let app: App;
let admin = '';
let unseen = '';

const get = () => app.http.inject({ method: 'GET', url: '/api/v1/users', headers: { authorization: `Bearer ${admin}` } });
const post = (username: string) =>
  app.http.inject({ method: 'POST', url: '/api/v1/users', headers: { authorization: `Bearer ${admin}` }, payload: { username, role: 'viewer' } });

function expectUnavailable(res: LightMyRequestResponse): void {
  expect(res.statusCode, res.body).toBe(503);
  expect(res.headers['retry-after']).toBe('5');
  expect(res.json()).toEqual({
    error: { code: 'service-unavailable', message: 'the database is not reachable; try again shortly', requestId: expect.any(String) as string },
  });
}

beforeAll(async () => {
  const db = inject('db');
  gate = tcpGate({ host: db.host, port: db.port });
  await gate.open();
  app = await startTestApp({ PBX_DB_HOST: '127.0.0.1', PBX_DB_PORT: String(gate.port), PBX_METRICS_ACCESS: 'loopback' });
  admin = (await new AuthService(app.db).createToken(CLI_ACTOR, { username: `it-pgdown-admin-${run}`, name: 'it', ttlDays: 1, ensureRole: 'admin' })).token;
  // Never used before Postgres goes: not in the daemon's token cache (src/auth/token-cache.ts), so its check needs Postgres.
  unseen = (await new AuthService(app.db).createToken(CLI_ACTOR, { username: `it-pgdown-admin-${run}`, name: 'it-unseen', ttlDays: 1, ensureRole: 'admin' })).token;
});

afterAll(async () => {
  await gate?.open().catch(() => undefined);
  await app?.stop();
  await gate?.close();
});

describe('Postgres unreachable', () => {
  it('answers 503 service-unavailable with Retry-After while it is, and 200 again once it is back', async () => {
    expect((await get()).statusCode).toBe(200); // the pool holds an idle connection through the gate now

    // A query in flight when its connection is cut: it hangs on the frozen path, then the gate closes.
    gate.freeze();
    const inFlight = get();
    await eventually(async () => (gate.held > 0 ? true : undefined), 5_000, 'the token query waiting on the frozen path', 10);
    await gate.close();
    expectUnavailable(await inFlight);

    // Refused: the token check itself cannot run, for a read and a write alike.
    expectUnavailable(await get());
    expectUnavailable(await post(`it-pgdown-${run}-a`));
    // /me answers from the token alone: a token checked in the last 5 s is served from the cache; one never seen needs Postgres.
    expectUnavailable(await app.http.inject({ method: 'GET', url: '/api/v1/me', headers: { authorization: `Bearer ${unseen}` } }));
    const ready = await app.http.inject({ method: 'GET', url: '/health/ready' });
    expect(ready.statusCode).toBe(503);
    expect(ready.headers['retry-after']).toBe('5');
    expect(ready.json().checks.postgres.ok).toBe(false);
    expect((await app.http.inject({ method: 'GET', url: '/health/live' })).statusCode).toBe(200);
    // /metrics without a token (loopback access) leaves out the series read from Postgres, and answers.
    const metrics = await app.http.inject({ method: 'GET', url: '/metrics' });
    expect(metrics.statusCode).toBe(200);
    expect(metrics.body).toMatch(/^pbx_asterisk_connected\{interface="ari"\} 0$/m);

    // Listening but answering nothing: the pool gives up after its connect timeout.
    await gate.open();
    gate.freeze();
    expectUnavailable(await get());

    gate.thaw();
    const back = await eventually(async () => {
      const res = await get();
      return res.statusCode === 200 ? res : undefined;
    }, 10_000, 'GET 200 once Postgres is reachable again');
    expect(back.json().items.some((u: { username: string }) => u.username === `it-pgdown-admin-${run}`)).toBe(true);
    const created = await post(`it-pgdown-${run}-b`);
    expect(created.statusCode, created.body).toBe(201);
  });
});
