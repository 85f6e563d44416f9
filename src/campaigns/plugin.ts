/**
 * Outbound campaigns (/campaigns, /dnc), mounted under /api/v1 (docs/campaigns.md): the
 * campaigns themselves and their lifecycle (routes.ts), contact lists and their imports
 * (list-routes.ts), do-not-call lists (dnc-routes.ts), preview offers to agents (preview-routes.ts).
 */
import { featurePlugin } from '../http/plugin.js';
import { campaignRoutes } from './routes.js';
import { listRoutes } from './list-routes.js';
import { dncRoutes } from './dnc-routes.js';
import { previewRoutes } from './preview-routes.js';
import type { CampaignRouteDeps } from './route-deps.js';

export const campaignsPlugin = featurePlugin<CampaignRouteDeps>('pbx-campaigns', async (app, deps) => {
  await app.register(campaignRoutes(deps));
  await app.register(listRoutes(deps));
  await app.register(dncRoutes(deps));
  await app.register(previewRoutes(deps));
});
