/** Live calls and CDRs (/calls/live, /cdrs), mounted under /api/v1. */
import { featurePlugin } from '../http/plugin.js';
import { callRoutes, type CallRouteDeps } from './routes.js';
import { Cdr, LiveCall } from './schemas.js';

export const callsPlugin = featurePlugin<CallRouteDeps>('pbx-calls', async (app, deps) => {
  app.addSchema(Cdr);
  app.addSchema(LiveCall);
  await app.register(callRoutes(deps));
});
