/** The IVR's HTTP lookup against a real local HTTP server: answers, failures, limits. */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { httpLookup } from '../../src/ivr/http-lookup.js';

let server: Server;
let base = '';
const seen: URLSearchParams[] = [];
const call = { callerNumber: '4930111', dialedNumber: '4930555' };

beforeAll(async () => {
  server = createServer((req, res) => {
    const url = new URL(req.url ?? '/', 'http://x');
    seen.push(url.searchParams);
    switch (url.pathname) {
      case '/ok':
        return void res.writeHead(200, { 'content-type': 'application/json' }).end('{"customer":{"tier":"gold"}}');
      case '/text':
        return void res.writeHead(200, { 'content-type': 'text/plain' }).end('hello');
      case '/down':
        return void res.writeHead(503).end('{}');
      case '/slow':
        return; // never answers: the lookup's own timeout ends it
      case '/huge':
        return void res.writeHead(200).end(`{"x":"${'a'.repeat(100 * 1024)}"}`);
      case '/redirect':
        return void res.writeHead(302, { location: '/ok' }).end();
    }
    res.writeHead(404).end();
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});
afterAll(() => {
  server?.closeAllConnections();
  server?.close();
});

describe('IVR HTTP lookup', () => {
  it('sends caller, dialed and the node parameters; returns the JSON answer', async () => {
    expect(await httpLookup(`${base}/ok?fixed=1`, { account: '42' }, 1000, call)).toEqual({ ok: true, body: { customer: { tier: 'gold' } } });
    const q = seen.at(-1)!;
    expect([q.get('fixed'), q.get('caller'), q.get('dialed'), q.get('account')]).toEqual(['1', '4930111', '4930555', '42']);
  });

  it('names each failure: http-error with status, bad-json, timeout, too big, network, redirects refused', async () => {
    expect(await httpLookup(`${base}/down`, {}, 1000, call)).toEqual({ ok: false, error: 'http-error', status: 503 });
    expect(await httpLookup(`${base}/text`, {}, 1000, call)).toEqual({ ok: false, error: 'bad-json', status: 200 });
    expect(await httpLookup(`${base}/slow`, {}, 200, call)).toEqual({ ok: false, error: 'timeout' });
    expect(await httpLookup(`${base}/huge`, {}, 1000, call)).toEqual({ ok: false, error: 'bad-json', status: 200 });
    expect(await httpLookup('http://127.0.0.1:1/nothing', {}, 1000, call)).toEqual({ ok: false, error: 'network' });
    expect(await httpLookup(`${base}/redirect`, {}, 1000, call)).toEqual({ ok: false, error: 'network' });
    expect(await httpLookup('not a url', {}, 1000, call)).toEqual({ ok: false, error: 'network' });
  });
});
