/** Live calls and CDRs (/calls/live, /cdrs), and the recording of a live call (/calls/{callId}/recording/...), mounted under /api/v1. */
import { featurePlugin } from '../http/plugin.js';
import { callRoutes, type CallRouteDeps } from './routes.js';
import { recordingRoutes, type LiveRecordingControl } from './recording-routes.js';
import { Cdr, LiveCall } from './schemas.js';

export const callsPlugin = featurePlugin<CallRouteDeps & { live?: LiveRecordingControl }>('pbx-calls', async (app, deps) => {
  app.addSchema(Cdr);
  app.addSchema(LiveCall);
  await app.register(callRoutes(deps));
  if (deps.live) await app.register(recordingRoutes({ auth: deps.auth, live: deps.live }));
});
