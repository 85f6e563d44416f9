/** Liveness and readiness (/health/live, /health/ready), at the root. */
import { featurePlugin } from '../http/plugin.js';
import type { ReadinessDeps } from './checks.js';
import { healthRoutes, ReadinessSchema } from './routes.js';

export const healthPlugin = featurePlugin<ReadinessDeps>('pbx-health', async (app, deps) => {
  app.addSchema(ReadinessSchema);
  await app.register(healthRoutes(deps));
});
