/**
 * /staffing (docs/staffing.md): the Erlang C / Erlang A calculator and the per-interval forecast.
 * Viewers may call both: they change nothing and read only counts (the forecast reads the queues'
 * history, which viewers see in the live views and reports already).
 */
import { Type } from '@sinclair/typebox';
import type { FastifyInstance } from 'fastify';
import type { AuthService } from '../auth/service.js';
import { requireRole } from '../http/auth.js';
import { withErrors } from '../http/schemas.js';
import { ErlangRequest, ForecastRequest, type ErlangRequestBody, type ForecastRequestBody } from './schemas.js';
import type { StaffingService } from './service.js';

export interface StaffingRouteDeps {
  auth: AuthService;
  staffing: StaffingService;
}

export function staffingRoutes(deps: StaffingRouteDeps) {
  const viewer = requireRole(deps.auth, 'viewer');
  const security = [{ bearer: [] }];
  const { staffing } = deps;
  return async (app: FastifyInstance): Promise<void> => {
    app.post<{ Body: ErlangRequestBody }>(
      '/staffing/erlang',
      {
        onRequest: viewer,
        schema: {
          tags: ['staffing'],
          summary: 'Agents needed for a load and targets (Erlang C; Erlang A with patienceSeconds), or how a given number of agents performs',
          security, body: ErlangRequest, response: withErrors({ 200: Type.Ref('StaffingErlang') }),
        },
      },
      async (request) => staffing.erlang(request.body),
    );
    app.post<{ Body: ForecastRequestBody }>(
      '/staffing/forecast',
      {
        onRequest: viewer,
        schema: {
          tags: ['staffing'],
          summary: "A day's calls, AHT and agents per interval, forecast from the same weekday of past weeks",
          security, body: ForecastRequest, response: withErrors({ 200: Type.Ref('StaffingForecast') }),
        },
      },
      async (request) => staffing.forecast(request.body),
    );
  };
}
