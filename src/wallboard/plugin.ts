/** The wallboard page at /wallboard (docs/wallboard.md): static files, at the root. */
import path from 'node:path';
import { featurePlugin } from '../http/plugin.js';
import { ROOT } from '../paths.js';
import { wallboardRoutes } from './routes.js';

export const WALLBOARD_FOLDER = path.join(ROOT, 'src', 'wallboard', 'static');

export const wallboardPlugin = featurePlugin<{ folder?: string }>('pbx-wallboard', async (app, deps) => {
  await app.register(wallboardRoutes({ folder: deps.folder ?? WALLBOARD_FOLDER }));
});
