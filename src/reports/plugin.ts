/** Reports (/reports: queue and agent figures per interval, live queue figures), mounted under /api/v1. */
import { featurePlugin } from '../http/plugin.js';
import { reportRoutes, type ReportRouteDeps } from './routes.js';

export const reportsPlugin = featurePlugin<ReportRouteDeps>('pbx-reports', async (app, deps) => {
  await app.register(reportRoutes(deps));
});
