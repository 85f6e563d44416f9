/** Webhooks (/webhooks), mounted under /api/v1. */
import { featurePlugin } from '../http/plugin.js';
import { webhookRoutes, type WebhookRouteDeps } from './routes.js';
import { Webhook, WebhookDelivery } from './schemas.js';

export const webhooksPlugin = featurePlugin<WebhookRouteDeps>('pbx-webhooks', async (app, deps) => {
  app.addSchema(Webhook);
  app.addSchema(WebhookDelivery);
  await app.register(webhookRoutes(deps));
});
