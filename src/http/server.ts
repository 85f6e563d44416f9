/**
 * The Fastify instance and what every route shares: schemas everywhere (additionalProperties:false
 * rejects unknown fields instead of silently dropping them), one error handler, the request's
 * principal, bearer auth before the body is read, OpenAPI at /docs. With TLS it serves HTTPS, and
 * may also answer plain HTTP on a second port, for the few paths allowed there (plainListener). The features register themselves (each folder's plugin.ts);
 * src/app.ts mounts them, the API under /api/v1.
 */
import Fastify, { type FastifyInstance } from 'fastify';
import swagger from '@fastify/swagger';
import swaggerUi from '@fastify/swagger-ui';
import { AjvCompiler, type ValidatorFactory } from '@fastify/ajv-compiler';
import { randomUUID } from 'node:crypto';
import { createServer, type Server } from 'node:http';
import { AppError } from '../errors.js';
import type { HttpLogMode } from '../config.js';
import type { Logger } from '../logger.js';
import type { AuthFailureLimit } from './auth-failures.js';
import { httpBasics } from './plugin.js';
import { RequestLog, requestLineLogger } from './request-log.js';

export interface HttpDeps {
  readonly log: Logger;
  /** Which requests get a line in the request log (PBX_HTTP_LOG; default all). */
  readonly requestLog?: HttpLogMode;
  readonly version: string;
  /** Failed authentications allowed per source and window (PBX_AUTH_FAIL_LIMIT, PBX_AUTH_FAIL_WINDOW_SECONDS). */
  readonly authFailures: AuthFailureLimit;
  /** PEM certificate and key: the instance serves HTTPS. Absent: plain HTTP. */
  readonly tls?: { readonly cert: string | Buffer; readonly key: string | Buffer };
  /**
   * With TLS: the path prefixes a plain-HTTP request may reach (plainListener); any other answers
   * 403 before authentication, so no token or body travels over it to be processed.
   */
  readonly plainPaths?: readonly string[];
}

const REQUEST_TIMEOUT_MS = 30_000;

const AJV_OPTIONS = { removeAdditional: false, useDefaults: true, allErrors: true } as const;

/**
 * One ajv per kind of input. Bodies are JSON with real types: scalars are still coerced ("5" -> 5)
 * but an array is never taken for a scalar (`"number": ["3003"]` is refused, naming the field) nor
 * a scalar wrapped into an array. Querystrings, params and headers arrive as strings, so there
 * `coerceTypes: 'array'` lets a query parameter declared as an array take `?state=a` or
 * `?state=a&state=b` alike.
 */
export function validatorsByPart(): ValidatorFactory {
  const pool = AjvCompiler();
  return (externalSchemas) => {
    const forBody = pool(externalSchemas, { customOptions: { ...AJV_OPTIONS, coerceTypes: true } });
    const forStrings = pool(externalSchemas, { customOptions: { ...AJV_OPTIONS, coerceTypes: 'array' } });
    return (route) => (route.httpPart === 'body' ? forBody(route) : forStrings(route));
  };
}

export async function buildHttp(deps: HttpDeps): Promise<FastifyInstance> {
  const app = Fastify({
    loggerInstance: deps.log.child({ component: 'http' }),
    logController: new RequestLog(requestLineLogger(deps.log), deps.requestLog ?? 'all'),
    genReqId: (req) => {
      const given = req.headers['x-request-id'];
      return typeof given === 'string' && /^[A-Za-z0-9._-]{1,64}$/.test(given) ? given : randomUUID();
    },
    bodyLimit: 1_048_576,
    requestTimeout: REQUEST_TIMEOUT_MS,
    schemaController: { compilersFactory: { buildValidator: validatorsByPart() } },
    ...(deps.tls ? { https: { cert: deps.tls.cert, key: deps.tls.key } } : {}),
  }) as unknown as FastifyInstance;
  await app.register(httpBasics, { authFailures: deps.authFailures });
  if (deps.tls) {
    const allowed = deps.plainPaths ?? [];
    app.addHook('onRequest', async (request) => {
      // The matched route's pattern, not the raw URL (no dot segments or encodings to get past).
      const route = request.routeOptions.url ?? '';
      if (request.protocol === 'https' || allowed.some((prefix) => route.startsWith(prefix))) return;
      throw new AppError('forbidden', 403, 'this port is plain HTTP; use HTTPS (PBX_HTTP_PORT)');
    });
  }

  await app.register(swagger, {
    openapi: {
      info: { title: 'pbx API', version: deps.version, description: 'PBX and contact-center control plane. Send `Authorization: Bearer <token>`; create one with `pbx token create --role admin`.' },
      components: { securitySchemes: { bearer: { type: 'http', scheme: 'bearer' } } },
    },
    refResolver: { buildLocalReference: (json, _baseUri, _fragment, i) => (typeof json.$id === 'string' ? json.$id : `def-${i}`) },
  });
  await app.register(swaggerUi, { routePrefix: '/docs' });
  return app;
}

/**
 * A plain-HTTP listener beside an HTTPS instance: the same routes and hooks (fastify.routing), on
 * its own port; request.protocol is 'http' there. Closed with the instance.
 */
export function plainListener(app: FastifyInstance): { listen(host: string, port: number): Promise<Server>; readonly server: Server } {
  const server = createServer({ requestTimeout: REQUEST_TIMEOUT_MS }, (req, res) => app.routing(req, res));
  app.addHook('onClose', async () => {
    if (!server.listening) return;
    server.closeIdleConnections();
    await new Promise<void>((resolve) => server.close(() => resolve()));
  });
  return {
    server,
    listen: (host, port) =>
      new Promise<Server>((resolve, reject) => {
        server.once('error', reject);
        server.listen({ host, port }, () => {
          server.off('error', reject);
          resolve(server);
        });
      }),
  };
}
