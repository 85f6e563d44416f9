/** Extensions and their SIP accounts (/extensions), mounted under /api/v1. */
import { featurePlugin } from '../http/plugin.js';
import { extensionRoutes, type ExtensionRouteDeps } from './routes.js';
import { Extension } from './schemas.js';

export const extensionsPlugin = featurePlugin<ExtensionRouteDeps>('pbx-extensions', async (app, deps) => {
  app.addSchema(Extension);
  await app.register(extensionRoutes(deps));
});
