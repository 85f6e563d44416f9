/**
 * Office hours and holidays for the IVR `schedule` node: is the office open, closed or on holiday
 * at a given instant?
 *
 * The instant is formatted in the schedule's time zone (or the site's) with Intl.DateTimeFormat, so
 * the weekday, wall-clock time and date are what a person in that zone sees, daylight saving time
 * included; no date library. Rules:
 *   - holidays win over hours; a holiday is one date or a from..to range with both days included;
 *   - an hour range is from..to with `from` included and `to` excluded (09:00-12:00 and 12:00-17:00
 *     touch, they do not overlap); `to` may be '24:00' (end of the day);
 *   - a day without ranges is closed.
 *
 * Pure (formatters are cached per zone, which changes nothing observable).
 */
import { WEEKDAYS, type ScheduleSpec, type TimeRange, type Weekday } from './model.js';

export type ScheduleState = 'open' | 'closed' | 'holiday';

export interface ScheduleProblem {
  /** Path inside the schedule node, e.g. 'timezone', 'hours.mon[1].to', 'holidays[0].date'. */
  readonly field: string;
  readonly code: 'bad-time' | 'empty-range' | 'overlapping-ranges' | 'unknown-timezone' | 'bad-date' | 'bad-date-range';
  readonly message: string;
}

interface LocalTime {
  readonly weekday: Weekday;
  /** 'YYYY-MM-DD' in the zone. */
  readonly date: string;
  /** Seconds since local midnight. */
  readonly second: number;
}

const formatters = new Map<string, Intl.DateTimeFormat>();
const SHORT_DAYS: Record<string, Weekday> = { Mon: 'mon', Tue: 'tue', Wed: 'wed', Thu: 'thu', Fri: 'fri', Sat: 'sat', Sun: 'sun' };

/** True when Intl knows the zone. */
export function isKnownTimeZone(tz: string): boolean {
  return formatterFor(tz) !== null;
}

function formatterFor(tz: string): Intl.DateTimeFormat | null {
  const cached = formatters.get(tz);
  if (cached) return cached;
  try {
    const f = new Intl.DateTimeFormat('en-US', {
      timeZone: tz, weekday: 'short', year: 'numeric', month: '2-digit', day: '2-digit',
      hour: '2-digit', minute: '2-digit', second: '2-digit', hourCycle: 'h23',
    });
    if (formatters.size > 500) formatters.clear();
    formatters.set(tz, f);
    return f;
  } catch {
    return null; // RangeError: unknown time zone
  }
}

/** Weekday, date and time of day of `at` in zone `tz`; null for an unknown zone or an invalid date. */
export function localTime(at: Date, tz: string): LocalTime | null {
  const f = formatterFor(tz);
  if (!f || Number.isNaN(at.getTime())) return null;
  const parts: Record<string, string> = {};
  for (const p of f.formatToParts(at)) parts[p.type] = p.value;
  const weekday = SHORT_DAYS[parts.weekday ?? ''];
  if (!weekday) return null;
  const hour = Number(parts.hour) % 24; // some engines say '24' at midnight
  return {
    weekday,
    date: `${parts.year}-${parts.month}-${parts.day}`,
    second: hour * 3600 + Number(parts.minute) * 60 + Number(parts.second),
  };
}

/**
 * Open, closed or holiday at `at`. The schedule's zone wins over `defaultTz`; an unknown zone falls
 * back to `defaultTz`, then UTC (validateSchedule reports it; a running call must not fail).
 * An invalid date is 'closed'.
 */
export function scheduleState(schedule: ScheduleSpec, at: Date, defaultTz: string): ScheduleState {
  const local = localTime(at, schedule.timezone ?? defaultTz) ?? localTime(at, defaultTz) ?? localTime(at, 'UTC');
  if (!local) return 'closed';
  for (const h of schedule.holidays) {
    if ('date' in h ? h.date === local.date : h.from <= local.date && local.date <= h.to) return 'holiday';
  }
  for (const r of schedule.hours[local.weekday] ?? []) {
    const from = parseTime(r.from, false);
    const to = parseTime(r.to, true);
    if (from === null || to === null) continue;
    if (from * 60 <= local.second && local.second < to * 60) return 'open';
  }
  return 'closed';
}

