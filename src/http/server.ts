/**
 * The Fastify instance and what every route shares: schemas everywhere (additionalProperties:false
 * rejects unknown fields instead of silently dropping them), one error handler, the request's
 * principal, OpenAPI at /docs. The features register themselves (each folder's plugin.ts);
 * src/app.ts mounts them, the API under /api/v1.
 */
import Fastify, { type FastifyInstance } from 'fastify';
import swagger from '@fastify/swagger';
import swaggerUi from '@fastify/swagger-ui';
import { randomUUID } from 'node:crypto';
import type { Logger } from '../logger.js';
import { httpBasics } from './plugin.js';

export interface HttpDeps {
  readonly log: Logger;
  readonly version: string;
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
    ajv: { customOptions: { removeAdditional: false, coerceTypes: 'array', useDefaults: true, allErrors: true } },
  }) as unknown as FastifyInstance;
  await app.register(httpBasics);

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
