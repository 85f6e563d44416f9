/** The ACD: agents, queues and members, pause reasons, live views (/agents, /queues, /pause-reasons), mounted under /api/v1. */
import { featurePlugin } from '../http/plugin.js';
import { acdRoutes, type AcdRouteDeps } from './routes.js';

export const acdPlugin = featurePlugin<AcdRouteDeps>('pbx-acd', async (app, deps) => {
  await app.register(acdRoutes(deps));
});
