/**
 * Desk phones: the devices API (/devices, mounted under /api/v1, bearer token) and the files the
 * phones fetch at boot (/provision/<file>, mounted at the root, device credentials or IP allowlist).
 */
import { featurePlugin } from '../http/plugin.js';
import { provisioningRoutes, type ProvisioningRouteDeps } from './phone-routes.js';
import { deviceRoutes, type DeviceRouteDeps } from './routes.js';

export const devicesPlugin = featurePlugin<DeviceRouteDeps>('pbx-devices', async (app, deps) => {
  await app.register(deviceRoutes(deps));
});

export const phoneProvisioningPlugin = featurePlugin<ProvisioningRouteDeps>('pbx-phone-provisioning', async (app, deps) => {
  await app.register(provisioningRoutes(deps));
});
