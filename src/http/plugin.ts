/**
 * What every route shares, as a named plugin (`pbx-http`), and the shape of a feature's plugin:
 * named, encapsulated (its schemas, hooks and content-type parsers stay inside it), and depending
 * on `pbx-http`.
 */
import type { FastifyInstance, FastifyPluginAsync, FastifyPluginOptions } from 'fastify';
import fp from 'fastify-plugin';
import { installErrorHandlers } from './errors.js';
import { ErrorResponse } from './schemas.js';

const HTTP_PLUGIN = 'pbx-http';
const FASTIFY_VERSION = '5.x';

/** Not encapsulated: the error handler, `ErrorResponse` and `request.principal` apply to every route. */
export const httpBasics = fp(
  async (app: FastifyInstance) => {
    app.decorateRequest('principal', null);
    installErrorHandlers(app);
    app.addSchema(ErrorResponse);
  },
  { name: HTTP_PLUGIN, fastify: FASTIFY_VERSION },
);

/** A feature's plugin (src/<feature>/plugin.ts): its routes, schemas and hooks under one name. */
export function featurePlugin<Options extends FastifyPluginOptions>(name: string, plugin: FastifyPluginAsync<Options>): FastifyPluginAsync<Options> {
  return fp(plugin, { name, dependencies: [HTTP_PLUGIN], encapsulate: true, fastify: FASTIFY_VERSION });
}
