/**
 * Campaign faults with real parts (docs/campaigns.md#faults): the built daemon runs agentless
 * campaigns (the contacts who answer hear a flow) through the real Asterisk to a SIPp carrier whose
 * contacts act by their number's last digit (test/e2e/sipp/campaign-contacts.xml: 1 talks until hung
 * up, 2 busy, 3 rings on, 4 talks 8 s), and
 *
 * - the daemon is SIGKILLed while three calls ring, then started again: the campaign goes on from
 *   where it was, and every contact was dialed exactly as often as its attempts say (the INVITEs the
 *   carrier got per number against campaign_attempts): none twice, none lost;
 * - Asterisk is stopped during a call (the contact in the flow) with contacts due, then started:
 *   the attempts that could not be placed are `failed` and due again by the failed rule (1 minute
 *   later); made due, they are placed once each; nothing is dialed twice.
 *
 * Numbers used by no other e2e file: carrier 127.0.0.16 (trunk campaign-faults), contacts
 * +4930667xxx, flows campaign-faults-message and campaign-faults-menu. No agent: agentless campaigns need none.
 */
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { Daemon, eventually } from '../support/daemon.js';
import { cliToken } from '../support/api.js';
import { apiClient, startReadyDaemon } from '../support/pbx.js';
import { asteriskInstance } from '../support/asterisk.js';
import { zoneAtLocalHour } from '../support/zones.js';
import { campaignViews, importCsv, publishFlow, startContactsCarrier, type ContactsCarrier, type Row } from '../support/campaign-e2e.js';
import { openDb } from '../support/db.js';

const world = inject('e2e');
const CARRIER_IP = '127.0.0.16';
const TRUNK = 'campaign-faults';
const FLOW = 'campaign-faults-message';
/** A flow that holds the contact 30 s (a menu waiting for a key). */
const LONG_FLOW = 'campaign-faults-menu';
const run = Date.now().toString(36).slice(-5);

let daemon: Daemon | null = null;
/** Every daemon of the file, the killed ones too (their logs say which attempts they could not place). */
const daemons: Daemon[] = [];
let admin: ReturnType<typeof apiClient>;
let token = '';
let carrier: ContactsCarrier;
const campaigns: string[] = [];

async function startDaemon(): Promise<Daemon> {
  const started = await startReadyDaemon(world.daemonEnv);
  daemons.push(started.daemon);
  admin = started.admin;
  return started.daemon;
}

async function createCampaign(fields: Record<string, unknown>): Promise<string> {
  const created = await admin('POST', '/api/v1/campaigns', {
    name: `faults-${run}-${campaigns.length}`, mode: 'agentless', flow: FLOW, trunk: TRUNK, callerId: '+4930999400', callerName: 'Faults Co',
    defaultCountry: 'DE', timeZone: 'Europe/Berlin', ringSeconds: 15, window: { start: '08:00', end: '21:00', days: [1, 2, 3, 4, 5, 6, 7] }, ...fields,
  });
  expect(created.status, JSON.stringify(created.body)).toBe(201);
  const id = String(created.body.id);
  campaigns.push(id);
  return id;
}

const csvOf = (numbers: readonly string[]): string => ['number,name,timezone', ...numbers.map((n, i) => `${n},Contact ${i},${zoneAtLocalHour(12)}`)].join('\n');

/** Attempts no daemon handed to Asterisk (the originate failed: 'campaign call not placed'). */
const notPlaced = (): Set<string> => new Set(daemons.flatMap((d) => d.logs.filter((l) => l.msg === 'campaign call not placed').map((l) => String(l['attempt']))));

/**
 * Each number: the INVITEs the carrier got == the attempts dialed and handed to Asterisk; every
 * attempt ended. Returns the attempts by number.
 */
async function expectDialedAsRecorded(attempts: readonly Row[], numbers: readonly string[]): Promise<Map<string, Row[]>> {
  const skipped = notPlaced();
  const byNumber = new Map<string, Row[]>();
  for (const n of numbers) {
    const mine = attempts.filter((a) => a.number === n);
    byNumber.set(n, mine);
    for (const a of mine) expect(a.state, `${n} ${JSON.stringify(a)}`).toBe('ended');
    const placed = mine.filter((a) => a.dialedAt !== null && !skipped.has(String(a.id))).length;
    expect(await carrier.timesDialed(n), `${n}: INVITEs against attempts placed ${JSON.stringify(mine)}`).toBe(placed);
  }
  return byNumber;
}

