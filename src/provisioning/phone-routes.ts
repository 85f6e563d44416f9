/**
 * The phone-facing endpoint, at the root (not /api/v1, no bearer token): GET /provision/<file>.
 *   Yealink      /provision/{mac}.cfg
 *   Polycom      /provision/000000000000.cfg (public master), /provision/{mac}.cfg, /provision/{mac}-phone.cfg
 *   Grandstream  /provision/cfg{mac}.xml
 * Access: the device's IP allowlist or its own HTTP Basic credentials; otherwise 401 with a Basic
 * challenge. An unknown MAC gets the same 401 as a known device refused (status, body, headers,
 * and a hash compared), so the endpoint does not tell which MACs exist. Every request is logged
 * (mac, ip, vendor, result); failed authentications (an unknown MAC with credentials included) also
 * as the stable auth-failure line fail2ban reads (src/shared/auth-failure-log.ts).
 * The files carry SIP passwords: when the site serves HTTPS, a request over plain HTTP is refused
 * (403, before any lookup) unless PBX_PROVISION_PLAIN_HTTP allows it (plainHttpAllowed).
 */
import { Type, type Static } from '@sinclair/typebox';
import type { FastifyInstance } from 'fastify';
import type { Db } from '../db/database.js';
import { AppError } from '../errors.js';
import { withErrors } from '../http/schemas.js';
import { parseBasicAuth } from './access.js';
import { normalizeClientIp } from '../shared/client-ip.js';
import { ProvisioningService, type ProvisioningSettings } from './provision.js';
import { logAuthFailure } from '../shared/auth-failure-log.js';

const Params = Type.Object({ file: Type.String({ maxLength: 64, description: 'file name the phone asks for' }) }, { additionalProperties: false });

export const PROVISIONING_REALM = 'pbx provisioning';

export interface ProvisioningRouteDeps extends ProvisioningSettings {
  readonly db: Db;
  /** Serve over plain HTTP too (false: HTTPS only; true without TLS, where plain is all there is). */
  readonly plainHttpAllowed: boolean;
  readonly now?: () => Date;
}

export function provisioningRoutes(deps: ProvisioningRouteDeps) {
  const service = new ProvisioningService(deps.db, { site: deps.site, sipPort: deps.sipPort, sipTlsPort: deps.sipTlsPort, secrets: deps.secrets }, deps.now);
  return async (app: FastifyInstance): Promise<void> => {
    app.get<{ Params: Static<typeof Params> }>(
      '/provision/:file',
      {
        schema: {
          tags: ['provisioning'],
          summary: 'Configuration file for a desk phone (HTTP Basic with the device credentials, or an allowed IP)',
          params: Params,
          response: withErrors({ 200: Type.String({ description: 'the vendor file (text/plain or XML)' }) }),
        },
      },
      async (request, reply) => {
        const ip = normalizeClientIp(request.ip);
        const file = request.params.file;
        if (request.protocol !== 'https' && !deps.plainHttpAllowed) {
          request.log.warn({ event: 'provisioning', ip, file: file.slice(0, 64), status: 403 }, 'provisioning over plain HTTP refused (HTTPS only; PBX_PROVISION_PLAIN_HTTP=yes allows it)');
          throw new AppError('forbidden', 403, 'provisioning files are served over HTTPS only');
        }
        const outcome = await service.fetch(file, ip, parseBasicAuth(request.headers.authorization));
        const fields = { event: 'provisioning', mac: outcome.mac, ip, file: file.slice(0, 64), result: outcome.result, status: outcome.status };

        switch (outcome.status) {
          case 200:
            request.log.info({ ...fields, vendor: outcome.vendor, via: outcome.via }, 'provisioning file served');
            return reply
              .header('content-type', outcome.file.contentType)
              .header('cache-control', 'no-store')
              .header('x-content-type-options', 'nosniff')
              .send(outcome.file.body);
          case 401:
            if (outcome.failure) logAuthFailure(request.log, ip, 'provisioning', outcome.reason, { mac: outcome.mac });
            // An unknown MAC is a warning for the admin (a phone not registered yet?); from outside it
            // looks exactly like a known device refused.
            if (outcome.reason === 'unknown-device') request.log.warn({ ...fields, reason: outcome.reason }, 'provisioning request for an unknown device');
            else request.log.info({ ...fields, reason: outcome.reason }, outcome.failure ? 'provisioning refused' : 'provisioning challenge');
            reply.header('www-authenticate', `Basic realm="${PROVISIONING_REALM}", charset="UTF-8"`);
            throw new AppError('unauthorized', 401, 'send the device provisioning credentials (HTTP Basic) or fetch from an allowed network');
          case 404:
            request.log.info({ ...fields, vendor: outcome.vendor }, 'provisioning file not found');
            throw new AppError('not-found', 404, 'no such provisioning file');
          case 503:
            request.log.error({ ...fields, vendor: outcome.vendor }, 'device extension has no SIP account (ps_auths row); nothing to provision');
            throw new AppError('service-unavailable', 503, 'the device extension has no SIP account');
        }
      },
    );
  };
}
