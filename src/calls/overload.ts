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
 * - event-loop-lag: the event loop's mean delay per sample (a second), with hysteresis: refusing
 *   starts once LAG_SAMPLES_TO_START samples in a row are above the limit (one slow second, such
 *   as the daemon's own start or a long GC, refuses nothing) and stops once a sample is below half of it.
 */

export type RefusalReason = 'max-calls' | 'setup-backlog' | 'event-loop-lag';
export const REFUSAL_REASONS: readonly RefusalReason[] = ['max-calls', 'setup-backlog', 'event-loop-lag'];

export interface OverloadLimits {
  /** Calls this daemon carries at once; a new call past it is refused. 0: no cap. */
  readonly maxCalls: number;
  /** Calls being set up at once; a new call past it is refused. 0: no cap. */
  readonly maxCallsInSetup: number;
  /** Event-loop delay (ms) above which new calls are refused until it is below half of it. 0: not watched. */
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

/** Samples in a row above PBX_OVERLOAD_LAG_MS before new calls are refused. */
export const LAG_SAMPLES_TO_START = 2;

/** A new event-loop delay sample: lagging starts after LAG_SAMPLES_TO_START samples above maxLagMs and ends at one below half of it. */
export function observeLag(state: OverloadState, limits: OverloadLimits, lagMs: number): OverloadState {
  if (limits.maxLagMs <= 0) return { lagging: false, above: 0, lagMs };
  if (state.lagging) return { lagging: lagMs >= limits.maxLagMs / 2, above: 0, lagMs };
  const above = lagMs > limits.maxLagMs ? state.above + 1 : 0;
  return above >= LAG_SAMPLES_TO_START ? { lagging: true, above: 0, lagMs } : { lagging: false, above, lagMs };
}

/** A new call: null to admit it, or why it is refused. */
export function admission(state: OverloadState, limits: OverloadLimits, signals: OverloadSignals): RefusalReason | null {
  if (limits.maxCalls > 0 && signals.calls >= limits.maxCalls) return 'max-calls';
  if (limits.maxLagMs > 0 && state.lagging) return 'event-loop-lag';
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
