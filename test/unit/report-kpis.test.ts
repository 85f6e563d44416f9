import { describe, expect, it } from 'vitest';
import type { QueueEventType } from '../../src/acd/tables.js';
import { agentKpis, type AgentEventFact, type StateChange } from '../../src/reports/agent-kpis.js';
import { queueKpis, type CallerJoin, type QueueEventFact, type QueueReportSettings } from '../../src/reports/queue-kpis.js';
import type { SurveyFact } from '../../src/reports/kpi-math.js';

const T0 = Date.parse('2026-06-01T10:00:00Z');
const S = 1000;
const M = 60 * S;
const H = 60 * M;
/** Two 15-minute intervals from T0. */
const TWO = [{ start: T0, end: T0 + 15 * M }, { start: T0 + 15 * M, end: T0 + 30 * M }];
const ONE = [TWO[0]!];
const DEFAULTS: QueueReportSettings = { slSeconds: 20, slPercent: 80, shortAbandonSeconds: 5, slExcludeShortAbandons: true, slCountAbandons: true, fcrWindowHours: 24 };
const LATER = T0 + 48 * H;

const ev = (callId: string, type: QueueEventType, at: number, more: Partial<QueueEventFact> = {}): QueueEventFact => ({
  at, callId, type, agentId: null, callerNumber: null, waitMs: null, talkMs: null, holdMs: null, wrapUpMs: null, ...more,
});
/** A call joining at `at`, answered after `waitS`, talking/holding/wrapping up as given. */
function answered(id: string, at: number, waitS: number, parts = { talk: 60, hold: 0, wrap: 10 }, caller: string | null = null): QueueEventFact[] {
  const ans = at + waitS * S;
  const end = ans + (parts.talk + parts.hold + parts.wrap) * S;
  return [
    ev(id, 'join', at, { callerNumber: caller }),
    ev(id, 'offer', ans - 2 * S, { agentId: '1' }),
    ev(id, 'answer', ans, { agentId: '1', waitMs: waitS * S }),
    ev(id, 'end', end, { agentId: '1', talkMs: parts.talk * S, holdMs: parts.hold * S, wrapUpMs: parts.wrap * S }),
  ];
}
const left = (id: string, type: QueueEventType, at: number, waitS: number, caller: string | null = null): QueueEventFact[] => [
  ev(id, 'join', at, { callerNumber: caller }),
  ev(id, type, at + waitS * S, { waitMs: waitS * S }),
];
const run = (events: QueueEventFact[], more: { settings?: Partial<QueueReportSettings>; surveys?: SurveyFact[]; laterJoins?: CallerJoin[]; intervals?: typeof TWO; now?: number } = {}) =>
  queueKpis({ intervals: more.intervals ?? ONE, events, surveys: more.surveys ?? [], laterJoins: more.laterJoins ?? [], settings: { ...DEFAULTS, ...more.settings }, now: more.now ?? LATER });

