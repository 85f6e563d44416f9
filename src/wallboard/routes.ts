import { readFileSync } from 'node:fs';
import path from 'node:path';
import { Type } from '@sinclair/typebox';
import type { FastifyInstance } from 'fastify';

/** The page's files: fixed names, read once at start (no path from the request reaches the disk). */
const FILES = [
  { url: '/wallboard', file: 'index.html', type: 'text/html; charset=utf-8' },
  { url: '/wallboard/wallboard.js', file: 'wallboard.js', type: 'text/javascript; charset=utf-8' },
  { url: '/wallboard/wallboard.css', file: 'wallboard.css', type: 'text/css; charset=utf-8' },
] as const;

/**
 * The page may load its own script and style only, and talk to its own origin only (fetch and the
 * event stream); no inline script or style, no frames.
 */
export const WALLBOARD_CSP =
  "default-src 'none'; script-src 'self'; style-src 'self'; connect-src 'self'; img-src 'self' data:; base-uri 'none'; form-action 'self'; frame-ancestors 'none'";

export interface WallboardRouteDeps {
  /** The folder holding the page's files (src/wallboard/static in the install). */
  readonly folder: string;
}

export function wallboardRoutes(deps: WallboardRouteDeps) {
  const bodies = FILES.map((f) => ({ ...f, body: readFileSync(path.join(deps.folder, f.file)) }));
  return async (app: FastifyInstance): Promise<void> => {
    for (const f of bodies) {
      app.get(
        f.url,
        { schema: { tags: ['wallboard'], summary: `Wallboard page: ${f.file} (no token needed for the page; it asks for one)`, produces: [f.type.split(';')[0] ?? f.type], response: { 200: Type.String() } } },
        async (_request, reply) =>
          reply
            .header('content-type', f.type)
            .header('content-security-policy', WALLBOARD_CSP)
            .header('x-content-type-options', 'nosniff')
            .header('referrer-policy', 'no-referrer')
            .header('cache-control', 'no-cache')
            .send(f.body),
      );
    }
  };
}
