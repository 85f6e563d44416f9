/**
 * Queue KPIs per interval from the queue's events (pure, no I/O). The formulas and the choices
 * are in docs/reporting.md#queues; in short:
 *
 * - A call counts in the interval in which it joined the queue (offered), with everything that
 *   happened to it later (answer, abandon, end of wrap-up...): the intervals of a day add up to the
 *   day. A call still waiting has no outcome yet (`waiting`).
 * - Outcomes are exclusive: answered, abandoned (short or not), overflowed, timed out, callback
 *   requested.
 * - Callbacks completed / failed count where their callback-done event is (the callback may run
 *   hours later).
 * - Surveys count where they were answered.
 */
import type { QueueSettings } from '../acd/call-repository.js';
import type { QueueEventType } from '../acd/tables.js';
import {
  averageSeconds, byKey, emptySurveyTally, intervalIndex, percent, seconds, surveyFigures, tallySurvey, type KpiInput, type SurveyFigures, type SurveyTally,
} from './kpi-math.js';

/** One queue_events row as the core takes it (times epoch ms). */
export interface QueueEventFact {
  readonly at: number;
  readonly callId: string;
  readonly type: QueueEventType;
  readonly agentId: string | null;
  readonly callerNumber: string | null;
  readonly waitMs: number | null;
  readonly talkMs: number | null;
  readonly holdMs: number | null;
  readonly wrapUpMs: number | null;
  /** callback-done: details.result ('done' | 'failed'). */
  readonly result?: string | null;
}

/** The queue's target and its report settings (queues table; docs/reporting.md#settings). */
export type QueueReportSettings = Pick<QueueSettings, 'slSeconds' | 'slPercent' | 'shortAbandonSeconds' | 'slExcludeShortAbandons' | 'slCountAbandons' | 'fcrWindowHours'>;

/** A caller joining any queue: what first-call resolution looks for after an answer. */
export interface CallerJoin {
  readonly callerNumber: string;
  readonly callId: string;
  readonly at: number;
}

export interface QueueKpiInput extends KpiInput {
  /** Every event of the calls that joined within the intervals, and the callback-done events in them. */
  readonly events: readonly QueueEventFact[];
  /** Joins of the answered callers after their answer (any queue), up to window hours after the last answer. */
  readonly laterJoins: readonly CallerJoin[];
  readonly settings: QueueReportSettings;
}

export interface QueueKpis extends SurveyFigures {
  readonly offered: number;
  readonly answered: number;
  /** Abandons at or after the short-abandon threshold. */
  readonly abandoned: number;
  /** Abandons before it, reported apart. */
  readonly shortAbandoned: number;
  readonly overflowed: number;
  readonly timedOut: number;
  readonly callbacksRequested: number;
  readonly callbacksCompleted: number;
  readonly callbacksFailed: number;
  /** Joined and no outcome yet (still in the queue, or ringing). */
  readonly waiting: number;
  /** abandoned / (offered - shortAbandoned), %. */
  readonly abandonRatePercent: number | null;
  readonly answeredWithinSl: number;
  /** The calls the service level is a share of (docs/reporting.md#service-level). */
  readonly slCalls: number;
  readonly serviceLevelPercent: number | null;
  readonly slSeconds: number;
  readonly slTargetPercent: number;
  /** serviceLevelPercent >= slTargetPercent; null without calls. */
  readonly slMet: boolean | null;
  readonly asaSeconds: number | null;
  readonly avgWaitSeconds: number | null;
  readonly maxWaitSeconds: number | null;
  readonly avgAbandonSeconds: number | null;
  /** Answered calls whose end (after wrap-up) is recorded. */
  readonly handled: number;
  readonly ahtSeconds: number | null;
  readonly avgTalkSeconds: number | null;
  readonly avgHoldSeconds: number | null;
  readonly avgWrapUpSeconds: number | null;
  readonly transferred: number;
  /** transferred / answered, %. */
  readonly transferRatePercent: number | null;
  /** Answered callers with a number whose FCR window has passed. */
  readonly fcrCalls: number;
  readonly fcrResolved: number;
  readonly fcrPercent: number | null;
  /** Answered callers whose window is still open (not judged yet). */
  readonly fcrPending: number;
}

