/**
 * Report intervals (pure): the range [from, to) cut into intervals of the local calendar of an
 * IANA time zone (docs/reporting.md#intervals).
 *
 * - `15m`, `30m`, `1h` start where the local clock shows a multiple of the length (:00, :15...).
 *   A boundary is the earlier of "start + length" (elapsed time) and "the next multiple on the
 *   local clock", so a DST change never makes an interval longer than its length: on Europe/Berlin's
 *   spring day 01:00-02:00 CET is followed by 03:00 CEST (23 hours), on its autumn day 02:00 CEST
 *   and 02:00 CET are two intervals (25 hours); a zone that moves its clock by 30 minutes
 *   (Australia/Lord_Howe) gets one short interval and is back on the local hour.
 * - `day`, `week` (ISO: Monday), `month` start at local midnight: a day is 23, 24 or 25 hours.
 * - The first and last intervals are cut to [from, to): figures never include time outside it.
 *
 * Local-calendar arithmetic is luxon's (the tz database Node ships): Intl alone cannot turn a local
 * wall time back into an instant.
 */
import { DateTime } from 'luxon';

export const INTERVALS = ['15m', '30m', '1h', 'day', 'week', 'month'] as const;
export type IntervalKind = (typeof INTERVALS)[number];

/** One interval, epoch milliseconds, start included, end excluded. */
export interface Interval {
  readonly start: number;
  readonly end: number;
}

const MINUTES: Partial<Record<IntervalKind, number>> = { '15m': 15, '30m': 30, '1h': 60 };
const CALENDAR = { day: { days: 1 }, week: { weeks: 1 }, month: { months: 1 } } as const;

/** Where the interval holding `at` starts (epoch ms). */
export function intervalStart(at: number, kind: IntervalKind, tz: string): number {
  const local = DateTime.fromMillis(at, { zone: tz });
  const minutes = MINUTES[kind];
  if (minutes !== undefined) return floorToClock(local, minutes).toMillis();
  return local.startOf(kind === 'day' ? 'day' : kind === 'week' ? 'week' : 'month').toMillis();
}

/** The start of the interval after the one starting at `start` (epoch ms). */
export function nextIntervalStart(start: number, kind: IntervalKind, tz: string): number {
  const minutes = MINUTES[kind];
  const local = DateTime.fromMillis(start, { zone: tz });
  if (minutes === undefined) return local.plus(CALENDAR[kind as keyof typeof CALENDAR]).startOf('day').toMillis();
  const elapsed = start + minutes * 60_000;
  const onClock = nextOnClock(local, minutes);
  // A wall time in a DST gap is moved forward by luxon; one in an overlap may take the earlier
  // offset, before `start`: then elapsed time decides.
  return onClock > start ? Math.min(elapsed, onClock) : elapsed;
}

/** The local wall time `local` rounded down to a multiple of `minutes` of the local day. */
function floorToClock(local: DateTime, minutes: number): DateTime {
  const minuteOfDay = local.hour * 60 + local.minute;
  const floored = minuteOfDay - (minuteOfDay % minutes);
  const wall = local.set({ hour: Math.floor(floored / 60), minute: floored % 60, second: 0, millisecond: 0 });
  if (wall.toMillis() <= local.toMillis()) return wall;
  // The wall time is ambiguous (DST overlap) and was read with the other offset: go back in elapsed time.
  return local.minus({ minutes: minuteOfDay % minutes, seconds: local.second, milliseconds: local.millisecond });
}

/** The next instant after `local` at which the local clock shows a multiple of `minutes`. */
function nextOnClock(local: DateTime, minutes: number): number {
  const minuteOfDay = local.hour * 60 + local.minute;
  const next = minuteOfDay - (minuteOfDay % minutes) + minutes;
  if (next >= 24 * 60) return local.plus({ days: 1 }).startOf('day').toMillis();
  return DateTime.fromObject({ year: local.year, month: local.month, day: local.day, hour: Math.floor(next / 60), minute: next % 60 }, { zone: local.zone }).toMillis();
}

/**
 * The intervals of [from, to) (epoch ms), the first and last cut to the range; null when there
 * would be more than `max` (the caller's limit: the answer would be too large).
 */
export function intervalsOf(from: number, to: number, kind: IntervalKind, tz: string, max: number): Interval[] | null {
  const out: Interval[] = [];
  const minutes = MINUTES[kind];
  let day: { start: number; end: number; steady: boolean } | null = null;
  let start = intervalStart(from, kind, tz);
  while (start < to) {
    if (out.length >= max) return null;
    let next: number;
    if (minutes === undefined) next = nextIntervalStart(start, kind, tz);
    else {
      // Within a local day whose offset does not change, the local clock runs with elapsed time:
      // the next boundary is start + length (luxon, which is slow, only once per day).
      if (day === null || start >= day.end) day = localDay(start, tz);
      next = day.steady ? Math.min(start + minutes * 60_000, day.end) : nextIntervalStart(start, kind, tz);
    }
    out.push({ start: Math.max(start, from), end: Math.min(next, to) });
    start = next;
  }
  return out;
}

/** The local day holding `at`, and whether its UTC offset is the same all day. */
function localDay(at: number, tz: string): { start: number; end: number; steady: boolean } {
  const local = DateTime.fromMillis(at, { zone: tz });
  const start = local.startOf('day');
  const end = start.plus({ days: 1 }).startOf('day');
  return { start: start.toMillis(), end: end.toMillis(), steady: start.offset === end.minus({ milliseconds: 1 }).offset && end.toMillis() - start.toMillis() === 86_400_000 };
}

/** Local midnight of the day holding `at` (epoch ms), in `tz`. */
export function startOfLocalDay(at: number, tz: string): number {
  return DateTime.fromMillis(at, { zone: tz }).startOf('day').toMillis();
}

/**
 * `from` / `to` as the API takes them: an ISO 8601 date-time with its offset (`Z` or `+01:00`), or
 * a local date `YYYY-MM-DD` in `tz`, which is that day's local midnight (a range is [from, to):
 * `from=2026-10-25&to=2026-10-26` is the day of the 25th). null when it is neither.
 */
export function parseRangeEdge(text: string, tz: string): number | null {
  if (/^\d{4}-\d{2}-\d{2}$/.test(text)) {
    const day = DateTime.fromISO(text, { zone: tz });
    return day.isValid ? day.startOf('day').toMillis() : null;
  }
  if (!/^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(:\d{2}(\.\d{1,9})?)?(Z|[+-]\d{2}:\d{2})$/.test(text)) return null;
  const at = DateTime.fromISO(text, { setZone: true });
  return at.isValid ? at.toMillis() : null;
}
