/** Call recordings (/recordings), mounted under /api/v1. */
import { featurePlugin } from '../http/plugin.js';
import { recordingRoutes, type RecordingRouteDeps } from './routes.js';
import { Recording } from './schemas.js';

export const recordingsPlugin = featurePlugin<RecordingRouteDeps>('pbx-recordings', async (app, deps) => {
  app.addSchema(Recording);
  await app.register(recordingRoutes(deps));
});
