/**
 * GET /metrics (at the root, where Prometheus looks by default) in the Prometheus text format.
 * Access (PBX_METRICS_ACCESS, docs/metrics.md#access): `token` (default) a bearer token of any
 * role, viewer upwards, as every API route; `loopback` no token, only from this host (a local
 * Prometheus or an agent that forwards), anyone else 403.
 */
import { Type } from '@sinclair/typebox';
import type { FastifyInstance, onRequestAsyncHookHandler } from 'fastify';
import type { AuthService } from '../auth/service.js';
import { AppError } from '../errors.js';
import { requireRole } from '../http/auth.js';
import { withErrors } from '../http/schemas.js';
import { normalizeClientIp } from '../shared/client-ip.js';
import type { PbxMetrics } from './metrics.js';

export type MetricsAccess = 'token' | 'loopback';

export interface MetricsRouteDeps {
  readonly auth: AuthService;
  readonly metrics: PbxMetrics;
  readonly access: MetricsAccess;
}

export function isLoopback(address: string): boolean {
  const ip = normalizeClientIp(address);
  return ip === '::1' || /^127\.\d{1,3}\.\d{1,3}\.\d{1,3}$/.test(ip);
}

const fromLoopback: onRequestAsyncHookHandler = async (request) => {
  if (!isLoopback(request.socket.remoteAddress ?? '')) throw new AppError('forbidden', 403, '/metrics answers only on loopback here (PBX_METRICS_ACCESS=loopback)');
};

export function metricsRoutes(deps: MetricsRouteDeps) {
  const token = deps.access === 'token';
  return async (app: FastifyInstance): Promise<void> => {
    app.get(
      '/metrics',
      {
        onRequest: token ? requireRole(deps.auth, 'viewer') : fromLoopback,
        schema: {
          tags: ['metrics'],
          summary: 'Prometheus metrics (text exposition format 0.0.4); docs/metrics.md lists them',
          produces: ['text/plain'],
          ...(token ? { security: [{ bearer: [] }] } : {}),
          response: withErrors({ 200: Type.String({ description: 'the Prometheus text format' }) }),
        },
      },
      async (_request, reply) => {
        const { contentType, body } = await deps.metrics.scrape();
        return reply.type(contentType).send(body);
      },
    );
  };
}
