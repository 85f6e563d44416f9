/**
 * Calling windows in the contact's local time (pure; luxon for zones and DST).
 *
 * A contact has the IANA zones it may be in (tables.ts, campaign_contacts.time_zones): one when a
 * column, a known area code or a single-zone country says so; several for a number of a country
 * with many zones whose area is not known (it is callable only when the window is open in every
 * one of them: the conservative reading); none when nothing is known (never callable).
 *
 * The window is [start, end) local wall-clock time on the listed ISO weekdays (1 = Monday). On a
 * day a DST change skips the start time, the window opens at the first valid minute after it.
 */
import { DateTime } from 'luxon';

export interface CallingWindow {
  /** 'HH:MM', inclusive. */
  readonly start: string;
  /** 'HH:MM', exclusive; after start (a window does not cross midnight). */
  readonly end: string;
  /** ISO weekdays, 1 = Monday .. 7 = Sunday. */
  readonly days: readonly number[];
}

function minutesOf(hhmm: string): number {
  const m = /^([01][0-9]|2[0-3]):([0-5][0-9])$/.exec(hhmm);
  if (!m) throw new RangeError(`not a time of day (HH:MM): ${hhmm}`);
  return Number(m[1]) * 60 + Number(m[2]);
}

/** A window's shape is valid: both times HH:MM, start before end, days 1-7 without repeats. */
export function windowProblem(w: CallingWindow): string | null {
  let s: number;
  let e: number;
  try {
    s = minutesOf(w.start);
    e = minutesOf(w.end);
  } catch (err) {
    return (err as Error).message;
  }
  if (s >= e) return 'the window must start before it ends (it cannot cross midnight)';
  if (w.days.length === 0) return 'the window needs at least one day';
  if (w.days.some((d) => !Number.isInteger(d) || d < 1 || d > 7)) return 'days are ISO weekdays 1 (Monday) to 7 (Sunday)';
  if (new Set(w.days).size !== w.days.length) return 'a day is listed twice';
  return null;
}

function openIn(zone: string, w: CallingWindow, at: Date): boolean {
  const local = DateTime.fromJSDate(at, { zone });
  if (!local.isValid) return false;
  if (!w.days.includes(local.weekday)) return false;
  const m = local.hour * 60 + local.minute;
  return m >= minutesOf(w.start) && m < minutesOf(w.end);
}

/** Whether `at` is inside the window in every one of `zones` (none: never). */
export function inWindow(zones: readonly string[], w: CallingWindow, at: Date): boolean {
  return zones.length > 0 && zones.every((z) => openIn(z, w, at));
}

/**
 * The earliest instant at or after `at` when inWindow holds, looking 8 days ahead; null when there
 * is none (no zones, an unknown zone, or windows of several zones that never overlap).
 */
export function nextOpening(zones: readonly string[], w: CallingWindow, at: Date): Date | null {
  if (zones.length === 0) return null;
  if (inWindow(zones, w, at)) return at;
  const startMin = minutesOf(w.start);
  // The window opens in all zones at the moment it opens in the last of them: a candidate is a
  // window start in one of the zones.
  const candidates: number[] = [];
  for (const zone of zones) {
    const here = DateTime.fromJSDate(at, { zone });
    if (!here.isValid) return null;
    for (let d = 0; d <= 8; d += 1) {
      const day = here.startOf('day').plus({ days: d });
      const open = day.set({ hour: Math.floor(startMin / 60), minute: startMin % 60 });
      const ms = open.toMillis();
      if (ms > at.getTime()) candidates.push(ms);
    }
  }
  candidates.sort((a, b) => a - b);
  for (const ms of candidates) if (inWindow(zones, w, new Date(ms))) return new Date(ms);
  return null;
}
