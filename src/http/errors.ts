import type { FastifyError, FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { isAppError, type ErrorCode } from '../errors.js';
import { isPgUnreachable } from '../shared/pg-errors.js';

export interface ErrorBody {
  error: { code: ErrorCode; message: string; details?: Record<string, unknown>; requestId: string };
}

/** Retry-After (seconds) of a 503 while a dependency is down, as /health/ready's (src/health/routes.ts). */
export const RETRY_AFTER_SECONDS = 5;

/** One error handler: stable codes, the field named for bad input, no 5xx internals leaked. */
export function installErrorHandlers(app: FastifyInstance): void {
  app.setErrorHandler((err: FastifyError, request, reply) => {
    const requestId = String(request.id);
    // A body already under way (a CSV download) cannot turn into an error answer: cut it, so the
    // client sees a broken download, never a JSON body inside the file or a short file that looks whole.
    if (reply.raw.headersSent) {
      request.log.warn({ err: err.message, code: (err as { code?: unknown }).code }, 'request failed after its answer began; cut');
      reply.raw.destroy();
      return reply;
    }
    // A CSV answer whose body failed before its first byte (sendCsv set its headers): the error is JSON.
    if (/^text\/csv/.test(String(reply.getHeader('content-type') ?? ''))) {
      reply.removeHeader('content-type').removeHeader('content-disposition');
    }
    const send = (status: number, code: ErrorCode, message: string, details?: Record<string, unknown>) =>
      reply.status(status).send({ error: { code, message, ...(details ? { details } : {}), requestId } } satisfies ErrorBody);

    if (isAppError(err)) {
      if (err.status >= 500) request.log.warn({ code: err.code, err: err.message }, 'request failed');
      return send(err.status, err.code, err.message, err.details);
    }
    if (err.validation) {
      const where = err.validationContext ?? 'request';
      const problems = err.validation.map((v) => {
        const missing = (v.params as { missingProperty?: string }).missingProperty;
        const extra = (v.params as { additionalProperty?: string }).additionalProperty;
        const path = v.instancePath.replace(/^\//, '').replace(/\//g, '.');
        const field = [path, missing ?? extra].filter(Boolean).join('.') || null;
        const message = extra ? `unknown field "${extra}"` : missing ? `"${missing}" is required` : v.message ?? 'is invalid';
        return { field: field ? `${where}.${field}` : where, message };
      });
      const first = problems[0]!;
      return send(400, 'validation-failed', `${first.field}: ${first.message}`, { problems });
    }
    const status = err.statusCode ?? 500;
    if (status === 413) return send(413, 'payload-too-large', 'request body is too large');
    if (status === 415) return send(415, 'unsupported-media-type', err.message);
    if (status === 429) return send(429, 'rate-limited', err.message);
    if (status >= 400 && status < 500) return send(status, 'validation-failed', err.message);
    if (isPgUnreachable(err)) {
      // Not our bug but an outage: 503 says "try again", to clients and load balancers alike.
      request.log.warn({ err: err.message, code: (err as { code?: unknown }).code }, 'request failed: Postgres unreachable');
      reply.header('retry-after', String(RETRY_AFTER_SECONDS));
      return send(503, 'service-unavailable', 'the database is not reachable; try again shortly');
    }
    request.log.error({ err }, 'unhandled error');
    return send(500, 'internal-error', 'internal error; see the daemon log for this request id');
  });

  const routeNotFound = (request: FastifyRequest, reply: FastifyReply): FastifyReply =>
    reply.status(404).send({
      error: {
        code: 'route-not-found',
        message: `no route ${request.method} ${request.url.split('?')[0]}; see /docs`,
        requestId: String(request.id),
      },
    } satisfies ErrorBody);
  app.setNotFoundHandler(routeNotFound);
  // Answered before the body is read: a body sent to no route is never parsed.
  app.addHook('onRequest', async (request, reply) => (request.is404 ? routeNotFound(request, reply) : undefined));
}
