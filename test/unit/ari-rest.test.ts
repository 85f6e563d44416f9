import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { AppError } from '../../src/errors.js';
import { AriRest, seg } from '../../src/telephony/ari-rest.js';

/** What the server saw of one request. */
interface Seen { method: string; url: string; auth: string | undefined; type: string | undefined; body: string }

let server: http.Server | null = null;
let rest: AriRest | null = null;

/** A local HTTP server answering every request with `answer` (status, body; null: never answers) and recording it. */
async function ari(answer: (req: Seen) => { status: number; body?: string } | null): Promise<{ rest: AriRest; seen: Seen[] }> {
  const seen: Seen[] = [];
  server = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const s: Seen = { method: req.method ?? '', url: req.url ?? '', auth: req.headers.authorization, type: req.headers['content-type'], body: Buffer.concat(chunks).toString() };
      seen.push(s);
      const a = answer(s);
      if (!a) return; // left open until the client gives up (or afterEach closes it)
      res.writeHead(a.status, a.body ? { 'content-type': 'application/json' } : {});
      res.end(a.body ?? '');
    });
  });
  await new Promise<void>((resolve) => server!.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  rest = new AriRest({ host: '127.0.0.1', port, user: 'pbx', password: 's3cret' });
  return { rest, seen };
}

afterEach(async () => {
  rest?.close();
  rest = null;
  server?.closeAllConnections();
  await new Promise<void>((resolve) => (server ? server.close(() => resolve()) : resolve()));
  server = null;
});

async function failure(p: Promise<unknown>): Promise<AppError> {
  const err = await p.then(() => null, (e: unknown) => e);
  expect(err).toBeInstanceOf(AppError);
  return err as AppError;
}

describe('AriRest', () => {
  it('sends the method, /ari path, query (undefined left out), basic auth and a JSON body', async () => {
    const { rest, seen } = await ari(() => ({ status: 200, body: '{"id":"leg-1"}' }));
    const out = await rest.json('POST', `/channels/${seg('leg 1/x')}`, { endpoint: 'PJSIP/6201', timeout: 20, lang: undefined }, { variables: { A: 'b' } });
    expect(out).toEqual({ id: 'leg-1' });
    expect(seen).toHaveLength(1);
    expect(seen[0]!.method).toBe('POST');
    expect(seen[0]!.url).toBe('/ari/channels/leg%201%2Fx?endpoint=PJSIP%2F6201&timeout=20');
    expect(seen[0]!.auth).toBe(`Basic ${Buffer.from('pbx:s3cret').toString('base64')}`);
    expect(seen[0]!.type).toBe('application/json');
    expect(JSON.parse(seen[0]!.body)).toEqual({ variables: { A: 'b' } });
  });

  it('gives undefined for an empty answer (204) and sends no body when there is none', async () => {
    const { rest, seen } = await ari(() => ({ status: 204 }));
    expect(await rest.json('DELETE', '/channels/c1', { reason: 'normal' })).toBeUndefined();
    expect(seen[0]!.body).toBe('');
    expect(seen[0]!.type).toBeUndefined();
  });

  it('keeps the connection for the next request', async () => {
    const { rest } = await ari(() => ({ status: 204 }));
    const sockets = new Set<unknown>();
    server!.on('connection', (s) => sockets.add(s));
    for (let i = 0; i < 5; i++) await rest.json('POST', '/channels/c1/answer');
    expect(sockets.size).toBe(1);
  });

  it("maps 404 (ARI's {message}) to call-not-found", async () => {
    const { rest } = await ari(() => ({ status: 404, body: '{"message":"Channel not found"}' }));
    const err = await failure(rest.json('POST', '/channels/gone/answer'));
    expect(err.code).toBe('call-not-found');
    expect(err.message).toBe('Channel not found');
  });

  it('maps a "not found" message under another status (a channel gone meanwhile) to call-not-found', async () => {
    const { rest } = await ari(() => ({ status: 422, body: '{"message":"Playback not found"}' }));
    expect((await failure(rest.json('DELETE', '/playbacks/p1'))).code).toBe('call-not-found');
  });

  it('names the request and status of other failures; a 401 names the settings to check', async () => {
    const { rest } = await ari((req) => (req.url.startsWith('/ari/asterisk') ? { status: 401, body: '' } : { status: 500, body: '{"message":"Allocation failed"}' }));
    const err = await failure(rest.json('POST', '/channels/c1', { endpoint: 'PJSIP/9' }));
    expect(err.code).toBe('asterisk-unavailable');
    expect(err.message).toBe('ARI POST /channels/c1: HTTP 500 Allocation failed');
    const denied = await failure(rest.json('GET', '/asterisk/info'));
    expect(denied.message).toContain('HTTP 401');
    expect(denied.message).toContain('PBX_ARI_USER/PBX_ARI_PASSWORD');
  });

  it('gives up on a request not answered within its deadline', async () => {
    const { rest } = await ari(() => null);
    const err = await failure(rest.json('GET', '/asterisk/info', undefined, undefined, 100));
    expect(err.code).toBe('asterisk-unavailable');
    expect(err.message).toContain('no answer within 100 ms');
  });

  it('is asterisk-unavailable when nothing listens', async () => {
    const { rest } = await ari(() => ({ status: 204 }));
    rest.close();
    server!.close();
    const err = await failure(new AriRest({ host: '127.0.0.1', port: 1, user: 'u', password: 'p' }).json('GET', '/asterisk/info'));
    expect(err.code).toBe('asterisk-unavailable');
    expect(err.message).toMatch(/^ARI GET \/asterisk\/info failed: .*ECONNREFUSED/);
  });

  it('fetches a binary body, or null on 404', async () => {
    const { rest } = await ari((req) => (req.url.endsWith('/known/file') ? { status: 200, body: 'RIFF' } : { status: 404, body: '{"message":"Recording not found"}' }));
    expect((await rest.binary('/recordings/stored/known/file'))?.toString()).toBe('RIFF');
    expect(await rest.binary('/recordings/stored/other/file')).toBeNull();
  });
});
