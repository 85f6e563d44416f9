/** Live supervision (/supervision), mounted under /api/v1. */
import { featurePlugin } from '../http/plugin.js';
import { supervisionRoutes, type SupervisionRouteDeps } from './routes.js';
import { Supervision } from './schemas.js';

export const supervisionPlugin = featurePlugin<SupervisionRouteDeps>('pbx-supervision', async (app, deps) => {
  app.addSchema(Supervision);
  await app.register(supervisionRoutes(deps));
});
