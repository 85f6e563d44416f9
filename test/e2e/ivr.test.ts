/**
 * IVR flows end to end: a carrier (SIPp on 127.0.0.3, an IP-identified trunk) calls DIDs routed to
 * flows built through the API; the caller presses RFC 4733 digits; the daemon runs the published
 * version over ARI; the caller's path is read back from the CDR. Covers: menu to an extension,
 * invalid digits then fallback, timeout, out of hours and holiday (schedules built around now in
 * the site's time zone), an HTTP lookup against a local server (fast, slow, failing), a version
 * published while a call is in the old one, and a text-to-speech prompt played in a call.
 */
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { createServer, type Server } from 'node:http';
import { readFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import type { AddressInfo } from 'node:net';
import { Daemon, eventually } from '../support/daemon.js';
import { holdFor } from '../support/wait.js';
import { Api, type Cdr } from '../support/api.js';
import { registerPhone, sippCall, startPhone, type SippResult } from '../support/sipp.js';
import { freePort } from '../support/ports.js';
import { apiClient, createScriptedExtension, startReadyDaemon } from '../support/pbx.js';
import { dtmfScenario, type CallerEnd, type CallerStep } from '../support/sipp-dtmf.js';

const world = inject('e2e');
const CARRIER_IP = '127.0.0.3';
const AGENT = '5101';
let daemon: Daemon;
let api: Api;
let admin: ReturnType<typeof apiClient>;
let agentPassword = '';
let crm: Server;
let crmUrl = '';
const crmRequests: URLSearchParams[] = [];
let didSeq = 0;

interface PathEntry {
  at: string;
  node: string;
  kind: string;
  attempt?: number;
  digits?: string;
  failure?: string;
  outcome?: string;
  lookup?: { ok: boolean; error?: string; status?: number };
}
type IvrCdr = Cdr & { ivrPath: { flows: { name: string; version: number }[]; path: PathEntry[] } | null };

/** A GET on the test Asterisk's ARI (what the caller's channel is sent, which bridge it is in). */
async function ari<T>(url: string): Promise<T> {
  const env = world.asteriskEnv;
  const auth = Buffer.from(`${env['PBX_ARI_USER']}:${env['PBX_ARI_PASSWORD']}`).toString('base64');
  const res = await fetch(`http://127.0.0.1:${env['PBX_ARI_PORT']}/ari${url}`, { headers: { authorization: `Basic ${auth}` } });
  if (!res.ok) throw new Error(`ARI GET ${url}: ${res.status}`);
  return (await res.json()) as T;
}

/** A flow published under `name` and a DID routed to it; returns the DID. */
async function flowOnDid(name: string, definition: unknown): Promise<string> {
  const created = await admin('POST', '/api/v1/flows', { name, definition });
  expect(created.status, JSON.stringify(created.body)).toBe(201);
  const published = await admin('POST', `/api/v1/flows/${name}/publish`);
  expect(published.status, JSON.stringify(published.body)).toBe(200);
  const did = `4930123${String(++didSeq).padStart(3, '0')}`;
  const route = await admin('POST', '/api/v1/inbound-routes', { name: `ivr ${name}`, didPattern: did, target: { kind: 'flow', flow: name } });
  expect(route.status, JSON.stringify(route.body)).toBe(201);
  return did;
}

async function carrierCall(did: string, steps: CallerStep[], end: CallerEnd, displayName?: string): Promise<SippResult> {
  const scenarioFile = await dtmfScenario(steps, end, displayName === undefined ? {} : { displayName });
  return sippCall({ scenario: 'uac-long-call', scenarioFile, dialed: did, sipPort: world.sipPort, user: '4930999888', password: 'unused', localIp: CARRIER_IP, timeoutS: 90 });
}

async function cdrOf(did: string, since: Date): Promise<IvrCdr> {
  const q = `dialed=${did}&from=${encodeURIComponent(since.toISOString())}&limit=1`;
  return eventually(async () => (await api.cdrs(q))[0] as IvrCdr | undefined, 15_000, `CDR ${did}`);
}

const nodes = (cdr: IvrCdr) => cdr.ivrPath!.path.map((p) => p.node);
const entry = (cdr: IvrCdr, node: string) => cdr.ivrPath!.path.find((p) => p.node === node)!;
/** The menu's attempts: [attempt, digits, failure, outcome]. */
const attempts = (cdr: IvrCdr) => cdr.ivrPath!.path.filter((p) => p.kind === 'menu').map((p) => [p.attempt, p.digits ?? null, p.failure ?? null, p.outcome]);

async function agentPhone() {
  const port = await freePort(true);
  expect((await registerPhone({ sipPort: world.sipPort, ext: AGENT, password: agentPassword, port })).code).toBe(0);
  const logFile = path.join(tmpdir(), `pbx-e2e-ivr-agent-${port}.log`);
  return { ...(await startPhone('phone-answer', port, logFile)), logFile };
}

/**
 * Today in UTC (the e2e daemon's site time zone): weekday key and date. Within a minute of
 * midnight it first waits for the new day, so the calls that follow see the same day.
 */
async function today(): Promise<{ day: string; other: string; date: string }> {
  const untilMidnight = () => 86_400_000 - (Date.now() % 86_400_000);
  await eventually(async () => (untilMidnight() >= 60_000 ? true : undefined), 62_000, 'a minute clear of midnight UTC', 1_000);
  const now = new Date();
  const days = ['sun', 'mon', 'tue', 'wed', 'thu', 'fri', 'sat'];
  return { day: days[now.getUTCDay()]!, other: days[(now.getUTCDay() + 3) % 7]!, date: now.toISOString().slice(0, 10) };
}

const menuTo = (options: Record<string, string>, extra: Record<string, unknown> = {}) => ({
  kind: 'menu',
  prompt: { sound: 'hello-world' },
  options,
  timeoutMs: 3000,
  maxRetries: 1,
  fallback: 'bye',
  ...extra,
});
const toAgent = { kind: 'transfer', target: { kind: 'extension', number: AGENT } };
const bye = { kind: 'play', prompt: { sound: 'vm-goodbye' }, next: 'end' };
const end = { kind: 'hangup' };

beforeAll(async () => {
  // The fake CRM listens on 127.0.0.1: a loopback address lookups reach only when the site lists it.
  ({ daemon, api, admin } = await startReadyDaemon({ ...world.daemonEnv, PBX_LOOKUP_ALLOWED_HOSTS: '127.0.0.1' }));
  agentPassword = await createScriptedExtension(admin, world.db, { number: AGENT, displayName: 'Ivy Agent' });
  const trunk = await admin('POST', '/api/v1/trunks', { name: 'ivr-carrier', kind: 'ip', host: CARRIER_IP, port: await freePort(true), codecs: ['ulaw'] });
  expect(trunk.status, JSON.stringify(trunk.body)).toBe(201);
  // The CRM the lookups ask: the dialed DID decides how it behaves.
  crm = createServer((req, res) => {
    const q = new URL(req.url ?? '/', 'http://x').searchParams;
    crmRequests.push(q);
    const mode = q.get('mode');
    if (mode === 'fail') return void res.writeHead(500).end('{"error":"down"}');
    if (mode === 'slow') return; // never answers: the lookup's own timeout (1 s) ends it
    res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ customer: { tier: 'gold', name: 'Ada' } }));
  });
  await new Promise<void>((resolve) => crm.listen(0, '127.0.0.1', resolve));
  crmUrl = `http://127.0.0.1:${(crm.address() as AddressInfo).port}/crm`;
});

