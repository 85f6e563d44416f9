/**
 * The compliance report of one campaign (pure; docs/campaigns.md#compliance-report): one row per
 * day (the campaign's time zone) from the per-day counters the dialer keeps in campaign_days in the
 * same transaction as each attempt's outcome, so every figure is exact:
 *
 *   abandonRate       = abandons / liveAnswers of the day (null without live answers)
 *   abandonRate30d    = sum(abandons) / sum(liveAnswers) over the 30 days ending that day (the
 *                       day and the 29 before it), summed from the day rows, never an average
 *                       of daily rates; null without live answers in those 30 days
 *   withinCap         = abandonRate30d <= the campaign's abandonCap (true without live answers)
 *   outsideWindow     calls placed outside the calling window (must be 0)
 *   dncBlocked        dials refused because the number was on a do-not-call list
 *   shortRings        calls the dialer gave up on before they rang 15 s (must be 0)
 */
import { DateTime } from 'luxon';

export const ROLLING_DAYS = 30;

export interface DayCounts {
  /** 'YYYY-MM-DD'. */
  readonly day: string;
  readonly attempts: number;
  readonly liveAnswers: number;
  readonly machines: number;
  readonly connects: number;
  readonly abandons: number;
  readonly outsideWindow: number;
  readonly dncBlocked: number;
  readonly shortRings: number;
}

export interface ComplianceRow extends DayCounts {
  readonly abandonRate: number | null;
  readonly abandons30d: number;
  readonly liveAnswers30d: number;
  readonly abandonRate30d: number | null;
  readonly withinCap: boolean;
}

const ZERO = { attempts: 0, liveAnswers: 0, machines: 0, connects: 0, abandons: 0, outsideWindow: 0, dncBlocked: 0, shortRings: 0 };

/** The day `n` days after `day` (negative: before), 'YYYY-MM-DD'. */
export function addDays(day: string, n: number): string {
  return DateTime.fromISO(day, { zone: 'UTC' }).plus({ days: n }).toISODate()!;
}

/** Days from..to inclusive. */
export function daysBetween(from: string, to: string): string[] {
  const out: string[] = [];
  for (let d = from; d <= to; d = addDays(d, 1)) out.push(d);
  return out;
}

const ratio = (a: number, b: number): number | null => (b === 0 ? null : a / b);

/**
 * The rows of from..to (every day, zeros where no row was kept) from the day counts of
 * (from - 29)..to (`counts`, any order; days outside are ignored).
 */
export function complianceRows(counts: readonly DayCounts[], from: string, to: string, abandonCap: number): ComplianceRow[] {
  const byDay = new Map(counts.map((c) => [c.day, c]));
  return daysBetween(from, to).map((day) => {
    const own = byDay.get(day) ?? { day, ...ZERO };
    let abandons30d = 0;
    let liveAnswers30d = 0;
    for (let i = 0; i < ROLLING_DAYS; i += 1) {
      const c = byDay.get(addDays(day, -i));
      if (c) {
        abandons30d += c.abandons;
        liveAnswers30d += c.liveAnswers;
      }
    }
    const abandonRate30d = ratio(abandons30d, liveAnswers30d);
    return {
      ...own,
      day,
      abandonRate: ratio(own.abandons, own.liveAnswers),
      abandons30d,
      liveAnswers30d,
      abandonRate30d,
      withinCap: abandonRate30d === null || abandonRate30d <= abandonCap,
    };
  });
}
