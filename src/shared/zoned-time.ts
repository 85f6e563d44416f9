/**
 * Times as a site reads them: ISO 8601 local time with its UTC offset, to the second
 * (`2026-03-29T03:00:00+02:00`). The offset makes every time unambiguous, the repeated hour of
 * a DST change included, and a program can read it back to the exact instant.
 *
 * For exports of millions of rows the offset is looked up with Intl once per hour of UTC, not per
 * row: when the offsets at its start and at its last second agree, the whole hour has that offset
 * (no zone changes its offset twice within an hour); an hour that holds a change is computed per
 * time. Offsets are whole minutes (the seconds of pre-1900 local mean
 * times are dropped).
 */

/** An IANA zone name (`Europe/Berlin`, `UTC`) that this Node knows; offsets like `+01:00` are not names. */
export function isTimeZone(name: string): boolean {
  if (!/^[A-Za-z][A-Za-z0-9_+-]*(\/[A-Za-z0-9_+-]+)*$/.test(name) || name.length > 64) return false;
  try {
    new Intl.DateTimeFormat('en', { timeZone: name });
    return true;
  } catch {
    return false;
  }
}

const HOUR_MS = 3_600_000;
const CACHE_MAX = 1024;

/** Formats instants in `timeZone` (check it with isTimeZone first: an unknown zone throws RangeError). */
export function zonedIso(timeZone: string): (at: Date) => string {
  const parts = new Intl.DateTimeFormat('en-US', {
    timeZone, hourCycle: 'h23', year: 'numeric', month: 'numeric', day: 'numeric', hour: 'numeric', minute: 'numeric', second: 'numeric',
  });
  const offsetAt = (ms: number): number => {
    const f: Record<string, number> = {};
    for (const p of parts.formatToParts(new Date(ms))) if (p.type !== 'literal') f[p.type] = Number(p.value);
    const local = Date.UTC(f.year!, f.month! - 1, f.day!, f.hour!, f.minute!, f.second!);
    return local - (ms - mod(ms, 1000));
  };
  // hour (UTC) -> its offset; NaN: the offset changes within it
  const hours = new Map<number, number>();
  const offsetOf = (ms: number): number => {
    const h = Math.floor(ms / HOUR_MS);
    let off = hours.get(h);
    if (off === undefined) {
      const start = offsetAt(h * HOUR_MS);
      off = start === offsetAt((h + 1) * HOUR_MS - 1000) ? start : Number.NaN;
      if (hours.size >= CACHE_MAX) hours.clear();
      hours.set(h, off);
    }
    return Number.isNaN(off) ? offsetAt(ms) : off;
  };
  return (at: Date): string => {
    const ms = at.getTime();
    const off = offsetOf(ms);
    const l = new Date(ms - mod(ms, 1000) + off);
    const abs = Math.trunc(Math.abs(off) / 60_000);
    return `${pad(l.getUTCFullYear(), 4)}-${pad(l.getUTCMonth() + 1)}-${pad(l.getUTCDate())}T${pad(l.getUTCHours())}:${pad(l.getUTCMinutes())}:${pad(l.getUTCSeconds())}`
      + `${off < 0 ? '-' : '+'}${pad(Math.floor(abs / 60))}:${pad(abs % 60)}`;
  };
}

const mod = (a: number, b: number): number => ((a % b) + b) % b;
const pad = (n: number, width = 2): string => String(n).padStart(width, '0');
