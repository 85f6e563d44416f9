/** Mailboxes and messages (/extensions/:number/voicemail), mounted under /api/v1. */
import { featurePlugin } from '../http/plugin.js';
import { voicemailRoutes, type VoicemailRouteDeps } from './routes.js';
import { VoicemailMessage } from './schemas.js';

export const voicemailPlugin = featurePlugin<VoicemailRouteDeps>('pbx-voicemail', async (app, deps) => {
  app.addSchema(VoicemailMessage);
  await app.register(voicemailRoutes(deps));
});
