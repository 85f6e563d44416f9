/** The event stream (/events), mounted under /api/v1. Open streams are ended before the server closes. */
import { featurePlugin } from '../http/plugin.js';
import { eventRoutes, type EventRouteDeps } from './routes.js';
import { EventTicket } from './schemas.js';

export const eventsPlugin = featurePlugin<EventRouteDeps>('pbx-events', async (app, deps) => {
  app.addSchema(EventTicket);
  // Streams never end by themselves: without this the server's close would wait for them.
  app.addHook('preClose', async () => deps.events.stop());
  await app.register(eventRoutes(deps));
});
