/**
 * README.md's first steps, run as they stand: every ```sh block under "## First steps" (one bash
 * session, in order, `set -eo pipefail`, so a failing command or an error answer of the `api`
 * helper fails the test, naming the block) against a site of its own: a fresh world (database,
 * Asterisk instance) and the built daemon with HTTPS, as `make setup` makes a site (a certificate
 * made here with openssl, as deploy/site-cert.sh makes the site's). Only what must differ is set,
 * through the variable the README itself reads: PBX_ENV_FILE names an env file with this world's
 * settings (its HTTP port, SIP port, database, certificate). Then docs/ivr.md's "A first flow"
 * block runs in the same session (it uses the README's helper and extensions). A block may be left out with `<!-- not run by tests: why -->` above it;
 * none is today. Not run, because they are prose, not blocks: registering a phone and calling
 * 1001 -> 1002 ("A phone", "A call"), which need a real phone (calls.test.ts covers them), and
 * logging Ada in with *91 (acd.test.ts). `pbx test-call` is run: it places a real SIP call.
 *
 * After the blocks the same session uses the README's `api` helper with the other methods the
 * README mentions (PATCH, POST without a body, DELETE); then the test checks the results through
 * the API.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { execFileSync, spawn } from 'node:child_process';
import https from 'node:https';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { Daemon, eventually } from '../support/daemon.js';
import { cliToken } from '../support/api.js';
import { REPO } from '../support/asterisk.js';
import { shellBlocks, type ShellBlock } from '../support/doc-blocks.js';
import { createWorld, type World } from '../support/world.js';

let world: World & { teardown: () => Promise<void> };
let daemon: Daemon;
let dir: string;
let ca: Buffer;
let token: string;

/** GET over HTTPS with the world's certificate as the CA. */
function get(url: string, auth = true): Promise<{ status: number; body: any }> { // eslint-disable-line @typescript-eslint/no-explicit-any
  return new Promise((resolve, reject) => {
    const req = https.get(`https://127.0.0.1:${world.daemonEnv['PBX_HTTP_PORT']}${url}`, { ca, headers: auth ? { authorization: `Bearer ${token}` } : {}, timeout: 5_000 }, (res) => {
      let text = '';
      res.on('data', (c: Buffer) => (text += c.toString()));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body: text ? JSON.parse(text) : null }));
    });
    req.on('timeout', () => req.destroy(new Error('timeout')));
    req.on('error', reject);
  });
}

/** Run `script` with bash; its combined output and exit code. */
function bash(script: string, env: Record<string, string>): Promise<{ code: number | null; output: string }> {
  return new Promise((resolve) => {
    const proc = spawn('bash', ['-c', script], { cwd: REPO, env, stdio: ['ignore', 'pipe', 'pipe'] });
    let output = '';
    proc.stdout.on('data', (c: Buffer) => (output += c.toString()));
    proc.stderr.on('data', (c: Buffer) => (output += c.toString()));
    proc.once('exit', (code) => resolve({ code, output }));
  });
}

/** The blocks as one script; a marker line before each says which block runs. */
function script(blocks: ShellBlock[], after: string): string {
  const run = blocks.filter((b) => b.skip === null);
  return ['set -eo pipefail', ...run.map((b) => `echo '>>> README.md block at line ${b.line}'\n${b.code}`), `echo '>>> after the README blocks'\n${after}`, `echo '>>> done'`].join('\n');
}

beforeAll(async () => {
  dir = await mkdtemp(path.join(tmpdir(), 'pbx-e2e-readme-'));
  const [cert, key] = [path.join(dir, 'pbx.crt'), path.join(dir, 'pbx.key')];
  execFileSync('openssl', [
    'req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes', '-days', '2',
    '-subj', '/CN=localhost', '-addext', 'subjectAltName=DNS:localhost,IP:127.0.0.1', '-keyout', key, '-out', cert,
  ], { stdio: 'ignore' });
  ca = await readFile(cert);
  world = await createWorld('e2e', { PBX_LOG_LEVEL: process.env['PBX_TEST_DAEMON_LOG_LEVEL'] ?? 'info', PBX_TLS_CERT: cert, PBX_TLS_KEY: key });
  daemon = Daemon.start(world.daemonEnv);
  token = await cliToken(world.daemonEnv, 'admin');
  await eventually(async () => ((await get('/health/ready', false).catch(() => ({ status: 0 }))).status === 200 ? true : undefined), 30_000, 'daemon ready');
});

afterAll(async () => {
  await daemon?.stop();
  await world?.teardown();
  if (dir) await rm(dir, { recursive: true, force: true });
});

