/**
 * Overload control, the pure part (docs/operations.md#overload): whether a new call may enter,
 * from what the daemon sees when it arrives. Calls in progress are never touched: only a new
 * caller's channel is refused (503), so the calls already carried keep their quality instead of
 * every call's setup stretching to seconds. The adapter (admission.ts) samples the event loop,
 * counts and logs; the dispatcher counts the calls and refuses.
 *
 * Three signals, each off at 0:
 * - max-calls: the calls this daemon carries (its Stasis sessions) against a fixed cap;
 * - setup-backlog: calls that arrived and are not yet set up (routed, their first runner started)
 *   against a cap. A concurrency limit, without hysteresis: a new call enters as soon as one
 *   finishes its setup, so the daemon admits at the rate it sets calls up and setup time stays
 *   bounded (in-setup / rate, Little's law) wherever the slowness is (Asterisk, Postgres, us);
 * - event-loop-lag: the event loop's mean delay per sample (a second), with hysteresis: lagging
 *   starts once LAG_SAMPLES_TO_START samples in a row are above the limit and ends once a sample is
 *   below half of it. While it lags, LAG_REFUSED_PERCENT of new callers are refused, not all: the
 *   daemon refuses the share the dialplan does not shed already (lagRefusedShare), spread evenly
 *   over the calls as they arrive (refusesForLag).
 *
 * Why a share, and only after three slow seconds: the sample is the mean interval of a 10-ms timer
 * less 10 ms, that is 1000 / (timer turns in the second) - 10. A mean of 500 ms means the loop came
 * round about twice in that second: a single stall (a GC pause, even of 500 ms) barely moves it
 * (measured: 14 ms); only a loop busy or starved of CPU for the whole second does. That is as often a
 * neighbour's load on a shared machine (two CI jobs, a backup) as our own, and refusing callers
 * does not cure a neighbour's load: the setup backlog is the signal that measures what the callers
 * get (their setup time) and throttles harder when they get too little. So the lag refuses only
 * half, and only once it has lasted: a site loses a share of its calls, not all of them.
 */

export type RefusalReason = 'max-calls' | 'setup-backlog' | 'event-loop-lag';
export const REFUSAL_REASONS: readonly RefusalReason[] = ['max-calls', 'setup-backlog', 'event-loop-lag'];

export interface OverloadLimits {
  /** Calls this daemon carries at once; a new call past it is refused. 0: no cap. */
  readonly maxCalls: number;
  /** Calls being set up at once; a new call past it is refused. 0: no cap. */
  readonly maxCallsInSetup: number;
  /** Event-loop delay (ms) above which a share of new calls is refused until it is below half of it. 0: not watched. */
  readonly maxLagMs: number;
}

/** What the daemon sees as a new call arrives. */
export interface OverloadSignals {
  /** Calls carried now (the new one not included). */
  readonly calls: number;
  /** Of those, calls still being set up. */
  readonly callsInSetup: number;
}

export interface OverloadState {
  /** The event loop was found lagging and has not yet recovered (below half the limit). */
  readonly lagging: boolean;
  /** Samples in a row above the limit (while not lagging). */
  readonly above: number;
  /** The last delay sample, ms. */
  readonly lagMs: number;
}

export const CALM: OverloadState = { lagging: false, above: 0, lagMs: 0 };

/** Samples in a row above PBX_OVERLOAD_LAG_MS before the loop is lagging. */
export const LAG_SAMPLES_TO_START = 3;
/** Share of new callers refused while the loop lags (%), by the dialplan and the daemon together. */
export const LAG_REFUSED_PERCENT = 50;

/** A new event-loop delay sample: lagging starts after LAG_SAMPLES_TO_START samples above maxLagMs and ends at one below half of it. */
export function observeLag(state: OverloadState, limits: OverloadLimits, lagMs: number): OverloadState {
  if (limits.maxLagMs <= 0) return { lagging: false, above: 0, lagMs };
  if (state.lagging) return { lagging: lagMs >= limits.maxLagMs / 2, above: 0, lagMs };
  const above = lagMs > limits.maxLagMs ? state.above + 1 : 0;
  return above >= LAG_SAMPLES_TO_START ? { lagging: true, above: 0, lagMs } : { lagging: false, above, lagMs };
}

/**
 * While the loop lags, the share (0-1) of the calls that reach the daemon it refuses itself, so
 * that LAG_REFUSED_PERCENT of callers are refused in all when the dialplan already sheds
 * `shedPercent` of them before Stasis (shedding.ts): all of the share while the dialplan sheds
 * nothing (the first second), none once it sheds the share or more.
 */
export function lagRefusedShare(shedPercent: number): number {
  const through = 1 - Math.min(100, Math.max(0, shedPercent)) / 100;
  return through <= 0 ? 0 : Math.max(0, 1 - (1 - LAG_REFUSED_PERCENT / 100) / through);
}

/** Whether the n-th call (0, 1, ...) to arrive while the loop lags is refused: `share` of them, spread evenly from the first (0.5: the 1st, 3rd, 5th...). */
export function refusesForLag(n: number, share: number): boolean {
  return Math.ceil((n + 1) * share - 1e-9) > Math.ceil(n * share - 1e-9);
}

/** A call arriving while the loop lags: its number among those (refusesForLag) and the share refused (lagRefusedShare). */
export interface LagTurn {
  readonly n: number;
  readonly share: number;
}

/** A new call: null to admit it, or why it is refused. `lag`: its turn, should the loop be lagging. */
export function admission(state: OverloadState, limits: OverloadLimits, signals: OverloadSignals, lag: LagTurn): RefusalReason | null {
  if (limits.maxCalls > 0 && signals.calls >= limits.maxCalls) return 'max-calls';
  if (limits.maxLagMs > 0 && state.lagging && refusesForLag(lag.n, lag.share)) return 'event-loop-lag';
  if (limits.maxCallsInSetup > 0 && signals.callsInSetup >= limits.maxCallsInSetup) return 'setup-backlog';
  return null;
}

/** Refusals since the last log line, and when that was: the log says each burst once per interval. */
export interface RefusalTally<R extends string = RefusalReason> {
  readonly lastLoggedMs: number | null;
  /** Refusals not yet in a log line, by reason. */
  readonly unlogged: Readonly<Partial<Record<R, number>>>;
}

export const NO_REFUSALS: RefusalTally = { lastLoggedMs: null, unlogged: {} };

/**
 * One more refusal at `nowMs`. `log`: the refusals (this one included) to put in a log line now,
 * at most one line per `everyMs`; null: counted for the next line.
 */
export function tallyRefusal<R extends string = RefusalReason>(
  tally: RefusalTally<R>,
  reason: NoInfer<R>,
  nowMs: number,
  everyMs: number,
): { tally: RefusalTally<R>; log: Partial<Record<R, number>> | null } {
  const unlogged = { ...tally.unlogged, [reason]: (tally.unlogged[reason] ?? 0) + 1 } as Partial<Record<R, number>>;
  if (tally.lastLoggedMs !== null && nowMs - tally.lastLoggedMs < everyMs) return { tally: { lastLoggedMs: tally.lastLoggedMs, unlogged }, log: null };
  return { tally: { lastLoggedMs: nowMs, unlogged: {} as Partial<Record<R, number>> }, log: unlogged };
}
