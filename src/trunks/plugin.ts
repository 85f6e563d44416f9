/** Trunks, outbound and inbound routes, emergency numbers (/trunks, /outbound-routes, /inbound-routes, /emergency-numbers), mounted under /api/v1. */
import { featurePlugin } from '../http/plugin.js';
import { trunkRoutes, type TrunkRouteDeps } from './routes.js';

export const trunksPlugin = featurePlugin<TrunkRouteDeps>('pbx-trunks', async (app, deps) => {
  await app.register(trunkRoutes(deps));
});