interface Tally {
  offered: number; answered: number; abandoned: number; shortAbandoned: number; overflowed: number; timedOut: number;
  callbacksRequested: number; callbacksCompleted: number; callbacksFailed: number;
  answeredWithinSl: number; slCalls: number;
  answerWaitMs: number; waitMs: number; waitCount: number; maxWaitMs: number | null; abandonWaitMs: number;
  handled: number; talkMs: number; holdMs: number; wrapUpMs: number; transferred: number;
  fcrCalls: number; fcrResolved: number; fcrPending: number;
  surveys: SurveyTally;
}

const emptyTally = (): Tally => ({
  offered: 0, answered: 0, abandoned: 0, shortAbandoned: 0, overflowed: 0, timedOut: 0, callbacksRequested: 0, callbacksCompleted: 0, callbacksFailed: 0,
  answeredWithinSl: 0, slCalls: 0, answerWaitMs: 0, waitMs: 0, waitCount: 0, maxWaitMs: null, abandonWaitMs: 0,
  handled: 0, talkMs: 0, holdMs: 0, wrapUpMs: 0, transferred: 0, fcrCalls: 0, fcrResolved: 0, fcrPending: 0, surveys: emptySurveyTally(),
});

/** One call's events, as far as the figures need them. */
interface CallFacts {
  join: QueueEventFact | null;
  answer: QueueEventFact | null;
  /** abandon, overflow, timeout or callback-requested: the first. */
  left: QueueEventFact | null;
  ends: QueueEventFact[];
  transferred: boolean;
}

const LEAVING = new Set<QueueEventType>(['abandon', 'overflow', 'timeout', 'callback-requested']);

function callsOf(events: readonly QueueEventFact[]): Map<string, CallFacts> {
  const calls = new Map<string, CallFacts>();
  const sorted = [...events].sort((a, b) => a.at - b.at);
  for (const e of sorted) {
    if (e.type === 'callback-done') continue;
    let c = calls.get(e.callId);
    if (!c) calls.set(e.callId, (c = { join: null, answer: null, left: null, ends: [], transferred: false }));
    if (e.type === 'join' && !c.join) c.join = e;
    else if (e.type === 'answer' && !c.answer && !c.left) c.answer = e;
    else if (LEAVING.has(e.type) && !c.left && !c.answer) c.left = e;
    else if (e.type === 'end') c.ends.push(e);
    else if (e.type === 'transfer') c.transferred = true;
  }
  return calls;
}

/** The wait of a call that left the queue: the event's wait_ms, else its time since the join. */
const waitOf = (e: QueueEventFact, join: QueueEventFact): number => e.waitMs ?? Math.max(0, e.at - join.at);

