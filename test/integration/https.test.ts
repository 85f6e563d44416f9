/**
 * HTTPS (issue #21): with PBX_TLS_CERT / PBX_TLS_KEY the daemon serves HTTPS on PBX_HTTP_PORT and
 * plain HTTP there fails; the optional plain port (PBX_HTTP_PLAIN_PORT) reaches only /health and
 * /provision, and provisioning files (SIP passwords) only with PBX_PROVISION_PLAIN_HTTP=yes.
 * The certificate is made here with openssl, as deploy/site-cert.sh makes the site's.
 */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import http from 'node:http';
import https from 'node:https';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { App } from '../../src/app.js';
import { startTestApp } from '../support/app.js';

interface Answer {
  status: number;
  body: string;
}

function get(url: string, ca?: Buffer): Promise<Answer> {
  const client = url.startsWith('https:') ? https : http;
  return new Promise((resolve, reject) => {
    const req = client.get(url, { ...(ca ? { ca } : {}), timeout: 5_000 }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (chunk: string) => (body += chunk));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
    });
    req.on('timeout', () => req.destroy(new Error('timeout')));
    req.on('error', reject);
  });
}

const portOf = (server: { address(): AddressInfo | string | null }): number => (server.address() as AddressInfo).port;

let dir: string;
let cert: string;
let key: string;
let ca: Buffer;

beforeAll(() => {
  dir = mkdtempSync(path.join(tmpdir(), 'pbx-tls-'));
  cert = path.join(dir, 'site.crt');
  key = path.join(dir, 'site.key');
  execFileSync('openssl', [
    'req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes', '-days', '2',
    '-subj', '/CN=localhost', '-addext', 'subjectAltName=DNS:localhost,IP:127.0.0.1', '-keyout', key, '-out', cert,
  ], { stdio: 'ignore' });
  ca = readFileSync(cert);
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('HTTPS with the site certificate, plain provisioning refused (the default)', () => {
  let app: App;
  let tlsPort: number;
  let plainPort: number;
  beforeAll(async () => {
    app = await startTestApp({ PBX_TLS_CERT: cert, PBX_TLS_KEY: key, PBX_HTTP_PLAIN_PORT: '0' });
    tlsPort = portOf(app.http.server);
    plainPort = portOf(app.plainHttp!);
  });
  afterAll(async () => app.stop());

  it('answers HTTPS on PBX_HTTP_PORT, verified against the certificate as CA', async () => {
    const res = await get(`https://127.0.0.1:${tlsPort}/health/live`, ca);
    expect(res.status).toBe(200);
    // The API is there too: an unauthenticated request gets the 401 of bearer auth.
    expect((await get(`https://localhost:${tlsPort}/api/v1/cdrs`, ca)).status).toBe(401);
  });

  it('does not answer plain HTTP on the TLS port', async () => {
    await expect(get(`http://127.0.0.1:${tlsPort}/health/live`)).rejects.toThrow();
  });

  it('is not trusted without the certificate', async () => {
    await expect(get(`https://127.0.0.1:${tlsPort}/health/live`)).rejects.toThrow(/self[- ]signed/i);
  });

  it('serves only health checks on the plain port: the API is refused before authentication', async () => {
    expect((await get(`http://127.0.0.1:${plainPort}/health/live`)).status).toBe(200);
    const api = await get(`http://127.0.0.1:${plainPort}/api/v1/cdrs`);
    expect(api.status).toBe(403);
    expect(JSON.parse(api.body)).toMatchObject({ error: { code: 'forbidden' } });
    expect((await get(`http://127.0.0.1:${plainPort}/docs`)).status).toBe(403);
    // No dot segments past the check: the route matched decides, not the raw URL; this one
    // matches none (404), so nothing is served. (A raw path: a URL would have its dot segments
    // resolved by the client.)
    const dotted = await new Promise<number>((resolve, reject) => {
      http.get({ host: '127.0.0.1', port: plainPort, path: '/provision/../api/v1/cdrs' }, (res) => {
        res.resume();
        resolve(res.statusCode ?? 0);
      }).on('error', reject);
    });
    expect(dotted).toBe(404);
  });

  it('refuses provisioning files over plain HTTP, and serves them over HTTPS', async () => {
    const plain = await get(`http://127.0.0.1:${plainPort}/provision/001565aabbcc.cfg`);
    expect(plain.status).toBe(403);
    expect(plain.body).toContain('HTTPS only');
    // Over HTTPS the request reaches the device check (an unknown MAC: the Basic challenge).
    expect((await get(`https://127.0.0.1:${tlsPort}/provision/001565aabbcc.cfg`, ca)).status).toBe(401);
  });
});

describe('PBX_PROVISION_PLAIN_HTTP=yes', () => {
  let app: App;
  beforeAll(async () => {
    app = await startTestApp({ PBX_TLS_CERT: cert, PBX_TLS_KEY: key, PBX_HTTP_PLAIN_PORT: '0', PBX_PROVISION_PLAIN_HTTP: 'yes' });
  });
  afterAll(async () => app.stop());

  it('lets phones fetch provisioning over the plain port (still behind the device check); the API stays HTTPS only', async () => {
    const plainPort = portOf(app.plainHttp!);
    expect((await get(`http://127.0.0.1:${plainPort}/provision/001565aabbcc.cfg`)).status).toBe(401);
    expect((await get(`http://127.0.0.1:${plainPort}/api/v1/cdrs`)).status).toBe(403);
  });
});

describe('without TLS (the test worlds, and sites that set no certificate)', () => {
  let app: App;
  beforeAll(async () => {
    app = await startTestApp();
  });
  afterAll(async () => app.stop());

  it('serves plain HTTP on PBX_HTTP_PORT, provisioning included, and has no second port', async () => {
    const port = portOf(app.http.server);
    expect(app.plainHttp).toBeNull();
    expect((await get(`http://127.0.0.1:${port}/health/live`)).status).toBe(200);
    expect((await get(`http://127.0.0.1:${port}/provision/001565aabbcc.cfg`)).status).toBe(401);
  });
});
