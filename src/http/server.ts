/**
 * Fastify instance: schemas everywhere (additionalProperties:false rejects unknown fields
 * instead of silently dropping them), one error handler, OpenAPI at /docs, routes under /api/v1.
 */
import Fastify, { type FastifyInstance } from 'fastify';
import swagger from '@fastify/swagger';
import swaggerUi from '@fastify/swagger-ui';
import { randomUUID } from 'node:crypto';
import type { Logger } from '../logger.js';
import type { Db } from '../db/database.js';
import type { AuthService } from '../auth/service.js';
import type { ReadinessDeps } from '../health/checks.js';
import { installErrorHandlers } from './errors.js';
import { ErrorResponse } from './schemas.js';
import { healthRoutes, ReadinessSchema } from '../health/routes.js';
import { callRoutes } from '../calls/routes.js';
import { Cdr, LiveCall } from '../calls/schemas.js';
import { authRoutes } from '../auth/routes.js';
import { auditRoutes } from '../audit/routes.js';
import { extensionRoutes } from '../extensions/routes.js';
import { Extension } from '../extensions/schemas.js';
import type { ExtensionService } from '../extensions/service.js';
import type { RegistrationTracker } from '../extensions/registrations.js';
import { trunkRoutes } from '../trunks/routes.js';
import type { TrunkService } from '../trunks/service.js';
import type { RouteService } from '../trunks/route-service.js';
import { deviceRoutes } from '../provisioning/routes.js';
import { provisioningRoutes, type ProvisioningRouteDeps } from '../provisioning/phone-routes.js';
import { voicemailRoutes } from '../voicemail/routes.js';
import { VoicemailMessage } from '../voicemail/schemas.js';
import type { VoicemailService } from '../voicemail/service.js';

export interface HttpDeps {
  readonly db: Db;
  readonly auth: AuthService;
  readonly readiness: ReadinessDeps;
  readonly log: Logger;
  readonly version: string;
  readonly extensions: ExtensionService;
  readonly registrations: RegistrationTracker;
  readonly trunks: TrunkService;
  readonly routing: RouteService;
  readonly provisioning: Pick<ProvisioningRouteDeps, 'site' | 'sipPort'>;
  readonly voicemail: VoicemailService;
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
  app.decorateRequest('principal', null);
  installErrorHandlers(app);

  for (const schema of [ErrorResponse, ReadinessSchema, Cdr, LiveCall, Extension, VoicemailMessage]) app.addSchema(schema);

  await app.register(swagger, {
    openapi: {
      info: { title: 'pbx API', version: deps.version, description: 'PBX and contact-center control plane. Send `Authorization: Bearer <token>`; create one with `pbx token create --role admin`.' },
      components: { securitySchemes: { bearer: { type: 'http', scheme: 'bearer' } } },
    },
    refResolver: { buildLocalReference: (json, _baseUri, _fragment, i) => (typeof json.$id === 'string' ? json.$id : `def-${i}`) },
  });
  await app.register(swaggerUi, { routePrefix: '/docs' });

  await app.register(healthRoutes(deps.readiness));
  // Phone-facing (no bearer token: per-device credentials or IP allowlist).
  await app.register(provisioningRoutes({ db: deps.db, ...deps.provisioning }));
  await app.register(
    async (api) => {
      await api.register(authRoutes(deps));
      await api.register(callRoutes(deps));
      await api.register(auditRoutes(deps));
      await api.register(extensionRoutes(deps));
      await api.register(trunkRoutes(deps));
      await api.register(deviceRoutes(deps));
      await api.register(voicemailRoutes(deps));
    },
    { prefix: '/api/v1' },
  );
  return app;
}
