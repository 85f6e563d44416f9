/**
 * Queue figures for callers and supervisors (ACD, issue #5). Pure helpers:
 *
 *   averageHandleSeconds(samples, fallback)  mean handle time (talk + wrap-up) of recent calls;
 *                                            samples that are not finite or negative are ignored
 *   estimatedWaitSeconds(input)              what to tell the caller at `position` (1 = next):
 *                                            0 when a ready agent is left for them; otherwise the
 *                                            callers ahead that busy agents must serve first, plus
 *                                            half a call still running, shared by the staffed
 *                                            agents: (position - ready - 0.5) * AHT / staffed.
 *                                            null when nobody is staffed (no estimate possible)
 *   serviceLevel(outcomes, targetSeconds)    share of calls answered within the target, over the
 *                                            calls offered (answered + abandoned); abandons quicker
 *                                            than `ignoreAbandonedWithinSeconds` are left out
 *                                            (short abandons). ratio null when nothing counts.
 */

export function averageHandleSeconds(samples: readonly number[], fallback: number): number {
  let sum = 0;
  let n = 0;
  for (const s of samples) {
    if (Number.isFinite(s) && s >= 0) {
      sum += s;
      n++;
    }
  }
  return n === 0 ? fallback : sum / n;
}

export interface WaitEstimateInput {
  /** The caller's place in the queue, 1 = next to be served. */
  readonly position: number;
  /** Agents taking this queue's calls now: ready, reserved, on a call or in wrap-up (not paused). */
  readonly agentsStaffed: number;
  /** Of those, the ready ones. */
  readonly agentsReady: number;
  /** Handle times (seconds) of the queue's recent calls. */
  readonly recentHandleSeconds: readonly number[];
  /** Used while there is no history yet. */
  readonly defaultHandleSeconds: number;
}

export function estimatedWaitSeconds(input: WaitEstimateInput): number | null {
  const staffed = Math.max(0, Math.floor(input.agentsStaffed));
  if (staffed === 0) return null;
  const ready = Math.min(staffed, Math.max(0, Math.floor(input.agentsReady)));
  const position = Math.max(1, Math.floor(input.position));
  if (position <= ready) return 0;
  const aht = averageHandleSeconds(input.recentHandleSeconds, input.defaultHandleSeconds);
  return ((position - ready - 0.5) * aht) / staffed;
}

export interface CallOutcome {
  /** Seconds in the queue until answered or abandoned. */
  readonly waitedSeconds: number;
  readonly answered: boolean;
}

export interface ServiceLevel {
  /** Calls counted: answered plus abandoned (short abandons left out). */
  readonly offered: number;
  readonly answeredWithinTarget: number;
  /** answeredWithinTarget / offered, 0-1; null when offered is 0. */
  readonly ratio: number | null;
}

export function serviceLevel(
  outcomes: readonly CallOutcome[],
  targetSeconds: number,
  options: { readonly ignoreAbandonedWithinSeconds?: number } = {},
): ServiceLevel {
  const shortAbandon = options.ignoreAbandonedWithinSeconds ?? 0;
  let offered = 0;
  let within = 0;
  for (const o of outcomes) {
    if (!o.answered && o.waitedSeconds < shortAbandon) continue;
    offered++;
    if (o.answered && o.waitedSeconds <= targetSeconds) within++;
  }
  return { offered, answeredWithinTarget: within, ratio: offered === 0 ? null : within / offered };
}
