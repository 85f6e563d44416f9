/**
 * Idempotency keys for every change made through the API (issue #19). Registered in the /api/v1
 * scope before the features (src/app.ts), its hooks reach every POST, PUT, PATCH and DELETE route,
 * today's and any added later; a route opts out with `config: { idempotency: false }`.
 *
 * - preHandler (after the route's bearer check and the body's validation): a request with an
 *   `Idempotency-Key` claims the key for its token (a 'pending' row), or gets the key's first
 *   answer again (`Idempotent-Replayed: true`), or 422 if the key was first used with another
 *   request. While another request holds the key it waits (up to `waitMs`), then replays or gets
 *   409 `idempotency-in-progress` with Retry-After.
 * - onSend: the request holding the key stores its answer (status, headers, sealed body); a 5xx
 *   releases the key instead, so a retry runs again.
 * Answers to requests refused before the handler (401/403, 400 schema validation) are not stored.
 */
import { Type } from '@sinclair/typebox';
import type { FastifyInstance, FastifyReply, FastifyRequest, RouteOptions } from 'fastify';
import { randomUUID } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import type { Db } from '../db/database.js';
import { AppError } from '../errors.js';
import { scopePlugin } from '../http/plugin.js';
import { bearerFrom } from '../auth/tokens.js';
import { KEY_HEADER, KEYED_METHODS, MAX_KEY_LENGTH, REPLAYED_HEADER, bodyHash, mismatch, replayableHeaders, seal, unseal, validKey, type Fingerprint } from './core.js';
import { claimKey, findKey, releaseKey, storeAnswer, type Scope } from './repository.js';
import type { IdempotencyKeyRow } from './tables.js';

declare module 'fastify' {
  interface FastifyContextConfig {
    /** false: the route ignores Idempotency-Key (src/idempotency/plugin.ts). */
    idempotency?: false;
  }
}

export interface IdempotencyOptions {
  readonly db: Db;
  /** How long a request waits for another one holding its key (10 s). */
  readonly waitMs?: number;
}

const WAIT_MS = 10_000;
const FIRST_POLL_MS = 25;
const MAX_POLL_MS = 500;

/** The key a request holds while its handler runs. */
interface Held {
  readonly scope: Scope;
  readonly claim: string;
  readonly bearer: string;
}

const keyedRoute = (route: Pick<RouteOptions, 'method' | 'config'>): boolean =>
  [route.method].flat().some((m) => KEYED_METHODS.has(m)) && route.config?.idempotency !== false;

export const idempotencyPlugin = scopePlugin<IdempotencyOptions>('pbx-idempotency', async (app: FastifyInstance, opts) => {
  const { db } = opts;
  const waitMs = opts.waitMs ?? WAIT_MS;
  const held = new WeakMap<FastifyRequest, Held>();

  // Each keyed route's OpenAPI entry names the header (a plain string there: the preHandler checks
  // it, with its own error code) and the answers it may bring (409, 422).
  app.addHook('onRoute', (route) => {
    if (!keyedRoute(route) || !route.schema) return;
    const headers = (route.schema.headers ?? { type: 'object' }) as { properties?: Record<string, unknown> };
    route.schema.headers = {
      ...headers,
      properties: { ...headers.properties, [KEY_HEADER]: { type: 'string', description: `1-${MAX_KEY_LENGTH} printable ASCII characters; the same key within 24 h replays the first answer (docs/api.md)` } },
    };
    if (route.schema.response) {
      route.schema.response = { 409: Type.Ref('ErrorResponse'), 422: Type.Ref('ErrorResponse'), ...(route.schema.response as Record<string, unknown>) };
    }
  });

  app.addHook('preHandler', async (request, reply) => {
    if (!KEYED_METHODS.has(request.method) || request.routeOptions.config.idempotency === false) return;
    const given = request.headers[KEY_HEADER];
    if (given === undefined) return;
    const key = [given].flat().join(', ');
    if (!validKey(key)) {
      throw new AppError('idempotency-key-invalid', 400, `Idempotency-Key: must be 1-${MAX_KEY_LENGTH} printable ASCII characters`, { field: 'headers.idempotency-key' });
    }
    const bearer = bearerFrom(request.headers.authorization);
    // Keys are per token; a route without one (none under /api/v1) has nothing to scope them by.
    if (!request.principal || !bearer) return;
    const scope: Scope = { tokenId: request.principal.tokenId, key };
    const fp: Fingerprint = { method: request.method, path: request.url, bodyHash: bodyHash(request.body) };
    const deadline = Date.now() + waitMs;
    for (let poll = FIRST_POLL_MS; ; poll = Math.min(poll * 2, MAX_POLL_MS)) {
      const claim = randomUUID();
      if (await claimKey(db, scope, fp, claim)) {
        held.set(request, { scope, claim, bearer });
        return;
      }
      const first = await findKey(db, scope);
      if (first) {
        const differs = mismatch({ method: first.method, path: first.path, bodyHash: first.body_hash }, fp);
        if (differs) {
          throw new AppError('idempotency-key-reused', 422, `Idempotency-Key was first used with another ${differs}: ${first.method} ${first.path}; use a new key for a new request`, {
            differs, method: first.method, path: first.path,
          });
        }
        if (first.state === 'done') return replay(reply, first, bearer);
      }
      // Pending (or released a moment ago by a failed first request: the next claim takes it).
      if (Date.now() + poll > deadline) {
        reply.header('retry-after', '1');
        throw new AppError('idempotency-in-progress', 409, 'a request with this Idempotency-Key is still running; retry shortly for its answer', { retryAfterSeconds: 1 });
      }
      await sleep(poll);
    }
  });

  app.addHook('onSend', async (request, reply, payload) => {
    const mine = held.get(request);
    if (!mine) return payload;
    held.delete(request);
    const body = payload === null || payload === undefined ? null : typeof payload === 'string' ? Buffer.from(payload) : Buffer.isBuffer(payload) ? payload : undefined;
    try {
      if (reply.statusCode >= 500 || body === undefined) {
        // A failed request had (or is taken to have had) no effect: the key is free for a retry.
        // A streamed answer cannot be kept: released too, and said in the log.
        if (body === undefined) request.log.warn({ idempotencyKey: mine.scope.key }, 'streamed answer not kept for Idempotency-Key; key released');
        await releaseKey(db, mine.scope, mine.claim);
      } else {
        const headers = replayableHeaders(reply.getHeaders());
        await storeAnswer(db, mine.scope, mine.claim, { status: reply.statusCode, headers, body: body && seal(body, mine.bearer, mine.scope.key) });
      }
    } catch (err) {
      request.log.error({ err, idempotencyKey: mine.scope.key }, 'answer for Idempotency-Key not stored; the key stays pending until its lease ends');
    }
    return payload;
  });
});

function replay(reply: FastifyReply, first: IdempotencyKeyRow, bearer: string): FastifyReply {
  reply.status(first.response_status ?? 200);
  for (const [name, value] of Object.entries(first.response_headers ?? {})) reply.header(name, value);
  reply.header(REPLAYED_HEADER, 'true');
  return reply.send(first.response_body ? unseal(first.response_body, bearer, first.key) : undefined);
}
