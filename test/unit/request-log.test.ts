/**
 * The request log (src/http/request-log.ts): one line per request with what ops follow a request
 * by (request id, user, method, url, client, status, time), never the Authorization header; which
 * requests get it under PBX_HTTP_LOG; a failed request always logged, redacted as the daemon's logs.
 */
import { describe, expect, it } from 'vitest';
import { pino } from 'pino';
import { buildHttp } from '../../src/http/server.js';
import type { HttpLogMode } from '../../src/config.js';

/** buildHttp with a logger configured as src/logger.ts's (redaction included), its lines kept. */
async function server(requestLog: HttpLogMode | undefined) {
  const lines: Record<string, unknown>[] = [];
  const log = pino(
    { level: 'info', redact: { paths: ['req.headers.authorization', '*.password', '*.token', '*.secret'], censor: '[redacted]' } },
    { write: (line: string) => void lines.push(JSON.parse(line)) },
  );
  const app = await buildHttp({ log, ...(requestLog ? { requestLog } : {}), version: 'test', authFailures: { limit: 1000, windowSeconds: 60 } });
  app.addHook('onRequest', async (request) => {
    if (request.headers.authorization) request.principal = { username: 'alice' } as never;
  });
  app.get('/ok', async () => ({ ok: true }));
  app.get('/boom', async (_request, reply) => {
    // A failure while sending: Fastify's requestCompleted gets the error.
    reply.raw.destroy(Object.assign(new Error('socket gone'), { token: 'sekret' }));
    return reply;
  });
  await app.ready();
  const get = (url: string) => app.inject({ method: 'GET', url, headers: { authorization: 'Bearer abc', 'x-request-id': 'rq-1' } });
  const completed = () => lines.filter((l) => l['msg'] === 'request completed');
  return { app, get, lines, completed };
}

describe('the request log', () => {
  it('writes one line per request with its id, user, method, url, status and time, without the token', async () => {
    const { app, get, lines, completed } = await server(undefined);
    await get('/ok?x=1');
    expect(completed()).toHaveLength(1);
    expect(completed()[0]).toMatchObject({
      level: 30,
      component: 'http',
      reqId: 'rq-1',
      user: 'alice',
      req: { method: 'GET', url: '/ok?x=1', remoteAddress: '127.0.0.1' },
      res: { statusCode: 200 },
    });
    expect(typeof completed()[0]!['responseTime']).toBe('number');
    expect(lines.filter((l) => l['msg'] === 'incoming request')).toEqual([]);
    expect(JSON.stringify(lines)).not.toContain('Bearer abc');
    await app.close();
  });

  it.each([
    ['all', [200, 404]],
    ['errors', [404]],
    ['off', []],
  ] as const)('PBX_HTTP_LOG=%s logs the requests answered %j', async (mode, statuses) => {
    const { app, get, completed } = await server(mode);
    await get('/ok');
    await get('/nope');
    expect(completed().map((l) => (l['res'] as { statusCode: number }).statusCode)).toEqual(statuses);
    await app.close();
  });

  it('logs a failed request under every mode, redacted', async () => {
    const { app, get, lines } = await server('off');
    await get('/boom').catch(() => undefined);
    const errored = lines.filter((l) => l['msg'] === 'request errored');
    expect(errored).toHaveLength(1);
    expect(JSON.stringify(errored[0])).not.toContain('sekret');
    await app.close();
  });
});
