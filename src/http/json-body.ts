/**
 * JSON request bodies: Fastify's own parser (prototype-poisoning checks included), after a scan
 * that refuses a body nested deeper than MAX_JSON_DEPTH. The scan stops at the first bracket past
 * the limit, so a deeply nested body is refused without building it; no API body comes near the limit.
 * The size limit stays the server's bodyLimit (src/http/server.ts).
 */
import type { FastifyInstance } from 'fastify';
import { AppError } from '../errors.js';

export const MAX_JSON_DEPTH = 32;

const QUOTE = 0x22;
const BACKSLASH = 0x5c;
const OPEN_ARRAY = 0x5b;
const CLOSE_ARRAY = 0x5d;
const OPEN_OBJECT = 0x7b;
const CLOSE_OBJECT = 0x7d;

/** True as soon as `text` opens more than `max` arrays/objects at once; brackets inside strings do not count. */
export function nestedDeeperThan(text: string, max: number): boolean {
  let depth = 0;
  let inString = false;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (inString) {
      if (c === BACKSLASH) i++;
      else if (c === QUOTE) inString = false;
    } else if (c === QUOTE) {
      inString = true;
    } else if (c === OPEN_ARRAY || c === OPEN_OBJECT) {
      if (++depth > max) return true;
    } else if (c === CLOSE_ARRAY || c === CLOSE_OBJECT) {
      depth--;
    }
  }
  return false;
}

/** Replaces the application/json parser of `app` (and the contexts below it). */
export function installJsonBodyParser(app: FastifyInstance, maxDepth = MAX_JSON_DEPTH): void {
  const parse = app.getDefaultJsonParser('error', 'error');
  app.addContentTypeParser('application/json', { parseAs: 'string' }, (request, body, done) => {
    const text = typeof body === 'string' ? body : body.toString('utf8'); // parseAs 'string': always a string
    if (nestedDeeperThan(text, maxDepth)) {
      done(new AppError('body-too-deep', 400, `body: JSON nested deeper than ${maxDepth} levels`, { field: 'body', maxDepth }), undefined);
      return;
    }
    // The default parser calls done; returning its result lets Fastify await it should it ever be a promise.
    return parse(request, text, done) as unknown;
  });
}
