/** The IVR's HTTP lookup against a real local HTTP server: answers, failures, limits, the host allowlist. */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { httpLookup as lookupUnder } from '../../src/ivr/http-lookup.js';
import { lookupHostPolicy } from '../../src/ivr/lookup-hosts.js';
import { loadConfig } from '../../src/config.js';
import type { FlowDefinition } from '../../src/ivr/model.js';
import { setup } from '../support/session-harness.js';
import { eventually } from '../support/wait.js';

/** The allowlist as the daemon reads it (PBX_LOOKUP_ALLOWED_HOSTS). */
const allowing = (hosts: string) =>
  lookupHostPolicy(loadConfig({ PBX_ARI_USER: 'x', PBX_ARI_PASSWORD: 'x', PBX_AMI_USER: 'x', PBX_AMI_PASSWORD: 'x', PBX_SECRET_KEY: Buffer.alloc(32).toString('base64'), PBX_LOOKUP_ALLOWED_HOSTS: hosts }).ivr.lookupAllowedHosts);
// The fake CRM listens on 127.0.0.1, which a site must list to reach.
const httpLookup = lookupUnder(allowing('127.0.0.1'));

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

describe('IVR HTTP lookup: the hosts it may reach (PBX_LOOKUP_ALLOWED_HOSTS)', () => {
  const port = () => new URL(base).port;
  const refusedTo: string[] = [];
  const under = (hosts: string) => lookupUnder(allowing(hosts), (host, address) => refusedTo.push(`${host} ${address}`));

  it('loopback, link-local and private addresses are refused unless listed, without a request', async () => {
    const before = seen.length;
    const open = under('');
    for (const url of [
      `${base}/ok`, `http://127.0.0.2:${port()}/ok`, `http://[::1]:${port()}/ok`, `http://[::ffff:127.0.0.1]:${port()}/ok`, `http://2130706433:${port()}/ok`,
      'http://169.254.169.254/latest/meta-data/', 'http://[fe80::1]/', 'http://10.1.2.3/', 'http://192.168.1.1/', 'http://0.0.0.0/',
    ]) {
      expect(await open(url, {}, 1000, call), url).toEqual({ ok: false, error: 'not-allowed' });
    }
    expect(seen.length).toBe(before);
    expect(refusedTo).toContain('169.254.169.254 169.254.169.254');
  });

  it('a name that resolves to loopback is refused: the resolved address is checked, not the name', async () => {
    const before = seen.length;
    expect(await under('')(`http://localhost:${port()}/ok`, {}, 1000, call)).toEqual({ ok: false, error: 'not-allowed' });
    expect(await under('10.0.0.0/8, crm.example.com')(`http://localhost:${port()}/ok`, {}, 1000, call)).toEqual({ ok: false, error: 'not-allowed' });
    expect(seen.length).toBe(before);
    expect(refusedTo.at(-1)).toMatch(/^localhost (127\.0\.0\.1|::1)$/);
  });

  it('a listed name, address or block is reached', async () => {
    for (const hosts of ['localhost', '127.0.0.0/8', '127.0.0.1, ::1']) {
      const host = hosts === 'localhost' ? 'localhost' : '127.0.0.1';
      expect(await under(hosts)(`http://${host}:${port()}/ok`, {}, 1000, call), hosts).toEqual({ ok: true, body: { customer: { tier: 'gold' } } });
    }
  });

  it('with an allowlist set, a public host it does not list is refused too', async () => {
    expect(await under('crm.example.com')('http://93.184.215.14/', {}, 1000, call)).toEqual({ ok: false, error: 'not-allowed' });
  });
});

describe('a caller in a flow whose lookup host is not allowed', () => {
  const flowTo = (url: string): FlowDefinition => ({
    language: 'en',
    start: 'crm',
    nodes: {
      crm: { kind: 'lookup', url, timeoutMs: 1000, map: { tier: 'customer.tier' }, next: 'agent', error: 'bye' },
      agent: { kind: 'transfer', target: { kind: 'extension', number: '1002' } },
      bye: { kind: 'hangup' },
    },
  });

  for (const [what, url] of [['unlisted loopback (by name)', () => `http://localhost:${new URL(base).port}/ok`], ['link-local', () => 'http://169.254.169.254/latest/meta-data/']] as const) {
    it(`${what}: the call goes on along the failure branch, as for a network error`, async () => {
      const before = seen.length;
      const definition = flowTo(url());
      const s = setup({
        route: { kind: 'flow', flow: 'crm' },
        ivr: {
          siteTimezone: 'UTC',
          loadFlow: async (name) => (name === 'crm' ? { name, version: 1, definition } : null),
          promptMedia: async () => null,
          speak: async () => 'sound:x',
          lookup: lookupUnder(allowing('')),
        },
      });
      await s.session.enqueue({ type: 'stasis-start' });
      await eventually(async () => (s.calls.includes('hangup chan-a normal') ? true : undefined), 5_000, 'the caller hung up by the error branch', 10);
      expect(s.calls.some((c) => c.startsWith('originate'))).toBe(false);
      await s.session.enqueue({ type: 'hangup-request', cause: 16 });
      await s.session.enqueue({ type: 'destroyed', cause: 16, causeText: 'Normal Clearing' });
      const path = JSON.parse(s.cdrs.at(-1)!.ivr_path as string).path as { node: string; outcome?: string; lookup?: unknown }[];
      expect(path.map((p) => p.node)).toEqual(['crm', 'bye']);
      expect(path[0]).toMatchObject({ outcome: 'error', lookup: { ok: false, error: 'not-allowed' } });
      expect(seen.length).toBe(before); // the CRM was never asked
    });
  }
});