/** The queue's figures for each interval (same order). */
export function queueKpis(input: QueueKpiInput): QueueKpis[] {
  const { intervals, settings: s } = input;
  const tallies = intervals.map(emptyTally);
  const slMs = s.slSeconds * 1000;
  const shortMs = s.shortAbandonSeconds * 1000;
  const windowMs = s.fcrWindowHours * 3_600_000;
  const joinsByCaller = byKey(input.laterJoins, (j) => j.callerNumber);

  for (const [callId, c] of callsOf(input.events)) {
    if (!c.join) continue; // joined before the range: counted where it joined
    const i = intervalIndex(intervals, c.join.at);
    if (i < 0) continue;
    const t = tallies[i]!;
    t.offered++;
    if (c.answer) {
      const wait = waitOf(c.answer, c.join);
      t.answered++;
      t.slCalls++;
      if (wait <= slMs) t.answeredWithinSl++;
      t.answerWaitMs += wait;
      addWait(t, wait);
      if (c.transferred) t.transferred++;
      if (c.ends.length > 0) {
        t.handled++;
        for (const e of c.ends) {
          t.talkMs += e.talkMs ?? 0;
          t.holdMs += e.holdMs ?? 0;
          t.wrapUpMs += e.wrapUpMs ?? 0;
        }
      }
      const caller = c.join.callerNumber;
      if (caller) {
        if (c.answer.at + windowMs > input.now) t.fcrPending++;
        else {
          t.fcrCalls++;
          const again = (joinsByCaller.get(caller) ?? []).some((j) => j.callId !== callId && j.at > c.answer!.at && j.at <= c.answer!.at + windowMs);
          if (!again) t.fcrResolved++;
        }
      }
    } else if (c.left) {
      const wait = waitOf(c.left, c.join);
      addWait(t, wait);
      if (c.left.type === 'abandon') {
        const short = wait < shortMs;
        if (short) t.shortAbandoned++;
        else {
          t.abandoned++;
          t.abandonWaitMs += wait;
        }
        if (s.slCountAbandons && !(short && s.slExcludeShortAbandons)) t.slCalls++;
      } else {
        // Overflowed, timed out, callback requested: offered and not answered by the queue.
        if (c.left.type === 'overflow') t.overflowed++;
        else if (c.left.type === 'timeout') t.timedOut++;
        else t.callbacksRequested++;
        if (c.left.type !== 'callback-requested') t.slCalls++;
      }
    }
  }
  for (const e of input.events) {
    if (e.type !== 'callback-done') continue;
    const i = intervalIndex(intervals, e.at);
    if (i < 0) continue;
    if (e.result === 'failed') tallies[i]!.callbacksFailed++;
    else tallies[i]!.callbacksCompleted++;
  }
  for (const sv of input.surveys) {
    const i = intervalIndex(intervals, sv.at);
    if (i >= 0) tallySurvey(tallies[i]!.surveys, sv);
  }
  return tallies.map((t) => figures(t, s));
}

function addWait(t: Tally, wait: number): void {
  t.waitMs += wait;
  t.waitCount++;
  t.maxWaitMs = t.maxWaitMs === null ? wait : Math.max(t.maxWaitMs, wait);
}

function figures(t: Tally, s: QueueReportSettings): QueueKpis {
  const sl = percent(t.answeredWithinSl, t.slCalls);
  return {
    offered: t.offered,
    answered: t.answered,
    abandoned: t.abandoned,
    shortAbandoned: t.shortAbandoned,
    overflowed: t.overflowed,
    timedOut: t.timedOut,
    callbacksRequested: t.callbacksRequested,
    callbacksCompleted: t.callbacksCompleted,
    callbacksFailed: t.callbacksFailed,
    waiting: t.offered - t.answered - t.abandoned - t.shortAbandoned - t.overflowed - t.timedOut - t.callbacksRequested,
    abandonRatePercent: percent(t.abandoned, t.offered - t.shortAbandoned),
    answeredWithinSl: t.answeredWithinSl,
    slCalls: t.slCalls,
    serviceLevelPercent: sl,
    slSeconds: s.slSeconds,
    slTargetPercent: s.slPercent,
    slMet: sl === null ? null : sl >= s.slPercent,
    asaSeconds: averageSeconds(t.answerWaitMs, t.answered),
    avgWaitSeconds: averageSeconds(t.waitMs, t.waitCount),
    maxWaitSeconds: t.maxWaitMs === null ? null : seconds(t.maxWaitMs),
    avgAbandonSeconds: averageSeconds(t.abandonWaitMs, t.abandoned),
    handled: t.handled,
    ahtSeconds: averageSeconds(t.talkMs + t.holdMs + t.wrapUpMs, t.handled),
    avgTalkSeconds: averageSeconds(t.talkMs, t.handled),
    avgHoldSeconds: averageSeconds(t.holdMs, t.handled),
    avgWrapUpSeconds: averageSeconds(t.wrapUpMs, t.handled),
    transferred: t.transferred,
    transferRatePercent: percent(t.transferred, t.answered),
    fcrCalls: t.fcrCalls,
    fcrResolved: t.fcrResolved,
    fcrPercent: percent(t.fcrResolved, t.fcrCalls),
    fcrPending: t.fcrPending,
    ...surveyFigures(t.surveys),
  };
}