describe("README.md's first steps", () => {
  it('run as written, and leave the extensions, trunks, routes, queue and agent they describe', async () => {
    const blocks = shellBlocks(await readFile(path.join(REPO, 'README.md'), 'utf8'), 'First steps');
    expect(blocks.filter((b) => b.skip === null).length, 'runnable blocks under "## First steps"').toBeGreaterThanOrEqual(4);
    const flow = shellBlocks(await readFile(path.join(REPO, 'docs/ivr.md'), 'utf8'), 'A first flow');
    expect(flow.length, 'docs/ivr.md "## A first flow" blocks').toBe(1);

    // The site's env file, as deploy/gen-env.sh writes one: the world's settings.
    const settings = { ...world.asteriskEnv, ...world.daemonEnv, PBX_SIP_PORT: String(world.sipPort) };
    for (const [k, v] of Object.entries(settings)) if (!/^[A-Za-z0-9_.:/@+=-]*$/.test(v)) throw new Error(`${k} would need quoting in the env file`);
    const envFile = path.join(dir, 'pbx.env');
    await writeFile(envFile, Object.entries(settings).map(([k, v]) => `${k}=${v}\n`).join(''), { mode: 0o600 });

    // docs/ivr.md's first flow, then the README's api helper with the methods its text mentions.
    const after = [
      `echo '>>> docs/ivr.md block at line ${flow[0]!.line}'`,
      flow[0]!.code,
      `echo '>>> api with PATCH, DELETE, POST without a body'`,
      `api POST /extensions/1001/rotate-password`,
      `api PATCH /extensions/1001 '{"dnd":true}'`,
      `api PATCH /extensions/1001 '{"dnd":false}'`,
      `api POST /extensions '{"number":"1099","displayName":"Short Lived"}'`,
      `api DELETE /extensions/1099`,
    ].join('\n');
    const env = { PATH: process.env['PATH'] ?? '', HOME: process.env['HOME'] ?? dir, PBX_ENV_FILE: envFile };
    const res = await bash(script(blocks, after), env);
    const failedIn = res.output.split('\n').filter((l) => l.startsWith('>>> ')).at(-1);
    expect(res.code, `bash exited ${res.code} in "${failedIn}"; output:\n${res.output.slice(-4000)}`).toBe(0);
    expect(res.output).toContain('>>> done');

    // What the blocks made, read back through the API.
    const items = async (url: string) => {
      const r = await get(url);
      expect(r.status, `${url}: ${JSON.stringify(r.body)}`).toBe(200);
      return r.body.items as Record<string, any>[]; // eslint-disable-line @typescript-eslint/no-explicit-any
    };
    const extensions = await items('/api/v1/extensions');
    expect(extensions.map((e) => e['number']).sort()).toEqual(['1001', '1002']);
    expect(extensions.find((e) => e['number'] === '1002')).toMatchObject({ voicemailPinSet: true });
    expect(extensions.find((e) => e['number'] === '1001')).toMatchObject({ dnd: false });

    const trunks = await items('/api/v1/trunks');
    expect(trunks.map((t) => [t['name'], t['kind']]).sort()).toEqual([['carrier', 'registration'], ['carrier-ip', 'ip']]);
    const carrier = trunks.find((t) => t['name'] === 'carrier')!;
    expect(await items('/api/v1/outbound-routes')).toEqual([expect.objectContaining({ name: 'national', trunkId: carrier['id'], trunkName: 'carrier' })]);
    const inbound = await items('/api/v1/inbound-routes');
    expect(Object.fromEntries(inbound.map((r) => [r['didPattern'], r['target']]))).toEqual({
      '4930555000': { kind: 'extension', number: '1001' },
      '4930555100': { kind: 'queue', queue: 'support' },
      '4930555200': { kind: 'flow', flow: 'main-menu' },
    });
    const flowRes = await get('/api/v1/flows/main-menu');
    expect(flowRes.status, JSON.stringify(flowRes.body)).toBe(200);
    expect(flowRes.body.publishedVersion, 'docs/ivr.md published the flow').toBe(1);

    const queue = await get('/api/v1/queues/support');
    expect(queue.status).toBe(200);
    expect(queue.body).toMatchObject({ overflow: { kind: 'voicemail', mailbox: '1002' } });
    expect((await items('/api/v1/queues/support/members')).map((m) => m['agent'])).toEqual(['7001']);
    expect((await get('/api/v1/agents/7001')).status).toBe(200);

    // `pbx test-call` placed its call: a CDR for *99.
    const cdrs = await items(`/api/v1/cdrs?dialed=${encodeURIComponent('*99')}`);
    expect(cdrs[0], 'the CDR of pbx test-call').toMatchObject({ disposition: 'ANSWERED' });
  }, 240_000);
});
