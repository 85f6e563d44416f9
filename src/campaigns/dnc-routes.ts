import type { FastifyInstance } from 'fastify';
import type { CampaignRouteDeps } from './route-deps.js';

// Being written (issue #18): no routes yet.
export function dncRoutes(_deps: CampaignRouteDeps) {
  return async (_app: FastifyInstance): Promise<void> => undefined;
}
