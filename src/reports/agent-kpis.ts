/**
 * Agent KPIs per interval (pure, no I/O): time in each state from the agent's state log, calls
 * from the queue events that name the agent. docs/reporting.md#agents.
 *
 * - State time is clipped to each interval; the state the agent is in now counts up to
 *   min(interval end, now). Before the agent's first logged change the state is unknown and
 *   counts as logged out.
 * - Answered, missed (ring-no-answer) and transfers count where the event is; talk, hold and
 *   wrap-up (and so AHT) where the call's end event is (after wrap-up).
 * - Occupancy = handle / (handle + available), utilization = handle / logged in, with handle the
 *   time on-call + wrap-up and available the time ready + ringing (reserved), all from the state log.
 */
import type { AgentStatus, QueueEventType } from '../acd/tables.js';
import type { Interval } from './intervals.js';
import {
  averageSeconds, emptySurveyTally, intervalIndex, percent, seconds, surveyFigures, tallySurvey, type KpiInput, type SurveyFigures, type SurveyTally,
} from './kpi-math.js';

/** One agent_state_log row: the state the agent entered, and when. */
export interface StateChange {
  readonly at: number;
  readonly to: AgentStatus;
  readonly pauseCode: number | null;
}

/** A queue event naming the agent. */
export interface AgentEventFact {
  readonly at: number;
  readonly type: QueueEventType;
  readonly talkMs: number | null;
  readonly holdMs: number | null;
  readonly wrapUpMs: number | null;
}

export interface AgentKpiInput extends KpiInput {
  /**
   * The agent's state changes in time order: the last one before the first interval (the state it
   * was in then), then those within the intervals.
   */
  readonly changes: readonly StateChange[];
  readonly events: readonly AgentEventFact[];
}

export interface PausedTime {
  /** null: paused without a reason code. */
  readonly code: number | null;
  readonly seconds: number;
}

export interface AgentKpis extends SurveyFigures {
  readonly loggedInSeconds: number;
  readonly readySeconds: number;
  /** Reserved: a queue call ringing at the agent's phone. */
  readonly ringingSeconds: number;
  readonly onCallSeconds: number;
  /** Time in the wrap-up state. */
  readonly wrapUpStateSeconds: number;
  readonly pausedSeconds: number;
  /** Paused time by reason code, largest first. */
  readonly paused: readonly PausedTime[];
  readonly answered: number;
  /** Ring-no-answer (RONA): offers the agent let ring out or rejected. */
  readonly missed: number;
  readonly transfers: number;
  /** Calls whose handling (talk, hold, wrap-up) ended. */
  readonly handled: number;
  readonly talkSeconds: number;
  readonly holdSeconds: number;
  readonly wrapUpSeconds: number;
  readonly ahtSeconds: number | null;
  /** on-call + wrap-up state time. */
  readonly handleSeconds: number;
  /** handle / (handle + ready + ringing), %. */
  readonly occupancyPercent: number | null;
  /** handle / logged in, %. */
  readonly utilizationPercent: number | null;
}

interface Tally {
  state: Record<AgentStatus, number>;
  paused: Map<number | null, number>;
  answered: number; missed: number; transfers: number; handled: number; talkMs: number; holdMs: number; wrapUpMs: number;
  surveys: SurveyTally;
}

const emptyTally = (): Tally => ({
  state: { 'logged-out': 0, ready: 0, reserved: 0, 'on-call': 0, 'wrap-up': 0, paused: 0 },
  paused: new Map(), answered: 0, missed: 0, transfers: 0, handled: 0, talkMs: 0, holdMs: 0, wrapUpMs: 0, surveys: emptySurveyTally(),
});

/** The agent's figures for each interval (same order). */
export function agentKpis(input: AgentKpiInput): AgentKpis[] {
  const { intervals } = input;
  const tallies = intervals.map(emptyTally);
  const changes = [...input.changes].sort((a, b) => a.at - b.at);
  // Each stretch [change.at, next change or now) in its state, spread over the intervals it overlaps.
  for (let k = 0; k < changes.length; k++) {
    const c = changes[k]!;
    const until = Math.min(changes[k + 1]?.at ?? input.now, input.now);
    if (c.to === 'logged-out' || until <= c.at) continue;
    spread(intervals, c.at, until, (i, ms) => {
      const t = tallies[i]!;
      t.state[c.to] += ms;
      if (c.to === 'paused') t.paused.set(c.pauseCode, (t.paused.get(c.pauseCode) ?? 0) + ms);
    });
  }
  for (const e of input.events) {
    const i = intervalIndex(intervals, e.at);
    if (i < 0) continue;
    const t = tallies[i]!;
    if (e.type === 'answer') t.answered++;
    else if (e.type === 'ring-no-answer') t.missed++;
    else if (e.type === 'transfer') t.transfers++;
    else if (e.type === 'end') {
      t.handled++;
      t.talkMs += e.talkMs ?? 0;
      t.holdMs += e.holdMs ?? 0;
      t.wrapUpMs += e.wrapUpMs ?? 0;
    }
  }
  for (const sv of input.surveys) {
    const i = intervalIndex(intervals, sv.at);
    if (i >= 0) tallySurvey(tallies[i]!.surveys, sv);
  }
  return tallies.map(figures);
}

/** Calls `add(interval index, ms)` for each interval that [from, to) overlaps. */
function spread(intervals: readonly Interval[], from: number, to: number, add: (i: number, ms: number) => void): void {
  // First interval ending after `from` (binary search), then forward while they start before `to`.
  let lo = 0;
  let hi = intervals.length;
  while (lo < hi) {
    const mid = (lo + hi) >> 1;
    if (intervals[mid]!.end <= from) lo = mid + 1;
    else hi = mid;
  }
  for (let i = lo; i < intervals.length && intervals[i]!.start < to; i++) {
    const ms = Math.min(to, intervals[i]!.end) - Math.max(from, intervals[i]!.start);
    if (ms > 0) add(i, ms);
  }
}

function figures(t: Tally): AgentKpis {
  const s = t.state;
  const loggedIn = s.ready + s.reserved + s['on-call'] + s['wrap-up'] + s.paused;
  const handle = s['on-call'] + s['wrap-up'];
  return {
    loggedInSeconds: seconds(loggedIn),
    readySeconds: seconds(s.ready),
    ringingSeconds: seconds(s.reserved),
    onCallSeconds: seconds(s['on-call']),
    wrapUpStateSeconds: seconds(s['wrap-up']),
    pausedSeconds: seconds(s.paused),
    paused: [...t.paused].sort((a, b) => b[1] - a[1]).map(([code, ms]) => ({ code, seconds: seconds(ms) })),
    answered: t.answered,
    missed: t.missed,
    transfers: t.transfers,
    handled: t.handled,
    talkSeconds: seconds(t.talkMs),
    holdSeconds: seconds(t.holdMs),
    wrapUpSeconds: seconds(t.wrapUpMs),
    ahtSeconds: averageSeconds(t.talkMs + t.holdMs + t.wrapUpMs, t.handled),
    handleSeconds: seconds(handle),
    occupancyPercent: percent(handle, handle + s.ready + s.reserved),
    utilizationPercent: percent(handle, loggedIn),
    ...surveyFigures(t.surveys),
  };
}
