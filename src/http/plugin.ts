/**
 * What every route shares, as a named plugin (`pbx-http`), and the shape of a feature's plugin:
 * named, encapsulated (its schemas, hooks and content-type parsers stay inside it), and depending
 * on `pbx-http`.
 */
import type { FastifyInstance, FastifyPluginAsync, FastifyPluginOptions } from 'fastify';
import fp from 'fastify-plugin';
import { checkBearerRoute } from './auth.js';
import { installAuthFailureLimit, type AuthFailureLimit } from './auth-failures.js';
import { installErrorHandlers } from './errors.js';
import { installJsonBodyParser } from './json-body.js';
import { ErrorResponse } from './schemas.js';

const HTTP_PLUGIN = 'pbx-http';
const FASTIFY_VERSION = '5.x';

export interface HttpBasicsOptions {
  readonly authFailures: AuthFailureLimit;
}

/**
 * Not encapsulated, so it applies to every route: the error handler, `ErrorResponse`,
 * `request.principal`, the JSON body parser (depth limit), the failed-authentication limit, and a
 * start-up check that each bearer-protected route authenticates in onRequest.
 */
export const httpBasics = fp(
  async (app: FastifyInstance, opts: HttpBasicsOptions) => {
    app.decorateRequest('principal', null);
    installErrorHandlers(app);
    app.addSchema(ErrorResponse);
    installJsonBodyParser(app);
    await installAuthFailureLimit(app, opts.authFailures);
    app.addHook('onRoute', checkBearerRoute);
  },
  { name: HTTP_PLUGIN, fastify: FASTIFY_VERSION },
);

/** A feature's plugin (src/<feature>/plugin.ts): its routes, schemas and hooks under one name. */
export function featurePlugin<Options extends FastifyPluginOptions>(name: string, plugin: FastifyPluginAsync<Options>): FastifyPluginAsync<Options> {
  return fp(plugin, { name, dependencies: [HTTP_PLUGIN], encapsulate: true, fastify: FASTIFY_VERSION });
}

/**
 * A plugin whose hooks apply to the scope it is registered in (not encapsulated): every route
 * registered after it there, by any feature, gets them (e.g. src/idempotency under /api/v1).
 */
export function scopePlugin<Options extends FastifyPluginOptions>(name: string, plugin: FastifyPluginAsync<Options>): FastifyPluginAsync<Options> {
  return fp(plugin, { name, dependencies: [HTTP_PLUGIN], fastify: FASTIFY_VERSION });
}
