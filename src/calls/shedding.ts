/**
 * Shedding before Stasis, the pure part (docs/operations.md#overload). Past the knee a call the
 * daemon refuses has already cost Asterisk its Stasis entry (StasisStart, the REST hangup, the
 * hangup events): refused calls alone saturate Asterisk and their 503s arrive seconds late. So
 * while the daemon is refusing, it tells the dialplan to refuse a share of new callers itself,
 * with cause 34 (SIP 503), before Stasis(): the global variable SHED_VARIABLE holds
 * "<until>:<percent>" (asterisk/extensions.conf, [pbx-inbound]).
 *
 * Once a tick (SHED_TICK_MS), from the daemon's refusals since the last tick:
 * - max-calls refused: every new caller is shed until the calls carried are down to
 *   resumeBelow(PBX_MAX_CALLS) (hysteresis: ending one call does not let a burst in);
 * - event-loop-lag refused: LAG_REFUSED_PERCENT of new callers (half) are shed while the loop still
 *   lags (its own hysteresis), not all: the lag cannot tell our load from a neighbour's (overload.ts);
 *   the daemon then refuses no more for it (lagRefusedShare), so half are refused in all;
 * - setup-backlog refused: a throttle, as TCP's: the share let through to the daemon is cut to
 *   BACKOFF of itself (not below MIN_ADMITTED: the daemon must go on seeing the demand), and grows
 *   by RECOVER_STEP points a tick without such refusals. It settles near the rate the daemon
 *   sets calls up at, and the excess costs Asterisk a dialplan step instead of a Stasis call.
 * The share shed is the largest of these. Starting only on refusals: a site sitting at its cap
 * with nobody calling sheds nothing.
 *
 * A daemon that dies while shedding leaves no refusing Asterisk behind: `until` (epoch seconds,
 * SHED_TTL_S ahead) is renewed each tick while shedding, and the dialplan ignores a past one.
 */
import { LAG_REFUSED_PERCENT, type OverloadLimits, type RefusalReason } from './overload.js';

/** The Asterisk global variable the dialplan reads (not PBX_*: those are template placeholders). */
export const SHED_VARIABLE = 'OVERLOAD_SHED';
export const SHED_TICK_MS = 1_000;
/** How long a value holds if the daemon does not renew it, s. */
export const SHED_TTL_S = 3;
/** A tick with setup-backlog refusals cuts the share let through to this fraction of itself. */
export const BACKOFF = 0.7;
/** The throttle never lets through less than this share (%). */
export const MIN_ADMITTED = 10;
/** A tick without setup-backlog refusals lets this many points more through. */
export const RECOVER_STEP = 10;

export interface ShedState {
  /** Share of new callers the dialplan refuses now, 0-100. */
  readonly percent: number;
  /** Every new caller refused until the calls are down below the cap; null: not at the cap. */
  readonly all: 'max-calls' | null;
  /** LAG_REFUSED_PERCENT of new callers refused while the event loop lags. */
  readonly lag: boolean;
  /** The setup-backlog throttle: share of new callers let through, MIN_ADMITTED-100. */
  readonly admitted: number;
}

export const NOT_SHEDDING: ShedState = { percent: 0, all: null, lag: false, admitted: 100 };

/** What the daemon saw over the last tick. */
export interface ShedSignals {
  /** New calls the daemon refused since the last tick, by reason. */
  readonly refused: Readonly<Partial<Record<RefusalReason, number>>>;
  /** Calls carried now. */
  readonly calls: number;
  /** The event loop is lagging (overload.ts's state). */
  readonly lagging: boolean;
}

/** Shedding at the call cap ends once the calls carried are down to this (5 % below the cap, at least one call). */
export function resumeBelow(maxCalls: number): number {
  return maxCalls - Math.max(1, Math.ceil(maxCalls / 20));
}

export function nextShed(state: ShedState, limits: OverloadLimits, s: ShedSignals): ShedState {
  const capped = limits.maxCalls > 0 && ((s.refused['max-calls'] ?? 0) > 0 || state.all === 'max-calls') && s.calls > resumeBelow(limits.maxCalls);
  const lag = limits.maxLagMs > 0 && s.lagging && ((s.refused['event-loop-lag'] ?? 0) > 0 || state.lag);
  const admitted = (s.refused['setup-backlog'] ?? 0) > 0
    ? Math.max(MIN_ADMITTED, Math.round(state.admitted * BACKOFF))
    : Math.min(100, state.admitted + RECOVER_STEP);
  const percent = capped ? 100 : Math.max(100 - admitted, lag ? LAG_REFUSED_PERCENT : 0);
  return { percent, all: capped ? 'max-calls' : null, lag, admitted };
}

/** The variable's value: "<until>:<percent>", or empty (nothing shed). `nowMs`: the daemon's clock, which Asterisk's EPOCH shares. */
export function shedValue(state: ShedState, nowMs: number): string {
  return state.percent > 0 ? `${Math.floor(nowMs / 1000) + SHED_TTL_S}:${state.percent}` : '';
}

/** Refusals by reason between two snapshots of the running counts. */
export function refusalsSince(before: ReadonlyMap<RefusalReason, number>, now: ReadonlyMap<RefusalReason, number>): Partial<Record<RefusalReason, number>> {
  const out: Partial<Record<RefusalReason, number>> = {};
  for (const [reason, n] of now) {
    const d = n - (before.get(reason) ?? 0);
    if (d > 0) out[reason] = d;
  }
  return out;
}