/** Minutes since midnight for 'HH:MM'; '24:00' only when it is an end. Null when malformed. */
export function parseTime(s: string, isEnd: boolean): number | null {
  const m = /^([0-9]{2}):([0-9]{2})$/.exec(s);
  if (!m) return null;
  const h = Number(m[1]);
  const min = Number(m[2]);
  if (h === 24 && min === 0 && isEnd) return 24 * 60;
  if (h > 23 || min > 59) return null;
  return h * 60 + min;
}

/** True for a real calendar date 'YYYY-MM-DD' (no 2026-02-30). */
export function isValidDate(s: string): boolean {
  const m = /^([0-9]{4})-([0-9]{2})-([0-9]{2})$/.exec(s);
  if (!m) return false;
  const [y, mo, d] = [Number(m[1]), Number(m[2]), Number(m[3])];
  const t = new Date(Date.UTC(y, mo - 1, d));
  return t.getUTCFullYear() === y && t.getUTCMonth() === mo - 1 && t.getUTCDate() === d;
}

/** Everything wrong with a schedule, in a stable order; [] when it is fine. */
export function validateSchedule(schedule: ScheduleSpec): ScheduleProblem[] {
  const problems: ScheduleProblem[] = [];
  if (schedule.timezone !== undefined && !isKnownTimeZone(schedule.timezone)) {
    problems.push({ field: 'timezone', code: 'unknown-timezone', message: `unknown time zone '${schedule.timezone}' (use an IANA name such as 'Europe/Paris')` });
  }
  for (const day of WEEKDAYS) {
    const ranges: readonly TimeRange[] = schedule.hours[day] ?? [];
    const good: Array<{ from: number; to: number; i: number }> = [];
    ranges.forEach((r, i) => {
      const at = `hours.${day}[${i}]`;
      const from = parseTime(r.from, false);
      const to = parseTime(r.to, true);
      if (from === null) problems.push({ field: `${at}.from`, code: 'bad-time', message: `${at}.from '${r.from}' is not a time 'HH:MM' from 00:00 to 23:59` });
      if (to === null) problems.push({ field: `${at}.to`, code: 'bad-time', message: `${at}.to '${r.to}' is not a time 'HH:MM' from 00:00 to 24:00` });
      if (from === null || to === null) return;
      if (from >= to) {
        problems.push({ field: at, code: 'empty-range', message: `${at} ${r.from}-${r.to} ends before it starts` });
        return;
      }
      good.push({ from, to, i });
    });
    good.sort((a, b) => a.from - b.from || a.i - b.i);
    for (let k = 1; k < good.length; k++) {
      const prev = good[k - 1]!;
      const cur = good[k]!;
      if (cur.from < prev.to) {
        const [a, b] = [Math.min(prev.i, cur.i), Math.max(prev.i, cur.i)];
        problems.push({ field: `hours.${day}[${b}]`, code: 'overlapping-ranges', message: `hours.${day}[${b}] overlaps hours.${day}[${a}]` });
      }
    }
  }
  schedule.holidays.forEach((h, i) => {
    const at = `holidays[${i}]`;
    if ('date' in h) {
      if (!isValidDate(h.date)) problems.push({ field: `${at}.date`, code: 'bad-date', message: `${at}.date '${h.date}' is not a calendar date` });
      return;
    }
    const fromOk = isValidDate(h.from);
    const toOk = isValidDate(h.to);
    if (!fromOk) problems.push({ field: `${at}.from`, code: 'bad-date', message: `${at}.from '${h.from}' is not a calendar date` });
    if (!toOk) problems.push({ field: `${at}.to`, code: 'bad-date', message: `${at}.to '${h.to}' is not a calendar date` });
    if (fromOk && toOk && h.from > h.to) {
      problems.push({ field: at, code: 'bad-date-range', message: `${at} runs from ${h.from} back to ${h.to}` });
    }
  });
  return problems;
}
