/**
 * Failed authentications per source: after `limit` 401s from one address within the window, further
 * failures from it get 429 `rate-limited` with Retry-After instead of 401, until the window ends.
 * Only failures count: an authenticated request is never counted nor refused, so a busy wallboard
 * is not limited by someone else's guessing from behind the same address (or by its own earlier
 * mistakes once its token is right). Each failure is still logged for fail2ban by the caller.
 *
 * The counting is @fastify/rate-limit's (its in-memory store, keyed by `request.ip`, IPv6 by /64):
 * `global: false` adds no hook to any route; `createRateLimit()` gives a counter we call only on
 * failure.
 */
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import rateLimit from '@fastify/rate-limit';
import { AppError } from '../errors.js';

export interface AuthFailureLimit {
  /** Failures allowed per source within the window; the next ones get 429. */
  readonly limit: number;
  readonly windowSeconds: number;
}

declare module 'fastify' {
  interface FastifyInstance {
    /**
     * Counts one failed authentication against the request's source and returns the error to
     * send: `failure` itself, or a 429 `rate-limited` (Retry-After set on `reply`) once the source
     * is over the limit.
     */
    authFailed(request: FastifyRequest, reply: FastifyReply, failure: AppError): Promise<AppError>;
  }
}

/** Call inside a non-encapsulated plugin (src/http/plugin.ts) so every route sees the decorator. */
export async function installAuthFailureLimit(app: FastifyInstance, limit: AuthFailureLimit): Promise<void> {
  await app.register(rateLimit, { global: false, max: limit.limit, timeWindow: limit.windowSeconds * 1000 });
  const countFailure = app.createRateLimit();
  app.decorate('authFailed', async (request: FastifyRequest, reply: FastifyReply, failure: AppError): Promise<AppError> => {
    const counted = await countFailure(request);
    if (counted.isAllowed || !counted.isExceeded) return failure;
    const seconds = Math.max(1, counted.ttlInSeconds);
    reply.header('retry-after', String(seconds));
    return new AppError('rate-limited', 429, `too many failed authentications from this address; retry in ${seconds} s`, {
      retryAfterSeconds: seconds,
      limit: limit.limit,
      windowSeconds: limit.windowSeconds,
    });
  });
}