afterAll(async () => {
  for (const r of (await admin('GET', '/api/v1/inbound-routes')).body.items ?? []) await admin('DELETE', `/api/v1/inbound-routes/${r.id}`);
  await daemon?.stop();
  crm?.closeAllConnections();
  crm?.close();
});

describe('IVR flows', () => {
  it('a caller hears the menu, presses 1 and reaches the agent\'s phone; the CDR has the path', async () => {
    const did = await flowOnDid('sales-menu', { language: 'en', start: 'menu', nodes: { menu: menuTo({ '1': 'agent' }), agent: toAgent, bye, end } });
    const phone = await agentPhone();
    const since = new Date();
    const caller = await carrierCall(did, [{ pause: 700 }, { digit: '1' }], { hangUpAfter: 4000 });
    expect(caller.code, caller.output).toBe(0);
    expect((await phone.done).code).toBe(0);
    expect(await readFile(phone.logFile, 'utf8')).toContain('number=4930999888');
    const cdr = await cdrOf(did, since);
    expect(cdr).toMatchObject({ disposition: 'ANSWERED', direction: 'inbound' });
    expect(cdr.ivrPath!.flows).toEqual([{ name: 'sales-menu', version: 1 }]);
    expect(entry(cdr, 'menu')).toMatchObject({ attempt: 1, digits: '1', outcome: 'options.1' });
    expect(nodes(cdr)).toEqual(['menu', 'agent']);
    expect(cdr.digits).toBe('1');
  });

  it('menu to an extension: once the extension answers, the caller gets only the call\'s audio, no ringback tone under it (issue #19)', async () => {
    // The agent's phone (SIPp) answers and sends no audio: what Asterisk sends the caller after the
    // answer is only what it adds itself. A ringback tone left playing is 50 packets a second.
    const did = await flowOnDid('media-menu', { language: 'en', start: 'menu', nodes: { menu: menuTo({ '1': 'agent' }), agent: toAgent, bye, end } });
    const phone = await agentPhone();
    const call = carrierCall(did, [{ pause: 700 }, { digit: '1' }], { hangUpAfter: 9000 });
    // The caller's channel, once it is bridged with the agent's leg.
    const caller = await eventually(async () => {
      const bridges = await ari<{ id: string; channels: string[] }[]>('/bridges');
      const bridged = bridges.find((b) => b.channels.length === 2 && b.channels.some((c) => c.includes('-leg-')));
      return bridged?.channels.find((c) => !c.includes('-leg-'));
    }, 15_000, 'the caller bridged with the agent');
    const sent = async () => (await ari<{ txcount: number }>(`/channels/${encodeURIComponent(caller)}/rtp_statistics`)).txcount;
    const [before, t0] = [await sent(), Date.now()];
    await holdFor(3000, 'a window to count the packets sent to the caller');
    const [after, t1] = [await sent(), Date.now()];
    const perSecond = ((after - before) * 1000) / (t1 - t0);
    expect(perSecond, `packets/s sent to the caller while connected: ${perSecond.toFixed(1)}`).toBeLessThan(10);
    expect((await call).code).toBe(0);
    expect((await phone.done).code).toBe(0);
  });

  it('invalid digits: the menu is replayed, then the fallback says goodbye and hangs up', async () => {
    const did = await flowOnDid('retry-menu', { language: 'en', start: 'menu', nodes: { menu: menuTo({ '1': 'agent' }), agent: toAgent, bye, end } });
    const since = new Date();
    const caller = await carrierCall(did, [{ pause: 500 }, { digit: '7' }, { pause: 2500 }, { digit: '8' }], { waitForBye: true });
    expect(caller.code, caller.output).toBe(0);
    const cdr = await cdrOf(did, since);
    // One entry per attempt at the menu; the CDR's digits are every key the flow took.
    expect(attempts(cdr)).toEqual([
      [1, '7', 'invalid', 'retry'],
      [2, '8', 'invalid', 'fallback'],
    ]);
    expect(nodes(cdr)).toEqual(['menu', 'menu', 'bye', 'end']);
    expect(cdr.digits).toBe('78');
  });

  it('a wrong digit, then silence: both attempts are in the path, the retry and the timeout visible', async () => {
    const did = await flowOnDid('retry-quiet-menu', { language: 'en', start: 'menu', nodes: { menu: menuTo({ '1': 'agent' }, { timeoutMs: 1000 }), agent: toAgent, bye, end } });
    const since = new Date();
    const caller = await carrierCall(did, [{ pause: 500 }, { digit: '7' }], { waitForBye: true });
    expect(caller.code, caller.output).toBe(0);
    const cdr = await cdrOf(did, since);
    expect(attempts(cdr)).toEqual([
      [1, '7', 'invalid', 'retry'],
      [2, null, 'timeout', 'fallback'],
    ]);
    const [first, second] = cdr.ivrPath!.path;
    expect(Date.parse(second!.at)).toBeGreaterThan(Date.parse(first!.at)); // the retry began at the wrong digit
    expect(nodes(cdr)).toEqual(['menu', 'menu', 'bye', 'end']);
    expect(cdr.digits).toBe('7');
  });

  it('no digit: the menu times out to its fallback', async () => {
    const did = await flowOnDid('quiet-menu', { language: 'en', start: 'menu', nodes: { menu: menuTo({ '1': 'agent' }, { timeoutMs: 1000, maxRetries: 0 }), agent: toAgent, bye, end } });
    const since = new Date();
    const caller = await carrierCall(did, [], { waitForBye: true });
    expect(caller.code, caller.output).toBe(0);
    const cdr = await cdrOf(did, since);
    expect(entry(cdr, 'menu')).toMatchObject({ attempt: 1, failure: 'timeout', outcome: 'fallback' });
    expect(entry(cdr, 'menu').digits ?? '').toBe('');
    expect(cdr.digits).toBe('');
    expect(nodes(cdr)).toEqual(['menu', 'bye', 'end']);
  });

  it('business hours: open, closed and holiday take their own branches', async () => {
    const t = await today();
    const schedule = (hours: Record<string, unknown>, holidays: unknown[]) => ({
      language: 'en',
      start: 'hours',
      nodes: {
        hours: { kind: 'schedule', hours, holidays, open: 'open', closed: 'closed', holiday: 'holiday' },
        open: { kind: 'play', prompt: { sound: 'beep' }, next: 'end' },
        closed: { kind: 'play', prompt: { sound: 'beep' }, next: 'end' },
        holiday: { kind: 'play', prompt: { sound: 'beep' }, next: 'end' },
        end,
      },
    });
    const allDay = [{ from: '00:00', to: '24:00' }];
    const cases = [
      ['hours-open', schedule({ [t.day]: allDay }, []), 'open'],
      ['hours-closed', schedule({ [t.other]: allDay }, []), 'closed'],
      ['hours-holiday', schedule({ [t.day]: allDay }, [{ date: t.date, name: 'Test day' }]), 'holiday'],
    ] as const;
    for (const [name, def, branch] of cases) {
      const did = await flowOnDid(name, def);
      const since = new Date();
      const caller = await carrierCall(did, [], { waitForBye: true });
      expect(caller.code, caller.output).toBe(0);
      const cdr = await cdrOf(did, since);
      expect(entry(cdr, 'hours').outcome, name).toBe(branch);
      expect(nodes(cdr)).toEqual(['hours', branch, 'end']);
    }
  });

  it('an HTTP lookup: a fast answer routes by its data; a slow or failing one takes the error edge', async () => {
    const flow = (mode: string) => ({
      language: 'en',
      start: 'crm',
      nodes: {
        crm: { kind: 'lookup', url: crmUrl, timeoutMs: 1000, params: { mode }, map: { tier: 'customer.tier' }, next: 'vip', error: 'bye' },
        vip: { kind: 'branch', on: { variable: 'tier' }, cases: [{ equals: 'gold', next: 'agent' }], default: 'bye' },
        agent: toAgent,
        bye,
        end,
      },
    });
    const fast = await flowOnDid('crm-fast', flow('fast'));
    const phone = await agentPhone();
    let since = new Date();
    const caller = await carrierCall(fast, [], { hangUpAfter: 3000 });
    expect(caller.code, caller.output).toBe(0);
    expect((await phone.done).code).toBe(0);
    const hit = await cdrOf(fast, since);
    expect(entry(hit, 'crm')).toMatchObject({ outcome: 'next', lookup: { ok: true } });
    expect(nodes(hit)).toEqual(['crm', 'vip', 'agent']);
    expect(crmRequests.at(-1)?.get('caller')).toBe('4930999888');
    expect(crmRequests.at(-1)?.get('dialed')).toBe(fast);

    for (const [mode, error] of [['slow', 'timeout'], ['fail', 'http-error']] as const) {
      const did = await flowOnDid(`crm-${mode}`, flow(mode));
      since = new Date();
      const res = await carrierCall(did, [], { waitForBye: true });
      expect(res.code, res.output).toBe(0);
      const cdr = await cdrOf(did, since);
      expect(entry(cdr, 'crm'), mode).toMatchObject({ outcome: 'error', lookup: { ok: false, error } });
      expect(nodes(cdr)).toEqual(['crm', 'bye', 'end']);
    }
  });

  it('a lookup to a host the site does not list (loopback, link-local) is refused at publish, naming the node', async () => {
    for (const url of [crmUrl.replace('127.0.0.1', '127.0.0.2'), 'http://169.254.169.254/latest/meta-data/', 'http://[::1]/crm']) {
      const definition = { language: 'en', start: 'crm', nodes: { crm: { kind: 'lookup', url, timeoutMs: 1000, map: {}, next: 'end', error: 'end' }, end } };
      const res = await admin('POST', '/api/v1/flows', { name: `crm-refused-${url.length}`, definition });
      expect(res.status, url).toBe(422);
      expect(res.body.error.details.problems, url).toContainEqual(expect.objectContaining({ node: 'crm', field: 'url', code: 'host-not-allowed' }));
    }
  });

  it('a version published while a call is in the flow: that call finishes on its version, the next call gets the new one', async () => {
    const did = await flowOnDid('versions', { language: 'en', start: 'menu', nodes: { menu: menuTo({ '1': 'agent' }, { timeoutMs: 8000 }), agent: toAgent, bye, end } });
    const phone = await agentPhone();
    const since = new Date();
    const inV1 = carrierCall(did, [{ pause: 3000 }, { digit: '1' }], { hangUpAfter: 3000 });
    const v1 = await daemon.waitForLog((l) => l.msg === 'flow started' && l['flow'] === 'versions', 15_000); // the caller is in the menu now
    expect(v1['version']).toBe(1);
    const draft = await admin('PUT', '/api/v1/flows/versions/draft', { definition: { language: 'en', start: 'menu', nodes: { menu: menuTo({ '1': 'bye' }, { timeoutMs: 8000 }), bye, end } } });
    expect(draft.status, JSON.stringify(draft.body)).toBeLessThan(300);
    expect((await admin('POST', '/api/v1/flows/versions/publish')).status).toBe(200);
    expect((await inV1).code).toBe(0);
    expect((await phone.done).code).toBe(0); // v1's option 1: the agent
    const first = await cdrOf(did, since);
    expect(first.ivrPath!.flows).toEqual([{ name: 'versions', version: 1 }]);

    const later = new Date();
    const inV2 = await carrierCall(did, [{ pause: 500 }, { digit: '1' }], { waitForBye: true });
    expect(inV2.code, inV2.output).toBe(0);
    const second = await cdrOf(did, later);
    expect(second.ivrPath!.flows).toEqual([{ name: 'versions', version: 2 }]);
    expect(nodes(second)).toEqual(['menu', 'bye', 'end']);
  });

  it('a text-to-speech prompt is rendered and played in the call', async () => {
    const text = 'Welcome to the test company. All our agents are busy.';
    const did = await flowOnDid('spoken', { language: 'en', start: 'hello', nodes: { hello: { kind: 'play', prompt: { say: text }, next: 'end' }, end } });
    const since = new Date();
    const caller = await carrierCall(did, [], { waitForBye: true });
    expect(caller.code, caller.output).toBe(0);
    const cdr = await cdrOf(did, since);
    expect(nodes(cdr)).toEqual(['hello', 'end']);
    // It really played: the flow left the prompt only when Asterisk finished it (espeak-ng speaks it in ~3 s).
    const played = Date.parse(entry(cdr, 'end').at) - Date.parse(entry(cdr, 'hello').at);
    expect(played).toBeGreaterThan(2000);
    const prompts = (await admin('GET', '/api/v1/prompts')).body.items as { source: string; text: string | null; durationMs: number }[];
    expect(prompts.find((p) => p.source === 'tts' && p.text === text)?.durationMs).toBeGreaterThan(2000);
  });

  it('a DTMF storm and a 10 kB caller name do not break the call or the daemon', async () => {
    const did = await flowOnDid('storm', {
      language: 'en',
      start: 'collect',
      nodes: {
        collect: { kind: 'gather', prompt: { sound: 'hello-world' }, variable: 'code', minDigits: 1, maxDigits: 32, timeoutMs: 2000, next: 'end', timeout: 'end' },
        end,
      },
    });
    // Every digit pcap back to back, during the prompt (barge-in) and after it.
    const storm: CallerStep[] = [...'0123456789*#'].map((digit) => ({ digit }));
    const since = new Date();
    const caller = await carrierCall(did, [{ pause: 300 }, ...storm], { waitForBye: true }, 'A'.repeat(10_000));
    expect(caller.code, caller.output).toBe(0);
    const cdr = await cdrOf(did, since);
    expect(cdr.callerName?.length ?? 0).toBeLessThanOrEqual(80); // stored capped, never interpreted
    expect(entry(cdr, 'collect').digits).toMatch(/^[0-9]{1,32}$/);
    expect(cdr.digits).toBe(entry(cdr, 'collect').digits);
    expect(nodes(cdr)).toEqual(['collect', 'end']);
    expect(await api.ready()).toBe(200);
  });

  it("built-in prompts play in the flow's language (Spanish here, where Asterisk's sound set exists)", async () => {
    // queue-thankyou lasts 2.4 s in Spanish and 1.6 s in English (GSM, 33 bytes per 20 ms).
    const twice = [{ sound: 'queue-thankyou' }, { sound: 'queue-thankyou' }];
    const did = await flowOnDid('espanol', { language: 'es', start: 'hello', nodes: { hello: { kind: 'play', prompt: twice, next: 'end' }, end } });
    const since = new Date();
    const caller = await carrierCall(did, [], { waitForBye: true });
    expect(caller.code, caller.output).toBe(0);
    const cdr = await cdrOf(did, since);
    const played = Date.parse(entry(cdr, 'end').at) - Date.parse(entry(cdr, 'hello').at);
    expect(played).toBeGreaterThan(4_300); // English would be done after 3.2 s
    expect(played).toBeLessThan(7_000);
  });
});
