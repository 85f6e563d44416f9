/**
 * The wallboard's files as the daemon serves them: fixed names, the right types, and a
 * Content-Security-Policy that the page itself keeps (no inline script or style to be blocked).
 */
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { FastifyInstance } from 'fastify';
import { buildHttp } from '../../src/http/server.js';
import { createLogger } from '../../src/logger.js';
import { wallboardPlugin, WALLBOARD_FOLDER } from '../../src/wallboard/plugin.js';

let app: FastifyInstance;
beforeAll(async () => {
  app = await buildHttp({ log: createLogger('silent'), version: 'test', authFailures: { limit: 1000, windowSeconds: 60 } });
  await app.register(wallboardPlugin, {});
  await app.ready();
});
afterAll(async () => { await app.close(); });

describe('GET /wallboard', () => {
  it('serves the page, its script and its style, each with its type and the CSP', async () => {
    for (const [url, type] of [['/wallboard', 'text/html'], ['/wallboard/wallboard.js', 'text/javascript'], ['/wallboard/wallboard.css', 'text/css']] as const) {
      const res = await app.inject({ method: 'GET', url });
      expect(res.statusCode, url).toBe(200);
      expect(res.headers['content-type'], url).toContain(type);
      expect(res.headers['content-security-policy'], url).toContain("script-src 'self'");
      expect(res.headers['x-content-type-options'], url).toBe('nosniff');
    }
  });

  it('serves nothing else from the folder or beside it', async () => {
    for (const url of ['/wallboard/index.html', '/wallboard/../package.json', '/wallboard/%2e%2e/package.json', '/wallboard/x.js']) {
      expect((await app.inject({ method: 'GET', url })).statusCode, url).toBe(404);
    }
  });

  it('the page keeps its own CSP: no inline script, no inline style, no handler attributes', () => {
    const html = readFileSync(path.join(WALLBOARD_FOLDER, 'index.html'), 'utf8');
    const js = readFileSync(path.join(WALLBOARD_FOLDER, 'wallboard.js'), 'utf8');
    expect(html.match(/<script\b[^>]*>/g)).toEqual(['<script type="module" src="/wallboard/wallboard.js">']);
    expect(html).not.toMatch(/<style|\sstyle=|\son[a-z]+=/i);
    // The token is never put in a URL: only the ticket and the last event id go in the stream's query.
    expect(js).not.toMatch(/[?&]token=/);
    expect(js).not.toMatch(/setAttribute\(['"]style/);
  });
});
