import { Type } from '@sinclair/typebox';
import type { FastifyInstance } from 'fastify';
import { RETRY_AFTER_SECONDS } from '../http/errors.js';
import { checkReadiness, type ReadinessDeps } from './checks.js';

const Check = Type.Object(
  { ok: Type.Boolean(), latencyMs: Type.Optional(Type.Number()), error: Type.Optional(Type.String()) },
  { additionalProperties: true },
);

export function healthRoutes(deps: ReadinessDeps) {
  return async (app: FastifyInstance): Promise<void> => {
    app.get(
      '/health/live',
      {
        schema: {
          tags: ['health'],
          summary: 'The process is up (no dependency checks)',
          response: { 200: Type.Object({ status: Type.Literal('ok') }) },
        },
      },
      async () => ({ status: 'ok' as const }),
    );

    app.get(
      '/health/ready',
      {
        schema: {
          tags: ['health'],
          summary: 'Asterisk (ARI+AMI), Postgres and Redis each reachable; 503 (Retry-After: 5) while any is down',
          response: {
            200: Type.Ref('Readiness'),
            503: Type.Ref('Readiness'),
          },
        },
      },
      async (_request, reply) => {
        const report = await checkReadiness(deps);
        if (!report.ready) reply.header('retry-after', String(RETRY_AFTER_SECONDS));
        return reply.status(report.ready ? 200 : 503).send({
          status: report.ready ? 'ready' : 'not-ready',
          checks: report.checks,
        });
      },
    );
  };
}

export const ReadinessSchema = Type.Object(
  {
    status: Type.Union([Type.Literal('ready'), Type.Literal('not-ready')]),
    checks: Type.Object({
      asterisk: Check,
      postgres: Check,
      redis: Check,
      recordings: Type.Optional(Type.Object(
        { ok: Type.Boolean(), freeBytes: Type.Union([Type.Number(), Type.Null()]), minFreeBytes: Type.Number(), error: Type.Optional(Type.String()) },
        { description: 'free space on the recordings disk (PBX_RECORDINGS_MIN_FREE_MB); not ok: new recordings are not started, calls go on. Not part of status', additionalProperties: true },
      )),
    }),
  },
  { $id: 'Readiness' },
);
