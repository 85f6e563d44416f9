/** Staffing (/staffing), mounted under /api/v1. */
import { featurePlugin } from '../http/plugin.js';
import { staffingRoutes, type StaffingRouteDeps } from './routes.js';
import { ErlangAnswer, ForecastAnswer } from './schemas.js';

export const staffingPlugin = featurePlugin<StaffingRouteDeps>('pbx-staffing', async (app, deps) => {
  app.addSchema(ErlangAnswer);
  app.addSchema(ForecastAnswer);
  await app.register(staffingRoutes(deps));
});
