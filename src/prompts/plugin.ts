/** IVR prompts: uploads and text-to-speech (/prompts), mounted under /api/v1. */
import { featurePlugin } from '../http/plugin.js';
import { promptRoutes, type PromptRouteDeps } from './routes.js';
import { Prompt } from './schemas.js';

export const promptsPlugin = featurePlugin<PromptRouteDeps>('pbx-prompts', async (app, deps) => {
  app.addSchema(Prompt);
  await app.register(promptRoutes(deps));
});