describe('queue KPIs', () => {
  it('offered, answered, abandoned, short abandons apart, overflow, timeout, callbacks, waiting', () => {
    const [k] = run([
      ...answered('a1', T0, 10),
      ...answered('a2', T0 + M, 30),
      ...left('b1', 'abandon', T0 + 2 * M, 3), // short (< 5 s)
      ...left('b2', 'abandon', T0 + 3 * M, 5), // not short: 5 s is not under 5 s
      ...left('b3', 'abandon', T0 + 4 * M, 40),
      ...left('o1', 'overflow', T0 + 5 * M, 0),
      ...left('t1', 'timeout', T0 + 6 * M, 600),
      ...left('c1', 'callback-requested', T0 + 7 * M, 120),
      ev('w1', 'join', T0 + 14 * M),
    ]);
    expect(k).toMatchObject({ offered: 9, answered: 2, shortAbandoned: 1, abandoned: 2, overflowed: 1, timedOut: 1, callbacksRequested: 1, waiting: 1 });
    // abandoned / (offered - short) = 2 / 8
    expect(k!.abandonRatePercent).toBe(25);
  });

  it('service level: answered within T (inclusive) over answered + abandons + overflow + timeout; short abandons and callbacks left out', () => {
    const events = [
      ...answered('a1', T0, 20), // within (20 s is within 20 s)
      ...answered('a2', T0, 21),
      ...answered('a3', T0, 5),
      ...left('b1', 'abandon', T0, 2), // short: out
      ...left('b2', 'abandon', T0, 30),
      ...left('o1', 'overflow', T0, 60),
      ...left('c1', 'callback-requested', T0, 60), // out
    ];
    const [k] = run(events);
    expect(k).toMatchObject({ answeredWithinSl: 2, slCalls: 5, serviceLevelPercent: 40, slSeconds: 20, slTargetPercent: 80, slMet: false });
    // Short abandons in the denominator when the queue says so.
    expect(run(events, { settings: { slExcludeShortAbandons: false } })[0]).toMatchObject({ slCalls: 6, serviceLevelPercent: 33.3 });
    // No abandons in the denominator at all.
    expect(run(events, { settings: { slCountAbandons: false } })[0]).toMatchObject({ slCalls: 4, serviceLevelPercent: 50 });
    // A 10 s threshold makes b2's 30 s no less an abandon, and a1 (20 s) out of target with T = 10.
    expect(run(events, { settings: { slSeconds: 10, shortAbandonSeconds: 0 } })[0]).toMatchObject({ shortAbandoned: 0, abandoned: 2, answeredWithinSl: 1, slCalls: 6 });
    expect(run([...answered('x', T0, 1)])[0]).toMatchObject({ serviceLevelPercent: 100, slMet: true });
    expect(run([])[0]).toMatchObject({ offered: 0, serviceLevelPercent: null, slMet: null, asaSeconds: null, ahtSeconds: null, abandonRatePercent: null });
  });

  it('ASA, average and max wait, average abandon time', () => {
    const [k] = run([
      ...answered('a1', T0, 10),
      ...answered('a2', T0, 31),
      ...left('b1', 'abandon', T0, 2), // short: in the wait figures, not in the abandon time
      ...left('b2', 'abandon', T0, 45),
      ...left('b3', 'abandon', T0, 15),
    ]);
    expect(k!.asaSeconds).toBe(20.5); // (10 + 31) / 2
    expect(k!.avgWaitSeconds).toBe(20.6); // (10 + 31 + 2 + 45 + 15) / 5
    expect(k!.maxWaitSeconds).toBe(45);
    expect(k!.avgAbandonSeconds).toBe(30); // (45 + 15) / 2
  });

  it('an answer without wait_ms waits from its join', () => {
    const [k] = run([ev('a', 'join', T0), ev('a', 'answer', T0 + 12_345, { agentId: '1' })]);
    expect(k).toMatchObject({ asaSeconds: 12.3, answered: 1, handled: 0 });
  });

  it('AHT and its parts over the calls whose end is recorded; transfer rate over answered', () => {
    const [k] = run([
      ...answered('a1', T0, 5, { talk: 100, hold: 20, wrap: 30 }),
      ...answered('a2', T0, 5, { talk: 200, hold: 0, wrap: 10 }),
      ev('a3', 'join', T0), ev('a3', 'answer', T0 + 4 * S, { agentId: '2', waitMs: 4 * S }), ev('a3', 'transfer', T0 + 60 * S, { agentId: '2' }),
    ]);
    expect(k).toMatchObject({ answered: 3, handled: 2, ahtSeconds: 180, avgTalkSeconds: 150, avgHoldSeconds: 10, avgWrapUpSeconds: 20, transferred: 1, transferRatePercent: 33.3 });
  });

  it('a call counts in the interval it joined, with its later outcome; callback-done where it happened', () => {
    const k = run([
      ...answered('a1', T0 + 14 * M + 50 * S, 30), // answered in the second interval, offered in the first
      ...left('b1', 'abandon', T0 + 16 * M, 20),
      ev('cb', 'callback-done', T0 + 20 * M, { result: 'done' }),
      ev('cb2', 'callback-done', T0 + 21 * M, { result: 'failed' }),
      ev('old', 'answer', T0 + 2 * M, { waitMs: 1000 }), // joined before the range: not counted
    ], { intervals: TWO });
    expect(k.map((x) => [x.offered, x.answered, x.abandoned, x.callbacksCompleted, x.callbacksFailed])).toEqual([[1, 1, 0, 0, 0], [1, 0, 1, 1, 1]]);
  });

  it('FCR: answered callers who did not call again (any queue) within the window; undecided while the window is open', () => {
    const events = [
      ...answered('a1', T0, 5, undefined, '111'),
      ...answered('a2', T0, 5, undefined, '222'),
      ...answered('a3', T0, 5, undefined, '333'),
      ...answered('a4', T0, 5, undefined, null), // no number: not judged
    ];
    const laterJoins: CallerJoin[] = [
      { callerNumber: '111', callId: 'r1', at: T0 + 23 * H }, // again within 24 h: not resolved
      { callerNumber: '222', callId: 'r2', at: T0 + 25 * H }, // after the window: resolved
      { callerNumber: '333', callId: 'a3', at: T0 + H }, // the same call (transferred into another queue): not a repeat
    ];
    expect(run(events, { laterJoins })[0]).toMatchObject({ fcrCalls: 3, fcrResolved: 2, fcrPercent: 66.7, fcrPending: 0 });
    expect(run(events, { laterJoins, settings: { fcrWindowHours: 26 } })[0]).toMatchObject({ fcrCalls: 3, fcrResolved: 1 });
    expect(run(events, { laterJoins, now: T0 + H })[0]).toMatchObject({ fcrCalls: 0, fcrPercent: null, fcrPending: 3 });
  });

  it('CSAT = share of 4-5 among 1-5 answers; NPS = % 9-10 minus % 0-6 among 0-10 answers; no response only asked', () => {
    const sv = (scale: '1-5' | '0-10', score: number | null): SurveyFact => ({ at: T0 + M, scale, score });
    const surveys = [sv('1-5', 5), sv('1-5', 4), sv('1-5', 3), sv('1-5', 1), sv('1-5', null), sv('0-10', 10), sv('0-10', 9), sv('0-10', 8), sv('0-10', 6), sv('0-10', 0), sv('0-10', null)];
    expect(run([], { surveys })[0]).toMatchObject({ surveysAsked: 11, csatResponses: 4, csatPercent: 50, npsResponses: 5, nps: 0 });
    expect(run([], { surveys: [sv('0-10', 9), sv('0-10', 7), sv('0-10', 3)] })[0]).toMatchObject({ nps: 0 });
    expect(run([], { surveys: [sv('0-10', 9), sv('0-10', 10), sv('0-10', 3)] })[0]).toMatchObject({ nps: 33.3 });
    expect(run([], { surveys: [sv('1-5', null)] })[0]).toMatchObject({ surveysAsked: 1, csatPercent: null, nps: null });
  });
});

