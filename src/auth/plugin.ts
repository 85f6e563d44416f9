/** Users and API tokens (/me, /users, /tokens), mounted under /api/v1. */
import { featurePlugin } from '../http/plugin.js';
import { authRoutes, type AuthRouteDeps } from './routes.js';

export const authPlugin = featurePlugin<AuthRouteDeps>('pbx-auth', async (app, deps) => {
  await app.register(authRoutes(deps));
});
