/**
 * A short day of a queue, end to end (#17): real SIPp calls into one queue, then its figures read
 * back over the HTTP API (docs/reporting.md) and checked against what the test did and timed on
 * its own clock.
 *
 * The queue: service level 5 s (target 80 %), short abandons under 3 s, wrap-up 1 s, a post-call
 * survey. Two agents on SIPp desk phones: 123 (penalty 0, offered first) declines its one offer and
 * is paused for it (missedOffersPause 1); 34 (penalty 1) takes the calls. Callers come through a
 * carrier (SIPp on 127.0.0.6):
 *   A  declined by 123 (a RONA), answered by 34 after 0.3 s, ~1.5 s talk  answered within SL
 *   B  34's phone rings 6.5 s before it answers, ~2 s of talk           answered after SL
 *   C  hangs up after 1 s of waiting (34 paused)                        short abandon
 *   D  hangs up after 4.5 s of waiting (34 paused)                      abandon
 *   E  34 talks 4 s and hangs up; the caller stays and presses 4        CSAT 100 %, 1 answer
 *   F  34 talks 1 s and blind-transfers the caller (REFER) to 6182     transferred
 *
 * The times come from the test's own clock and the agent phones' SIP traces (SIPp -trace_msg: when
 * the INVITE came, the 200 OK went, the BYE came or went). An answered call's wait lies between
 * the phone's own ringing (the caller joined before the phone was rung) and the time from placing
 * the call to the phone's 200 OK; its talk is the phone's 200 OK to its BYE. An abandon's wait lies
 * between the caller's `hangUpAfter` (the queue answers a caller at once when nobody is free) and
 * the time from placing the call to SIPp's exit. The report must fall in those bounds, widened by
 * the daemon's lag in stamping Asterisk's events (EVENT_LAG_S). (The queue answers a caller once
 * an agent's phone rings, so a caller's `hangUpAfter` counts the ringing too.)
 *
 * Agent numbers and PINs go in ascending pcap order within a login call (test/support/sipp-dtmf.ts).
 */
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { readFile, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { Daemon, eventually } from '../support/daemon.js';
import { registerPhone, sippCall, startBlindTransferPhone, startPhone, type SippResult } from '../support/sipp.js';
import { freePort } from '../support/ports.js';
import { apiClient, createScriptedExtension, startReadyDaemon } from '../support/pbx.js';
import { publishCsatSurvey } from '../support/survey-flow.js';
import { dtmfScenario, type CallerEnd, type CallerStep } from '../support/sipp-dtmf.js';

const world = inject('e2e');
const CARRIER_IP = '127.0.0.6';
const DID = '4930777060';
const QUEUE = 'reports-day';
const FLOW = 'reports-day-survey';
const TAKER = { number: '34', pin: '5689', phone: '6181' }; // penalty 1: takes the calls
const DECLINER = { number: '123', pin: '4679', phone: '6182' }; // penalty 0: offered first, declines (agent 13 is recording.test.ts's; one database for the e2e run; digits ascend across number and PIN, test/support/sipp-dtmf.ts)
const SL_SECONDS = 5;
const SHORT_ABANDON_SECONDS = 3;
const WRAP_UP_SECONDS = 1;
/** Wrap-up the test knows only by design: the daemon may measure up to this much more. */
const SLACK_S = 1;
/**
 * The daemon stamps an answer or a hang-up when Asterisk's event reaches it, which can be a little
 * after the SIP message the test's upper bound is measured from.
 */
const EVENT_LAG_S = 0.5;

let daemon: Daemon;
let admin: ReturnType<typeof apiClient>;
const passwords = new Map<string, string>();
const ports = new Map<string, number>();
let phoneRuns = 0;

/** Seconds that lie in [low, high], measured by the test. */
interface Bounds {
  low: number;
  high: number;
}

type Row = Record<string, unknown>;

/** When (ms, this machine's clock) the phone got the INVITE, sent its 200 OK, sent a REFER (if it did), and sent or got the BYE. */
interface PhoneTimes {
  invite: number;
  answered: number;
  refer: number | null;
  bye: number;
}

/**
 * A desk phone registers and waits for one call: startPhone's behaviours, or `{ transferTo }` (it
 * answers, talks 1 s and blind-transfers the caller there); `times` reads its SIP trace once it is done.
 */
async function deskPhone(ext: string, behaviour: 'phone-answer' | 'phone-decline' | 'phone-answer-hangup' | { transferTo: string }, o: { answerAfterMs?: number } = {}) {
  const port = ports.get(ext) ?? (await freePort(true));
  ports.set(ext, port);
  expect((await registerPhone({ sipPort: world.sipPort, ext, password: passwords.get(ext)!, port })).code).toBe(0);
  const logFile = path.join(tmpdir(), `pbx-e2e-reports-${ext}-${port}-${++phoneRuns}.log`);
  const phone = typeof behaviour === 'string' ? await startPhone(behaviour, port, logFile, o) : await startBlindTransferPhone(port, behaviour.transferTo, logFile);
  return { done: phone.done, times: traced(phone.done, logFile) };
}

/** Once the phone is done (and passed), the times of its SIP trace. */
function traced(done: Promise<SippResult>, logFile: string): () => Promise<PhoneTimes> {
  return async () => {
    const result = await done;
    expect(result.code, result.output).toBe(0);
    return phoneTimes(await readFile(`${logFile}.msg`, 'utf8'));
  };
}

/**
 * The times in a SIPp message trace: blocks that start with a line of dashes and the local time
 * ("----- 2026-12-06 08:48:14.510471"), then "UDP message sent|received", then the message.
 */
function phoneTimes(trace: string): PhoneTimes {
  const blocks = trace.split(/^-{20,} (\d{4}-\d{2}-\d{2}) (\d{2}:\d{2}:\d{2}\.\d{3})\d*$/m).slice(1);
  const seen: { at: number; first: string; cseq: string }[] = [];
  for (let i = 0; i + 2 < blocks.length; i += 3) {
    const text = blocks[i + 2] ?? '';
    const first = text.split('\n').map((l) => l.trim()).find((l) => /^(SIP\/2\.0 \d{3}|[A-Z]+ sip:)/.test(l)) ?? '';
    seen.push({ at: new Date(`${blocks[i]}T${blocks[i + 1]}`).getTime(), first, cseq: /^CSeq:\s*(.*)$/m.exec(text)?.[1] ?? '' });
  }
  const at = (what: string, test: (m: (typeof seen)[number]) => boolean) => {
    const m = seen.find(test);
    if (!m) throw new Error(`no ${what} in the phone's trace:\n${trace.slice(0, 2000)}`);
    return m.at;
  };
  return {
    invite: at('INVITE', (m) => m.first.startsWith('INVITE ')),
    answered: at('200 OK to the INVITE', (m) => m.first.startsWith('SIP/2.0 200') && m.cseq.endsWith('INVITE')),
    refer: seen.find((m) => m.first.startsWith('REFER '))?.at ?? null,
    bye: at('BYE', (m) => m.first.startsWith('BYE ')),
  };
}

/** A caller through the carrier to the queue's DID: placed at t0, ended (SIPp exited) at t1. */
async function customer(steps: CallerStep[], end: CallerEnd): Promise<SippResult & { t0: number; t1: number }> {
  const scenarioFile = await dtmfScenario(steps, end);
  const t0 = Date.now();
  const res = await sippCall({ scenario: 'uac-long-call', scenarioFile, dialed: DID, sipPort: world.sipPort, user: '4930222999', password: 'unused', localIp: CARRIER_IP, timeoutS: 60 });
  return { ...res, t0, t1: Date.now() };
}

const stateOf = async (number: string) => (await admin('GET', `/api/v1/agents/${number}`)).body.state as string;
const waitState = (number: string, state: string) => eventually(async () => ((await stateOf(number)) === state ? true : undefined), 15_000, `agent ${number} ${state}`);

/** A whole-hour zone (Etc/GMT±n) where it is between 06:00 and 18:00 now, so the test's calls fall in one local day. */
function zoneAtNoon(now: Date): string {
  const offset = 12 - now.getUTCHours(); // local = UTC + offset, -11..12
  return offset === 0 ? 'Etc/UTC' : `Etc/GMT${offset > 0 ? '-' : '+'}${Math.abs(offset)}`; // Etc/GMT-n is UTC+n
}

/** GET a report; its rows. */
async function report(url: string): Promise<Row[]> {
  const res = await admin('GET', url);
  expect(res.status, `${url}: ${JSON.stringify(res.body)}`).toBe(200);
  return res.body.items as Row[];
}

/** `actual` (one decimal, as reported) lies in the measured bounds. */
function expectWithin(actual: unknown, b: Bounds, what: string): void {
  expect(typeof actual, `${what}: ${String(actual)}`).toBe('number');
  const v = actual as number;
  expect(v >= b.low - 0.05 && v <= b.high + 0.05, `${what}: reported ${v}, expected ${b.low.toFixed(2)}..${b.high.toFixed(2)}`).toBe(true);
}

const mean = (bs: Bounds[]): Bounds => ({ low: bs.reduce((s, b) => s + b.low, 0) / bs.length, high: bs.reduce((s, b) => s + b.high, 0) / bs.length });
const sum = (bs: Bounds[]): Bounds => ({ low: bs.reduce((s, b) => s + b.low, 0), high: bs.reduce((s, b) => s + b.high, 0) });
const designed = (s: number): Bounds => ({ low: s, high: s + SLACK_S });
const s = (ms: number) => ms / 1000;

beforeAll(async () => {
  ({ daemon, admin } = await startReadyDaemon(world.daemonEnv));
  for (const [a, name] of [[TAKER, 'Report Desk One'], [DECLINER, 'Report Desk Two']] as const) {
    passwords.set(a.phone, await createScriptedExtension(admin, world.db, { number: a.phone, displayName: name }));
  }
  const trunk = await admin('POST', '/api/v1/trunks', { name: 'reports-carrier', kind: 'ip', host: CARRIER_IP, port: await freePort(true), codecs: ['ulaw'] });
  expect(trunk.status, JSON.stringify(trunk.body)).toBe(201);
  await publishCsatSurvey(admin, FLOW);
  const q = await admin('POST', '/api/v1/queues', {
    name: QUEUE, strategy: 'longest-idle', ringTimeoutSeconds: 15, wrapUpSeconds: WRAP_UP_SECONDS, missedOffersPause: 1, announceSeconds: 0,
    slSeconds: SL_SECONDS, slPercent: 80, shortAbandonSeconds: SHORT_ABANDON_SECONDS, surveyFlow: FLOW,
  });
  expect(q.status, JSON.stringify(q.body)).toBe(201);
  for (const [a, penalty] of [[TAKER, 1], [DECLINER, 0]] as const) {
    const created = await admin('POST', '/api/v1/agents', { number: a.number, name: `Agent ${a.number}`, pin: a.pin });
    expect(created.status, JSON.stringify(created.body)).toBe(201);
    expect((await admin('PUT', `/api/v1/queues/${QUEUE}/members`, { agent: a.number, penalty })).status).toBeLessThan(300);
  }
  expect((await admin('POST', '/api/v1/inbound-routes', { name: 'reports line', didPattern: DID, target: { kind: 'queue', queue: QUEUE } })).status).toBe(201);
  // Both agents log in at once: *91, agent number (ended by silence), PIN and '#'.
  await Promise.all([TAKER, DECLINER].map(async (a) => {
    const steps: CallerStep[] = [{ pause: 800 }, ...[...a.number].map((digit) => ({ digit })), { pause: 3500 }, { pause: 800 }, ...[...`${a.pin}#`].map((digit) => ({ digit }))];
    const login = await sippCall({ scenario: 'uac-long-call', scenarioFile: await dtmfScenario(steps, { waitForBye: true }), dialed: '*91', sipPort: world.sipPort, user: a.phone, password: passwords.get(a.phone)!, timeoutS: 60 });
    expect(login.code, login.output).toBe(0);
    await waitState(a.number, 'ready');
  }));
});

afterAll(async () => {
  for (const r of (await admin('GET', '/api/v1/inbound-routes')).body.items ?? []) if (r.didPattern === DID) await admin('DELETE', `/api/v1/inbound-routes/${r.id}`);
  await daemon?.stop();
  await writeFile(path.join(tmpdir(), 'pbx-e2e-reports-day-daemon.log'), (daemon?.logs ?? []).map((l) => JSON.stringify(l)).join('\n')).catch(() => undefined);
});

describe('a short day of a queue, reported', () => {
  it('answered in and after the service level, abandoned before and after the threshold, surveyed: the figures match the calls', async () => {
    const tz = zoneAtNoon(new Date());
    const from = new Date(Math.floor(Date.now() / 1000) * 1000 - 1000).toISOString().replace('.000Z', 'Z');

    // An answered call as the phone saw it: its wait (from the caller placing the call at t0) and talk.
    const answeredCall = (t0: number, p: PhoneTimes) => ({
      wait: { low: s(p.answered - p.invite), high: s(p.answered - t0) + EVENT_LAG_S },
      talk: { low: s(p.bye - p.answered) - EVENT_LAG_S, high: s(p.bye - p.answered) + EVENT_LAG_S },
      ringing: s(p.answered - p.invite),
    });

    // A: 123 declines (RONA, then paused), 34 answers after 300 ms. The queue answers the caller
    // when an agent's phone rings, so the caller's 2 s include that ringing.
    const declining = await deskPhone(DECLINER.phone, 'phone-decline');
    let taking = await deskPhone(TAKER.phone, 'phone-answer');
    const a = await customer([], { hangUpAfter: 2_000 });
    expect(a.code, a.output).toBe(0);
    expect((await declining.done).code).toBe(0);
    const callA = answeredCall(a.t0, await taking.times());
    await waitState(DECLINER.number, 'paused');
    await waitState(TAKER.number, 'ready'); // wrap-up over

    // B: 34's phone rings 6.5 s (more than the 5 s of the service level), then about 2 s of talk.
    taking = await deskPhone(TAKER.phone, 'phone-answer', { answerAfterMs: 6_500 });
    const b = await customer([], { hangUpAfter: 8_500 });
    expect(b.code, b.output).toBe(0);
    const callB = answeredCall(b.t0, await taking.times());
    await waitState(TAKER.number, 'ready');

    // C and D: nobody ready (34 paused, 123 paused by its miss); both callers wait, then hang up.
    const pauseAsked = Date.now();
    expect((await admin('POST', `/api/v1/agents/${TAKER.number}/state`, { state: 'paused', pauseCode: 1 })).status).toBe(200);
    const paused = Date.now();
    const [c, d] = await Promise.all([customer([], { hangUpAfter: 1_000 }), customer([], { hangUpAfter: 4_500 })]);
    expect(c.code, c.output).toBe(0);
    expect(d.code, d.output).toBe(0);
    const readyAsked = Date.now();
    expect((await admin('POST', `/api/v1/agents/${TAKER.number}/state`, { state: 'ready' })).status).toBe(200);
    const pausedFor: Bounds = { low: s(readyAsked - paused), high: s(Date.now() - pauseAsked) };
    // Answered at once by the queue (nobody free), so the wait is the time to the hang-up.
    const waitC: Bounds = { low: 1, high: s(c.t1 - c.t0) + EVENT_LAG_S };
    const waitD: Bounds = { low: 4.5, high: s(d.t1 - d.t0) + EVENT_LAG_S };

    // E: 34 answers after 300 ms, talks 4 s and hangs up; the caller is asked the question and presses 4.
    taking = await deskPhone(TAKER.phone, 'phone-answer-hangup');
    const e = await customer([{ pause: 8_000 }, { digit: '4' }], { waitForBye: true });
    expect(e.code, e.output).toBe(0); // the survey flow hung up after the answer
    const callE = answeredCall(e.t0, await taking.times());
    await waitState(TAKER.number, 'ready');

    // F: 34 answers after 300 ms, talks 1 s and blind-transfers the caller to the desk phone 6182,
    // which answers; the caller hangs up there. 34's talk ends with the transfer.
    const target = await deskPhone(DECLINER.phone, 'phone-answer');
    const transferring = await deskPhone(TAKER.phone, { transferTo: DECLINER.phone });
    const f = await customer([], { hangUpAfter: 4_000 });
    expect(f.code, f.output).toBe(0);
    expect((await target.done).code).toBe(0); // the transfer reached it
    const fPhone = await transferring.times();
    expect(fPhone.refer, 'the REFER in the phone trace').not.toBeNull();
    const callF = { ...answeredCall(f.t0, fPhone), talk: { low: s(fPhone.refer! - fPhone.answered) - EVENT_LAG_S, high: s(fPhone.bye - fPhone.answered) + EVENT_LAG_S } };
    await waitState(TAKER.number, 'ready');

    // What the test did.
    const [waitA, waitB, waitE, waitF] = [callA.wait, callB.wait, callE.wait, callF.wait];
    const answeredWaits = [waitA, waitB, waitE, waitF];
    const allWaits = [...answeredWaits, waitC, waitD];
    const talk = [callA.talk, callB.talk, callE.talk, callF.talk];
    const wrapUp = talk.map(() => designed(WRAP_UP_SECONDS));
    // The calls were what they were meant to be (else the machine was too slow for this test).
    expect(waitC.high, 'C under the short-abandon threshold').toBeLessThan(SHORT_ABANDON_SECONDS);
    expect(waitD.low, 'D past it').toBeGreaterThanOrEqual(SHORT_ABANDON_SECONDS);
    expect(waitA.high, 'A within the service level').toBeLessThanOrEqual(SL_SECONDS);
    expect(waitE.high, 'E within the service level').toBeLessThanOrEqual(SL_SECONDS);
    expect(waitF.high, 'F within the service level').toBeLessThanOrEqual(SL_SECONDS);
    expect(waitB.low, 'B after it').toBeGreaterThan(SL_SECONDS);

    // The day (one row: the zone puts the test near local noon).
    const q = `queue=${QUEUE}&tz=${encodeURIComponent(tz)}`;
    const dayRows = await eventually(async () => {
      const rows = await report(`/api/v1/reports/queues?${q}&from=${encodeURIComponent(from)}&interval=day`);
      return rows[0]?.['surveysAsked'] === 1 ? rows : undefined; // the survey answer is stored
    }, 10_000, 'the survey answer in the report');
    expect(dayRows).toHaveLength(1);
    const day = dayRows[0]!;
    process.stderr.write(`[reports-day] ${tz} ${JSON.stringify(day)}\n` +
      `[reports-day] measured waits A B E F C D ${JSON.stringify(allWaits)} talks A B E F ${JSON.stringify(talk)} 34 paused ${JSON.stringify(pausedFor)}\n`);
    expect(day).toMatchObject({
      queue: QUEUE,
      offered: 6, answered: 4, shortAbandoned: 1, abandoned: 1, overflowed: 0, timedOut: 0, callbacksRequested: 0, waiting: 0,
      abandonRatePercent: 20, // 1 / (6 - 1 short)
      answeredWithinSl: 3, slCalls: 5, serviceLevelPercent: 60, slSeconds: SL_SECONDS, slTargetPercent: 80, slMet: false, // A, E, F of A, B, E, F, D
      handled: 4, transferred: 1, transferRatePercent: 25,
      fcrCalls: 0, fcrPending: 4, // the 24 h window of each answer is still open
      surveysAsked: 1, csatResponses: 1, csatPercent: 100, npsResponses: 0, nps: null,
    });
    expectWithin(day['asaSeconds'], mean(answeredWaits), 'ASA');
    expectWithin(day['avgWaitSeconds'], mean(allWaits), 'average wait');
    expectWithin(day['maxWaitSeconds'], { low: Math.max(...allWaits.map((w) => w.low)), high: Math.max(...allWaits.map((w) => w.high)) }, 'max wait');
    expectWithin(day['avgAbandonSeconds'], waitD, 'average abandon (short left out)');
    expectWithin(day['avgTalkSeconds'], mean(talk), 'average talk');
    expect(day['avgHoldSeconds']).toBe(0);
    expectWithin(day['avgWrapUpSeconds'], mean(wrapUp), 'average wrap-up');
    expectWithin(day['ahtSeconds'], { low: mean(talk).low + mean(wrapUp).low, high: mean(talk).high + mean(wrapUp).high }, 'AHT');
    expect(Math.abs((day['ahtSeconds'] as number) - (day['avgTalkSeconds'] as number) - (day['avgWrapUpSeconds'] as number))).toBeLessThanOrEqual(0.15);

    // By 15 minutes: the quarters (one or two) add up to the day.
    const quarters = await report(`/api/v1/reports/queues?${q}&from=${encodeURIComponent(from)}&interval=15m`);
    expect(quarters.length).toBeGreaterThanOrEqual(1);
    expect(quarters.length).toBeLessThanOrEqual(2);
    for (const k of ['offered', 'answered', 'shortAbandoned', 'abandoned', 'answeredWithinSl', 'slCalls', 'handled', 'transferred', 'csatResponses']) {
      expect(quarters.reduce((n, r) => n + (r[k] as number), 0), k).toBe(day[k]);
    }

    // Live: the queue is this test's alone, so the last 15 and 60 minutes and today are the day.
    const live = await report(`/api/v1/reports/queues/live?${q}`);
    expect(live.map((r) => r['window'])).toEqual(['last-15m', 'last-60m', 'today']);
    const figures = (row: Row) => Object.fromEntries(Object.entries(row).filter(([k]) => !['from', 'to', 'window'].includes(k)));
    for (const row of live) expect(figures(row), String(row['window'])).toEqual(figures(day));

    // The agents.
    const agents = await report(`/api/v1/reports/agents?agent=${TAKER.number},${DECLINER.number}&tz=${encodeURIComponent(tz)}&from=${encodeURIComponent(from)}&interval=day`);
    const taker = agents.find((r) => r['agent'] === TAKER.number)!;
    const decliner = agents.find((r) => r['agent'] === DECLINER.number)!;
    process.stderr.write(`[reports-day] agents ${JSON.stringify(agents)}\n`);
    expect(agents).toHaveLength(2);
    expect(taker).toMatchObject({ answered: 4, missed: 0, transfers: 1, handled: 4, holdSeconds: 0, csatResponses: 1, csatPercent: 100 });
    expect(decliner).toMatchObject({ answered: 0, missed: 1, transfers: 0, handled: 0, csatResponses: 0, csatPercent: null });
    expectWithin(taker['talkSeconds'], sum(talk), "34's talk");
    expectWithin(taker['wrapUpSeconds'], sum(wrapUp), "34's wrap-up");
    expectWithin(taker['ahtSeconds'], { low: mean(talk).low + mean(wrapUp).low, high: mean(talk).high + mean(wrapUp).high }, "34's AHT");
    expectWithin(taker['pausedSeconds'], pausedFor, "34's pause for C and D");
    // 34 was reserved while its phone rang (0.3 + 6.5 + 0.3 + 0.3 s), and on the calls for their talk.
    expect(taker['ringingSeconds'] as number).toBeGreaterThanOrEqual(callA.ringing + callB.ringing + callE.ringing + callF.ringing - 0.1);
    expect(Math.abs((taker['onCallSeconds'] as number) - (taker['talkSeconds'] as number))).toBeLessThanOrEqual(1);
    // Every logged-in second is in one state.
    for (const r of agents) {
      const states = ['readySeconds', 'ringingSeconds', 'onCallSeconds', 'wrapUpStateSeconds', 'pausedSeconds'].reduce((n, k) => n + (r[k] as number), 0);
      expect(Math.abs(states - (r['loggedInSeconds'] as number)), `agent ${String(r['agent'])}'s states`).toBeLessThanOrEqual(0.3);
    }
    // 123 was paused for its miss (reason 0) from call A to now.
    expect((decliner['paused'] as { code: number | null }[]).map((p) => p.code)).toEqual([0]);
  });
});
