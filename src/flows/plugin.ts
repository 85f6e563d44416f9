/** IVR flows: drafts, published versions, rollback (/flows), mounted under /api/v1. */
import { featurePlugin } from '../http/plugin.js';
import { flowRoutes, type FlowRouteDeps } from './routes.js';

export const flowsPlugin = featurePlugin<FlowRouteDeps>('pbx-flows', async (app, deps) => {
  await app.register(flowRoutes(deps));
});
