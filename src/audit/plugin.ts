/** The audit log (/audit), mounted under /api/v1. */
import { featurePlugin } from '../http/plugin.js';
import { auditRoutes, type AuditRouteDeps } from './routes.js';

export const auditPlugin = featurePlugin<AuditRouteDeps>('pbx-audit', async (app, deps) => {
  await app.register(auditRoutes(deps));
});