beforeAll(async () => {
  daemon = await startDaemon();
  token = await cliToken(world.daemonEnv, 'admin');
  carrier = await startContactsCarrier(CARRIER_IP, 'campaign-faults');
  const trunk = await admin('POST', '/api/v1/trunks', { name: TRUNK, kind: 'ip', host: CARRIER_IP, port: carrier.port, codecs: ['ulaw'] });
  expect(trunk.status, JSON.stringify(trunk.body)).toBe(201);
  await publishFlow(admin, FLOW);
  await publishFlow(admin, LONG_FLOW, 'menu', {
    menu: { kind: 'menu', prompt: { sound: 'hello-world' }, options: { '1': 'bye' }, timeoutMs: 30_000, maxRetries: 0, fallback: 'bye' },
    bye: { kind: 'hangup' },
  });
}, 120_000);

afterAll(async () => {
  for (const id of campaigns) await admin?.('POST', `/api/v1/campaigns/${id}/stop`).catch(() => undefined);
  carrier?.kill();
  await daemon?.stop();
  // For a failed run: what each daemon said.
  for (const [i, d] of daemons.entries()) await writeFile(path.join(tmpdir(), `pbx-e2e-campaign-faults-daemon-${run}-${i}.log`), d.logs.map((l) => JSON.stringify(l)).join('\n')).catch(() => undefined);
});