const chg = (atMin: number, to: StateChange['to'], pauseCode: number | null = null): StateChange => ({ at: T0 + atMin * M, to, pauseCode });
const aev = (atMin: number, type: QueueEventType, parts: { talk?: number; hold?: number; wrap?: number } = {}): AgentEventFact => ({
  at: T0 + atMin * M, type, talkMs: parts.talk === undefined ? null : parts.talk * S, holdMs: parts.hold === undefined ? null : parts.hold * S, wrapUpMs: parts.wrap === undefined ? null : parts.wrap * S,
});

describe('agent KPIs', () => {
  it('state time clipped to intervals; occupancy = handle / (handle + ready + ringing); utilization = handle / logged in', () => {
    // Logged in (ready) before the range at 09:50, ringing 10:05-10:06, on a call 10:06-10:16, wrap-up 10:16-10:18,
    // ready, paused (code 2) 10:20-10:25, ready, logged out 10:28.
    const changes = [chg(-10, 'ready'), chg(5, 'reserved'), chg(6, 'on-call'), chg(16, 'wrap-up'), chg(18, 'ready'), chg(20, 'paused', 2), chg(25, 'ready'), chg(28, 'logged-out')];
    const [a, b] = agentKpis({ intervals: TWO, changes, events: [], surveys: [], now: LATER });
    expect(a).toMatchObject({ loggedInSeconds: 900, readySeconds: 300, ringingSeconds: 60, onCallSeconds: 540, wrapUpStateSeconds: 0, pausedSeconds: 0, handleSeconds: 540 });
    expect(a!.occupancyPercent).toBe(60); // 540 / (540 + 300 + 60)
    expect(a!.utilizationPercent).toBe(60);
    // 10:15-10:30: on-call 1 min, wrap-up 2, ready 2 + 3, paused 5, logged out 2.
    expect(b).toMatchObject({ loggedInSeconds: 780, readySeconds: 300, onCallSeconds: 60, wrapUpStateSeconds: 120, pausedSeconds: 300, handleSeconds: 180, paused: [{ code: 2, seconds: 300 }] });
    expect(b!.occupancyPercent).toBe(37.5); // 180 / (180 + 300)
    expect(b!.utilizationPercent).toBe(23.1); // 180 / 780
  });

  it('the state the agent is in now counts up to now, not to the interval end; unknown before the first change', () => {
    const [a] = agentKpis({ intervals: ONE, changes: [chg(4, 'ready')], events: [], surveys: [], now: T0 + 10 * M });
    expect(a).toMatchObject({ loggedInSeconds: 360, readySeconds: 360, occupancyPercent: 0, utilizationPercent: 0 });
    const [none] = agentKpis({ intervals: ONE, changes: [], events: [], surveys: [], now: LATER });
    expect(none).toMatchObject({ loggedInSeconds: 0, occupancyPercent: null, utilizationPercent: null, ahtSeconds: null });
  });

  it('paused time by reason code, largest first', () => {
    const [a] = agentKpis({ intervals: ONE, changes: [chg(0, 'paused', 1), chg(2, 'paused', 3), chg(8, 'paused', null), chg(9, 'paused', 1), chg(10, 'logged-out')], events: [], surveys: [], now: LATER });
    expect(a!.paused).toEqual([{ code: 3, seconds: 360 }, { code: 1, seconds: 180 }, { code: null, seconds: 60 }]);
    expect(a!.pausedSeconds).toBe(600);
  });

  it('answered, missed (RONA), transfers by event time; AHT from end events', () => {
    const events = [aev(1, 'ring-no-answer'), aev(2, 'answer'), aev(5, 'transfer'), aev(6, 'end', { talk: 200, hold: 40, wrap: 0 }), aev(7, 'answer'), aev(12, 'end', { talk: 250, hold: 0, wrap: 30 }), aev(13, 'offer')];
    const [a] = agentKpis({ intervals: ONE, changes: [], events, surveys: [], now: LATER });
    expect(a).toMatchObject({ answered: 2, missed: 1, transfers: 1, handled: 2, talkSeconds: 450, holdSeconds: 40, wrapUpSeconds: 30, ahtSeconds: 260 });
  });

  it('CSAT of the agent', () => {
    const surveys: SurveyFact[] = [{ at: T0, scale: '1-5', score: 5 }, { at: T0, scale: '1-5', score: 2 }, { at: T0 + 20 * M, scale: '1-5', score: 5 }];
    expect(agentKpis({ intervals: TWO, changes: [], events: [], surveys, now: LATER }).map((k) => k.csatPercent)).toEqual([50, 100]);
  });
});
