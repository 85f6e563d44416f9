/**
 * Prometheus metrics (docs/metrics.md). Two plugins:
 * - metricsPlugin: GET /metrics, at the root;
 * - requestTimingPlugin: an onResponse hook timing every HTTP request into
 *   pbx_http_request_duration_seconds. Not encapsulated, and registered first (src/app.ts), so that
 *   it reaches every route registered after it.
 */
import { featurePlugin, scopePlugin } from '../http/plugin.js';
import type { PbxMetrics } from './metrics.js';
import { metricsRoutes, type MetricsRouteDeps } from './routes.js';

export const metricsPlugin = featurePlugin<MetricsRouteDeps>('pbx-metrics', async (app, deps) => {
  await app.register(metricsRoutes(deps));
});

export const requestTimingPlugin = scopePlugin<{ metrics: PbxMetrics }>('pbx-request-timing', async (app, { metrics }) => {
  app.addHook('onResponse', async (request, reply) => {
    // An event stream's "request" lasts as long as the client stays: not a latency.
    if (String(reply.raw.getHeader('content-type') ?? '').startsWith('text/event-stream')) return;
    metrics.observeRequest(request.method, request.routeOptions.url ?? null, reply.statusCode, reply.elapsedTime / 1000);
  });
});