describe('campaign faults', () => {
  it('the daemon killed (-9) while three calls ring: the next daemon goes on, every contact dialed exactly as its attempts say', async () => {
    const id = await createCampaign({
      pacing: { mode: 'fixed', level: 3 },
      retryRules: { 'no-answer': { delayMinutes: 30, maxAttempts: 1 }, busy: { delayMinutes: 30, maxAttempts: 1 }, failed: { delayMinutes: 30, maxAttempts: 1 } },
    });
    // The first three ring on (the dialer's three lines); the rest answer (and hear the flow) or are busy.
    const ringing = ['+4930667103', '+4930667113', '+4930667123'];
    const numbers = [...ringing, '+4930667101', '+4930667102', '+4930667111', '+4930667112', '+4930667104'];
    await importCsv(world.daemonEnv, token, admin, id, csvOf(numbers));
    const v = campaignViews(admin, id);
    expect((await admin('POST', `/api/v1/campaigns/${id}/start`)).status).toBe(200);
    await eventually(async () => ((await Promise.all(ringing.map((n) => carrier.timesDialed(n)))).every((x) => x === 1) ? true : undefined), 20_000, 'three lines ringing');
    await daemon!.kill();
    const killedAt = Date.now();
    daemon = await startDaemon();

    await eventually(async () => ((await admin('GET', `/api/v1/campaigns/${id}`)).body.state === 'finished' ? true : undefined), 110_000, 'campaign finished after the restart');
    const attempts = await v.attempts();
    const byNumber = await expectDialedAsRecorded(attempts, numbers);
    for (const n of numbers) expect(byNumber.get(n)!.length, n).toBe(1);
    // What each became: the ringing ones ended by the next daemon (it heard their originate's end,
    // or found their channel gone), the rest as they behaved.
    const outcome = (n: string) => byNumber.get(n)![0]!.outcome;
    for (const n of ringing) expect(['no-answer', 'failed'], n).toContain(outcome(n));
    for (const n of ['+4930667101', '+4930667111', '+4930667104']) expect(outcome(n), n).toBe('human');
    for (const n of ['+4930667102', '+4930667112']) expect(outcome(n), n).toBe('busy');
    // The contacts not dialed before the kill were dialed by the next daemon.
    for (const n of numbers.slice(3)) expect(Date.parse(String(byNumber.get(n)![0]!.dialedAt)), n).toBeGreaterThan(killedAt);
    expect(await v.today()).toMatchObject({ attempts: 8, liveAnswers: 3, abandons: 0 });
    process.stderr.write(`[campaign-faults] after the kill: ringing ones ended ${ringing.map((n) => `${String(outcome(n))} at +${Date.parse(String(byNumber.get(n)![0]!.endedAt)) - killedAt} ms`).join(', ')}\n`);
  }, 150_000);

  it('Asterisk stopped during a call, with contacts due: those attempts fail and are retried by the failed rule once it is back; nothing dialed twice', async () => {
    const id = await createCampaign({
      flow: LONG_FLOW,
      pacing: { mode: 'fixed', level: 3 },
      retryRules: { failed: { delayMinutes: 1, maxAttempts: 3 }, busy: { delayMinutes: 30, maxAttempts: 1 } },
    });
    const v = campaignViews(admin, id);
    // A contact is in the campaign's flow (a menu that waits 30 s) when Asterisk goes away; another
    // lives where it is night (called in the morning), so the campaign is not over when the first is.
    await importCsv(world.daemonEnv, token, admin, id, `${csvOf(['+4930667301'])}\n+4930667391,Night Owl,${zoneAtLocalHour(3)}`);
    expect((await admin('POST', `/api/v1/campaigns/${id}/start`)).status).toBe(200);
    await eventually(async () => ((await v.attemptsOf('+4930667301'))[0]?.state === 'answered' ? true : undefined), 20_000, 'the first contact in the flow');
    const stoppedAt = Date.now();
    await asteriskInstance('stop', world.asteriskEnv);
    // Contacts due while it is down: each dialed, not placed, failed, due again 1 minute later.
    const due = ['+4930667302', '+4930667312', '+4930667322'];
    await importCsv(world.daemonEnv, token, admin, id, csvOf(due));
    await eventually(async () => ((await Promise.all(due.map((n) => v.contact(n)))).every((c) => c.lastOutcome === 'failed') ? true : undefined), 20_000, 'the due contacts failed');
    for (const n of due) {
      const [a] = await v.attemptsOf(n);
      expect(a, n).toMatchObject({ state: 'ended', outcome: 'failed', ringMs: null });
      expect(notPlaced().has(String(a!.id)), n).toBe(true);
      const c = await v.contact(n);
      expect(c, n).toMatchObject({ state: 'ready', attempts: 1 });
      const delay = Date.parse(String(c.nextAttemptAt)) - Date.parse(String(a!.endedAt));
      expect(delay, n).toBeGreaterThanOrEqual(60_000 - 1000);
      expect(delay, n).toBeLessThanOrEqual(60_000 + 1000);
    }
    expect(await v.today()).toMatchObject({ attempts: 4 });
    await asteriskInstance('start', world.asteriskEnv);
    process.stderr.write(`[campaign-faults] Asterisk down ${Date.now() - stoppedAt} ms\n`);
    await eventually(async () => ((await fetch(`http://127.0.0.1:${world.daemonEnv['PBX_HTTP_PORT']}/health/ready`)).status === 200 ? true : undefined), 30_000, 'ready again');

    // Their retries, made due now (the rule's minute was checked above): placed once each now that
    // Asterisk is back (busy, and that was their last try); the call cut off by the outage ended as
    // a person served (no retry: they heard the flow).
    const db = openDb(world.db);
    try {
      await db.updateTable('campaign_contacts').set({ next_attempt_at: new Date(Date.now() - 1000) }).where('campaign_id', '=', id).where('number', 'in', due).execute();
    } finally {
      await db.destroy();
    }
    const backAt = Date.now();
    await eventually(async () => {
      const contacts = await Promise.all(['+4930667301', ...due].map((n) => v.contact(n)));
      return contacts.every((c) => c.state === 'done' || c.state === 'exhausted') ? true : undefined;
    }, 90_000, 'every contact of the day done or exhausted');
    const byNumber = await expectDialedAsRecorded(await v.attempts(), ['+4930667301', '+4930667391', ...due]);
    expect(byNumber.get('+4930667391')).toHaveLength(0);
    for (const n of due) {
      const [second, first] = byNumber.get(n)!;
      expect(byNumber.get(n), n).toHaveLength(2);
      expect(second, n).toMatchObject({ outcome: 'busy' });
      expect(first, n).toMatchObject({ outcome: 'failed' });
      expect(Date.parse(String(second!.dialedAt)), n).toBeGreaterThan(backAt - 1000);
      expect(await carrier.timesDialed(n), n).toBe(1);
      expect(await v.contact(n), n).toMatchObject({ state: 'exhausted', attempts: 2 });
    }
    const cut = byNumber.get('+4930667301')!;
    process.stderr.write(`[campaign-faults] the call cut off by the outage ended ${Date.parse(String(cut[0]!.endedAt)) - stoppedAt} ms after the stop\n`);
    expect(cut).toHaveLength(1);
    expect(cut[0]).toMatchObject({ outcome: 'human' });
    expect(await v.today()).toMatchObject({ attempts: 7, liveAnswers: 1, abandons: 0 });
  }, 180_000);
});
