/**
 * The Fastify instance and what every route shares: schemas everywhere (additionalProperties:false
 * rejects unknown fields instead of silently dropping them), one error handler, the request's
 * principal, bearer auth before the body is read, OpenAPI at /docs. The features register themselves (each folder's plugin.ts);
 * src/app.ts mounts them, the API under /api/v1.
 */
import Fastify, { type FastifyInstance } from 'fastify';
import swagger from '@fastify/swagger';
import swaggerUi from '@fastify/swagger-ui';
import { AjvCompiler, type ValidatorFactory } from '@fastify/ajv-compiler';
import { randomUUID } from 'node:crypto';
import type { Logger } from '../logger.js';
import type { AuthFailureLimit } from './auth-failures.js';
import { httpBasics } from './plugin.js';

export interface HttpDeps {
  readonly log: Logger;
  readonly version: string;
  /** Failed authentications allowed per source and window (PBX_AUTH_FAIL_LIMIT, PBX_AUTH_FAIL_WINDOW_SECONDS). */
  readonly authFailures: AuthFailureLimit;
}

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
    genReqId: (req) => {
      const given = req.headers['x-request-id'];
      return typeof given === 'string' && /^[A-Za-z0-9._-]{1,64}$/.test(given) ? given : randomUUID();
    },
    bodyLimit: 1_048_576,
    requestTimeout: 30_000,
    schemaController: { compilersFactory: { buildValidator: validatorsByPart() } },
  }) as unknown as FastifyInstance;
  await app.register(httpBasics, { authFailures: deps.authFailures });

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
