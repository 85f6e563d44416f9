/**
 * The wallboard (docs/wallboard.md) in two real browsers at once, both driven by puppeteer-core:
 * Debian's headless Chromium (/usr/bin/chromium, over CDP) and Firefox ESR (/usr/bin/firefox-esr,
 * over WebDriver BiDi), both installed by deploy/install.sh, against the built daemon beside a real
 * Asterisk 22. Both watch the same calls: one SIPp scenario, every step asserted in each browser.
 * A supervisor pastes a token; a caller through a carrier (SIPp on 127.0.0.5) waits in the queue
 * "wallboard" while its one agent (14, desk phone 6191) is paused; the agent is made ready and its
 * SIPp phone answers. The page must show the waiting caller, then the answered call and the agent's
 * state, each within 2 s of the daemon's own API saying so (the issue asks for "a second or two").
 * Screenshots are kept in test-results/wallboard/<browser>/ (the repo's root; ignored by git).
 *
 * Numbers used by no other e2e file (one database for the e2e run): agent 14 (PIN 5689: digits
 * ascend across number and PIN, test/support/sipp-dtmf.ts), extension 6191, DID 4930777070; for
 * the full floor (4 queues, 24 agents on one 1920x1080 screen): queues floor-*, agents 8601-8624,
 * their desk phones (extensions) 8651-8674.
 */
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { mkdir, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import puppeteer, { type Browser, type LaunchOptions, type Page } from 'puppeteer-core';
import { Daemon, eventually } from '../support/daemon.js';
import { cliToken } from '../support/api.js';
import { openDb } from '../support/db.js';
import { registerPhone, sippCall, startPhone, type SippResult } from '../support/sipp.js';
import { freePort } from '../support/ports.js';
import { apiClient, createScriptedExtension, startReadyDaemon } from '../support/pbx.js';
import { dtmfScenario, type CallerStep } from '../support/sipp-dtmf.js';
import { REPO } from '../support/asterisk.js';

/** What the functions run in the page use of the browser's globals (the program's lib has no DOM). */
interface Shown { textContent: string | null }
interface Box { right: number; bottom: number; left: number }
interface Drawn { textContent: string | null; scrollWidth: number; clientWidth: number; getBoundingClientRect(): Box; closest(selector: string): Drawn | null }
declare const document: {
  querySelector(selector: string): Shown | null;
  querySelectorAll(selector: string): Iterable<Drawn>;
  getElementById(id: string): Shown | null;
  scrollingElement: { scrollHeight: number; scrollWidth: number } | null;
  documentElement: { dataset: Record<string, string | undefined> };
  addEventListener(type: 'securitypolicyviolation', listener: (e: { violatedDirective: string; blockedURI: string }) => void): void;
};
declare const sessionStorage: { getItem(key: string): string | null };
declare function getComputedStyle(node: Drawn): { fontSize: string };

const world = inject('e2e');
const CARRIER_IP = '127.0.0.5';
const DID = '4930777070';
const QUEUE = 'wallboard';
const AGENT = { number: '14', pin: '5689', phone: '6191' };
const SHOTS = path.join(REPO, 'test-results', 'wallboard');
/** The floor that must fit a 1920x1080 screen unscaled, no scrolling (docs/wallboard.md#layout). */
const FLOOR_QUEUES = ['floor-sales', 'floor-support', 'floor-billing', 'floor-renewals'];
const FLOOR_NAMES = ['Amelia Hart', 'Bo Chen', 'Carlos Mendes', 'Dana Whitfield', 'Emeka Obi', 'Fatima Zahra Benali', 'Greta Lind', 'Hiro Tanaka',
  'Ines Duarte', 'Jonas Weber', 'Kiri Parata', 'Lena Novak', 'Mateo Rossi', 'Nora Haddad', 'Olu Adeyemi', 'Priya Raman',
  'Quinn Murphy', 'Rosa Alvarez', 'Sven Olsen', 'Tara Singh', 'Umar Farouk', 'Vera Kowalczyk', 'Wen Li', 'Yusuf Demir'];
const FLOOR_AGENTS = FLOOR_NAMES.map((name, i) => ({ number: String(8601 + i), name, phone: String(8651 + i) }));
/** The documented minimum sizes at 1920x1080: every figure and agent line, and the labels. */
const MIN_FIGURE_PX = 24;
const MIN_LABEL_PX = 16;
/** How soon after the daemon's API shows a change the page must show it. */
const PAGE_WITHIN_MS = 2_000;
/** The browsers a wall screen runs (the issue: "current Chromium and Firefox"), Debian's packages. */
const BROWSERS: { name: string; launch: LaunchOptions }[] = [
  { name: 'chromium', launch: { executablePath: '/usr/bin/chromium', args: ['--no-sandbox', '--disable-gpu', '--disable-dev-shm-usage'] } },
  { name: 'firefox', launch: { browser: 'firefox', executablePath: '/usr/bin/firefox-esr' } },
];

/** One browser with the page open, and what its console said in error. */
interface Viewer { name: string; browser: Browser; page: Page; errors: string[] }

let daemon: Daemon;
let admin: ReturnType<typeof apiClient>;
let viewers: Viewer[] = [];
let password = '';

const base = () => `http://127.0.0.1:${world.daemonEnv['PBX_HTTP_PORT']}`;
const stateOf = async (number: string) => (await admin('GET', `/api/v1/agents/${number}`)).body.state as string;
const waitState = (state: string) => eventually(async () => ((await stateOf(AGENT.number)) === state ? true : undefined), 15_000, `agent ${AGENT.number} ${state}`);
const queueLive = async () => (await admin('GET', `/api/v1/queues/${QUEUE}/live`)).body as { waiting: unknown[]; today: { answered: number } };

/** The same step in every browser at once; a failure names the browser. */
const inEach = (step: (v: Viewer) => Promise<unknown>) =>
  Promise.all(viewers.map(async (v) => {
    try {
      await step(v);
    } catch (err) {
      throw new Error(`${v.name}: ${(err as Error).message}`, { cause: err });
    }
  }));
/** A figure of the queue's card as the page shows it. */
const figure = (page: Page, name: string) => page.$eval(`[data-queue="${QUEUE}"] [data-figure="${name}"]`, (e) => e.textContent ?? '');
/** Until the page shows `text` in the queue's figure `name`. */
const pageFigure = (page: Page, name: string, text: string) =>
  page.waitForFunction((q, n, t) => document.querySelector(`[data-queue="${q}"] [data-figure="${n}"]`)?.textContent === t, { timeout: PAGE_WITHIN_MS }, QUEUE, name, text);
/** Until the page shows the agent in `state` (paused: with its reason, "paused (Break)"). */
const pageAgentState = (page: Page, state: string) =>
  page.waitForFunction((a, s) => {
    const text = document.querySelector(`tr[data-agent="${a}"] [data-field="state"]`)?.textContent ?? '';
    return text === s || text.startsWith(`${s} (`);
  }, { timeout: PAGE_WITHIN_MS }, AGENT.number, state);

/** A screenshot of each browser's page, test-results/wallboard/<browser>/<name>.png. */
const shot = (name: string) =>
  inEach((v) => v.page.screenshot({ path: path.join(SHOTS, v.name, `${name}.png`) as `${string}.png`, fullPage: true }));

async function openViewer(name: string, launch: LaunchOptions): Promise<Viewer> {
  await mkdir(path.join(SHOTS, name), { recursive: true });
  const browser = await puppeteer.launch({ ...launch, headless: true });
  const page = await browser.newPage();
  await page.setViewport({ width: 1920, height: 1080 });
  // The test fails on any script error, CSP violation or failed request. Chromium puts the last two
  // in its console; Firefox does not over WebDriver BiDi, so the page's own violation event is
  // logged by a script that runs before the page's, and answers are checked here, in both.
  const errors: string[] = [];
  await page.evaluateOnNewDocument(() =>
    document.addEventListener('securitypolicyviolation', (e) => console.error(`CSP ${e.violatedDirective} blocked ${e.blockedURI}`)));
  page.on('console', (m) => { if (m.type() === 'error') errors.push(m.text()); });
  page.on('pageerror', (e) => errors.push(String(e)));
  page.on('response', (r) => { if (r.status() >= 400) errors.push(`HTTP ${r.status()} ${r.url()}`); });
  return { name, browser, page, errors };
}

beforeAll(async () => {
  ({ daemon, admin } = await startReadyDaemon(world.daemonEnv));
  password = await createScriptedExtension(admin, world.db, { number: AGENT.phone, displayName: 'Wallboard Desk' });
  const trunk = await admin('POST', '/api/v1/trunks', { name: 'wallboard-carrier', kind: 'ip', host: CARRIER_IP, port: await freePort(true), codecs: ['ulaw'] });
  expect(trunk.status, JSON.stringify(trunk.body)).toBe(201);
  const q = await admin('POST', '/api/v1/queues', { name: QUEUE, strategy: 'longest-idle', ringTimeoutSeconds: 15, wrapUpSeconds: 30, announceSeconds: 0, joinEmpty: true, slSeconds: 20, slPercent: 80 });
  expect(q.status, JSON.stringify(q.body)).toBe(201);
  const created = await admin('POST', '/api/v1/agents', { number: AGENT.number, name: 'Wall Board', pin: AGENT.pin });
  expect(created.status, JSON.stringify(created.body)).toBe(201);
  expect((await admin('PUT', `/api/v1/queues/${QUEUE}/members`, { agent: AGENT.number, penalty: 0 })).status).toBeLessThan(300);
  expect((await admin('POST', '/api/v1/inbound-routes', { name: 'wallboard line', didPattern: DID, target: { kind: 'queue', queue: QUEUE } })).status).toBe(201);
  // *91 at the desk phone: agent number (ended by silence), PIN and '#'.
  const steps: CallerStep[] = [{ pause: 800 }, ...[...AGENT.number].map((digit) => ({ digit })), { pause: 3500 }, { pause: 800 }, ...[...`${AGENT.pin}#`].map((digit) => ({ digit }))];
  const login = await sippCall({ scenario: 'uac-long-call', scenarioFile: await dtmfScenario(steps, { waitForBye: true }), dialed: '*91', sipPort: world.sipPort, user: AGENT.phone, password, timeoutS: 60 });
  expect(login.code, login.output).toBe(0);
  await waitState('ready');
  // Paused, so the caller waits until the test makes the agent ready.
  expect((await admin('POST', `/api/v1/agents/${AGENT.number}/state`, { state: 'paused', pauseCode: 1 })).status).toBe(200);

  // allSettled: a browser that does not start is reported, and the one that did is still closed.
  const opened = await Promise.allSettled(BROWSERS.map((b) => openViewer(b.name, b.launch)));
  viewers = opened.flatMap((r) => (r.status === 'fulfilled' ? [r.value] : []));
  const failed = opened.flatMap((r, i) => (r.status === 'rejected' ? [`${BROWSERS[i]?.name}: ${String(r.reason)}`] : []));
  expect(failed).toEqual([]);
});

afterAll(async () => {
  await Promise.all(viewers.map((v) => v.browser.close()));
  for (const a of FLOOR_AGENTS) await admin?.('POST', `/api/v1/agents/${a.number}/state`, { state: 'logged-out' });
  for (const r of (await admin('GET', '/api/v1/inbound-routes')).body.items ?? []) if (r.didPattern === DID) await admin('DELETE', `/api/v1/inbound-routes/${r.id}`);
  await daemon?.stop();
  await writeFile(path.join(tmpdir(), 'pbx-e2e-wallboard-daemon.log'), (daemon?.logs ?? []).map((l) => JSON.stringify(l)).join('\n')).catch(() => undefined);
});

describe('the wallboard in Chromium and Firefox', () => {
  it('logs in with a token, then shows a waiting caller, the answered call and the agent on the call, live', async () => {
    const token = await cliToken(world.daemonEnv, 'supervisor');
    await inEach(async ({ page }) => {
      const res = await page.goto(`${base()}/wallboard`);
      expect(res?.headers()['content-security-policy']).toContain("script-src 'self'");
      await page.waitForSelector('#login:not([hidden])');
      await page.type('#token', token);
      await page.click('#login button[type=submit]');
      await page.waitForSelector(`[data-queue="${QUEUE}"]`, { timeout: 5_000 });
      await page.waitForFunction(() => document.getElementById('link')?.textContent === 'live', { timeout: 5_000 });
      await pageAgentState(page, 'paused');
      expect(page.url()).toBe(`${base()}/wallboard`); // the token is in no URL
      expect(await page.evaluate(() => sessionStorage.getItem('pbx-wallboard-token'))).toBe(token);
      await pageFigure(page, 'waiting', '0');
    });
    const answeredBefore = (await queueLive()).today.answered;
    await inEach(async ({ page }) => expect(await figure(page, 'answered')).toBe(String(answeredBefore)));

    // A caller joins and waits (the agent is paused).
    const caller: Promise<SippResult> = (async () =>
      sippCall({ scenario: 'uac-long-call', scenarioFile: await dtmfScenario([], { hangUpAfter: 14_000 }), dialed: DID, sipPort: world.sipPort, user: '4930222777', password: 'unused', localIp: CARRIER_IP, timeoutS: 60 }))();
    await eventually(async () => ((await queueLive()).waiting.length === 1 ? true : undefined), 10_000, 'the caller waits in the queue');
    await inEach(async ({ page }) => {
      await pageFigure(page, 'waiting', '1');
      // The longest wait ticks in the page (from the join time), without a request.
      await page.waitForFunction((q) => /^0:0[2-9]$/.test(document.querySelector(`[data-queue="${q}"] [data-figure="longest-wait"]`)?.textContent ?? ''), { timeout: 5_000 }, QUEUE);
    });
    await shot('1-waiting');

    // The agent is made ready; the desk phone answers after 300 ms.
    const port = await freePort(true);
    expect((await registerPhone({ sipPort: world.sipPort, ext: AGENT.phone, password, port })).code).toBe(0);
    const phone = await startPhone('phone-answer', port, path.join(tmpdir(), `pbx-e2e-wallboard-${AGENT.phone}-${port}.log`));
    expect((await admin('POST', `/api/v1/agents/${AGENT.number}/state`, { state: 'ready' })).status).toBe(200);
    await waitState('on-call');
    await inEach(async ({ page }) => {
      await Promise.all([pageAgentState(page, 'on-call'), pageFigure(page, 'waiting', '0'), pageFigure(page, 'answered', String(answeredBefore + 1))]);
      await page.waitForFunction((q) => document.querySelector(`[data-queue="${q}"] [data-agents="onCall"]`)?.textContent === 'on call 1', { timeout: PAGE_WITHIN_MS }, QUEUE);
    });
    await shot('2-answered');

    // The caller hangs up: the agent goes to wrap-up (30 s here).
    expect((await caller).code).toBe(0);
    await phone.done;
    await waitState('wrap-up');
    await inEach(({ page }) => pageAgentState(page, 'wrap-up'));
    await shot('3-wrap-up');
    expect(Object.fromEntries(viewers.map((v) => [v.name, v.errors]))).toEqual({ chromium: [], firefox: [] });
  });

  it('fits a floor of 4 queues and 24 agents on a 1920x1080 screen: no scrolling, full-size type', async () => {
    for (const [i, name] of FLOOR_QUEUES.entries()) {
      const q = await admin('POST', '/api/v1/queues', { name, strategy: 'longest-idle', joinEmpty: true, slSeconds: 20 + 10 * i, slPercent: 80 });
      expect(q.status, JSON.stringify(q.body)).toBe(201);
    }
    for (const [i, a] of FLOOR_AGENTS.entries()) {
      const desk = await admin('POST', '/api/v1/extensions', { number: a.phone, displayName: `${a.name} desk` });
      expect(desk.status, JSON.stringify(desk.body)).toBe(201);
      const created = await admin('POST', '/api/v1/agents', { number: a.number, name: a.name, pin: String(502_913 + 7 * i) });
      expect(created.status, JSON.stringify(created.body)).toBe(201);
      // Each in one queue, the first six in two (a floor's agents answer more than one queue).
      for (const queue of [FLOOR_QUEUES[i % 4], ...(i < 6 ? [FLOOR_QUEUES[(i + 1) % 4]] : [])]) {
        expect((await admin('PUT', `/api/v1/queues/${queue}/members`, { agent: a.number, penalty: 0 })).status).toBeLessThan(300);
      }
    }
    // Logged in as *91 at a desk phone leaves them (state ready at that phone): the API cannot log
    // an agent in (agents log in themselves at a phone), and 24 SIPp logins would add minutes for
    // nothing the page reads. The daemon takes the rows in by LISTEN (src/acd/store.ts).
    const db = openDb(world.db);
    try {
      for (const a of FLOOR_AGENTS) {
        await db.updateTable('agents').set({ state: 'ready', extension: a.phone, state_since: new Date(), idle_since: new Date() }).where('number', '=', a.number).execute();
      }
    } finally {
      await db.destroy();
    }
    const loggedIn = async () => ((await admin('GET', '/api/v1/agents/live')).body.items as { number: string; state: string }[]).filter((a) => a.number.startsWith('86') && a.state !== 'logged-out');
    await eventually(async () => ((await loggedIn()).length === 24 ? true : undefined), 10_000, '24 floor agents logged in');
    // A third on a break, at lunch or in a meeting (the state, with its reason, is the longest text).
    for (const [i, a] of FLOOR_AGENTS.entries()) {
      if (i % 3 === 2) expect((await admin('POST', `/api/v1/agents/${a.number}/state`, { state: 'paused', pauseCode: 1 + (i % 4) })).status).toBe(200);
    }

    const token = await cliToken(world.daemonEnv, 'viewer');
    await inEach(async (v) => {
      const { page } = v;
      await page.setViewport({ width: 1920, height: 1080 });
      await page.goto(`${base()}/wallboard?queues=${FLOOR_QUEUES.join(',')}`);
      if (await page.$('#login:not([hidden])')) {
        await page.type('#token', token);
        await page.click('#login button[type=submit]');
      }
      await page.waitForFunction((n) => [...document.querySelectorAll('#queues [data-queue]')].length === 4 && [...document.querySelectorAll('#agents [data-agent]')].length === n, { timeout: 10_000 }, FLOOR_AGENTS.length);
      await page.waitForFunction(() => [...document.querySelectorAll('#agents [data-field="state"]')].filter((e) => e.textContent?.startsWith('paused (')).length === 8, { timeout: PAGE_WITHIN_MS });
      const drawn = await page.evaluate(() => {
        const px = (selector: string) => [...document.querySelectorAll(selector)].map((e) => parseFloat(getComputedStyle(e).fontSize));
        // Nothing cut: every figure inside its card, every agent's state and time in full, and names
        // of up to 18 characters with the number (a longer name may end in '…', docs/wallboard.md).
        const cut = [
          ...[...document.querySelectorAll('#queues [data-figure], #queues [data-agents]')].filter((e) => e.getBoundingClientRect().right > (e.closest('.queue')?.getBoundingClientRect().right ?? 0)).map((e) => e.textContent),
          ...[...document.querySelectorAll('#agents td')].filter((e) => e.scrollWidth > e.clientWidth && (e.textContent ?? '').length <= 18).map((e) => e.textContent),
        ];
        const bottom = (selector: string) => Math.round([...document.querySelectorAll(selector)].reduce((y, e) => Math.max(y, e.getBoundingClientRect().bottom), 0));
        return {
          scrollHeight: document.scrollingElement?.scrollHeight ?? Infinity,
          scrollWidth: document.scrollingElement?.scrollWidth ?? Infinity,
          fit: document.documentElement.dataset['fit'],
          minFigurePx: Math.min(...px('#queues [data-figure], #queues [data-agents], #agents td')),
          minLabelPx: Math.min(...px('#queues .label, #queues h2, #agents td')),
          queueFigurePx: Math.min(...px('#queues [data-figure]')),
          bottoms: { queues: bottom('#queues .queue'), agents: bottom('#agents tr') },
          cut,
        };
      });
      console.log(`wallboard ${v.name} at 1920x1080, 4 queues, 24 agents: ${JSON.stringify(drawn)}`);
      await page.screenshot({ path: path.join(SHOTS, v.name, '4-floor-1920x1080.png'), fullPage: true });
      expect(drawn.scrollHeight).toBeLessThanOrEqual(1080);
      expect(drawn.scrollWidth).toBeLessThanOrEqual(1920);
      expect(drawn.fit).toBe('1'); // fits at full size, not by shrinking
      expect(drawn.minFigurePx).toBeGreaterThanOrEqual(MIN_FIGURE_PX);
      expect(drawn.minLabelPx).toBeGreaterThanOrEqual(MIN_LABEL_PX);
      expect(drawn.cut).toEqual([]);
    });
    expect(Object.fromEntries(viewers.map((v) => [v.name, v.errors]))).toEqual({ chromium: [], firefox: [] });
  });
});
