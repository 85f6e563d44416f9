/**
 * The site's IANA time zone as the rules desk phones understand: a standard UTC offset and, where
 * the zone observes daylight saving time, "n-th (or last) weekday of month at hour" start and end
 * rules. Derived from the runtime's time zone data (Intl) for a given year, so there is no table to
 * maintain. Zones with more than two changes a year (e.g. Ramadan suspensions) are reduced to their
 * standard offset without DST.
 */

export interface DstRule {
  /** 1-12 */
  readonly month: number;
  /** 1-4 = first..fourth, 5 = last occurrence of the weekday in the month */
  readonly week: number;
  /** 0 = Sunday .. 6 = Saturday */
  readonly weekday: number;
  /** wall-clock time of the change, in the local time in effect before it */
  readonly hour: number;
  readonly minute: number;
}

export interface ZoneRules {
  readonly zone: string;
  /** minutes east of UTC, e.g. 60 for Europe/Berlin, -300 for America/New_York */
  readonly standardOffsetMinutes: number;
  readonly dst: { readonly offsetMinutes: number; readonly start: DstRule; readonly end: DstRule } | null;
}

const MINUTE = 60_000;
const DAY = 86_400_000;

export function zoneRules(zone: string, year: number): ZoneRules {
  const fmt = new Intl.DateTimeFormat('en-US', { timeZone: zone, timeZoneName: 'longOffset' });
  const offsetAt = (t: number): number => {
    const name = fmt.formatToParts(new Date(t)).find((p) => p.type === 'timeZoneName')?.value ?? 'GMT';
    const m = /^GMT([+-])(\d{2}):(\d{2})$/.exec(name);
    return m ? (m[1] === '-' ? -1 : 1) * (Number(m[2]) * 60 + Number(m[3])) : 0;
  };

  const from = Date.UTC(year, 0, 1);
  const to = Date.UTC(year + 1, 0, 1);
  const changes: { at: number; before: number; after: number }[] = [];
  let prev = offsetAt(from);
  for (let t = from + DAY; t <= to; t += DAY) {
    const cur = offsetAt(t);
    if (cur !== prev) {
      // binary search the minute of the change within (t - DAY, t]
      let lo = t - DAY;
      let hi = t;
      while (hi - lo > MINUTE) {
        const mid = lo + Math.floor((hi - lo) / 2 / MINUTE) * MINUTE || lo + MINUTE;
        if (offsetAt(mid) === prev) lo = mid;
        else hi = mid;
      }
      changes.push({ at: hi, before: prev, after: cur });
      prev = cur;
    }
  }

  if (changes.length !== 2 || changes[0]!.before !== changes[1]!.after) {
    return { zone, standardOffsetMinutes: offsetAt(to), dst: null };
  }
  const [a, b] = changes as [(typeof changes)[0], (typeof changes)[0]];
  const start = a.after > a.before ? a : b;
  const end = start === a ? b : a;
  return {
    zone,
    standardOffsetMinutes: start.before,
    dst: { offsetMinutes: start.after, start: ruleOf(start.at, start.before), end: ruleOf(end.at, end.before) },
  };
}

function ruleOf(utcMs: number, offsetBefore: number): DstRule {
  const local = new Date(utcMs + offsetBefore * MINUTE);
  const day = local.getUTCDate();
  const month = local.getUTCMonth() + 1;
  const daysInMonth = new Date(Date.UTC(local.getUTCFullYear(), month, 0)).getUTCDate();
  return {
    month,
    week: day + 7 > daysInMonth ? 5 : Math.ceil(day / 7),
    weekday: local.getUTCDay(),
    hour: local.getUTCHours(),
    minute: local.getUTCMinutes(),
  };
}

/** "+1", "-5", "+5:30", "0": Yealink's local_time.time_zone. */
export function hoursOffset(minutes: number): string {
  if (minutes === 0) return '0';
  const sign = minutes < 0 ? '-' : '+';
  const abs = Math.abs(minutes);
  const h = Math.floor(abs / 60);
  const m = abs % 60;
  return `${sign}${h}${m ? `:${String(m).padStart(2, '0')}` : ''}`;
}

/**
 * POSIX TZ string (used by Grandstream's self-defined time zone), e.g.
 * Europe/Berlin -> "STD-1DST-2,M3.5.0/2:00,M10.5.0/3:00". Names are placeholders (phones show the
 * time, not the abbreviation); the sign is POSIX's: west of Greenwich is positive.
 */
export function posixTz(rules: ZoneRules): string {
  const off = (minutes: number) => {
    const west = -minutes;
    const sign = west < 0 ? '-' : '';
    const abs = Math.abs(west);
    const m = abs % 60;
    return `${sign}${Math.floor(abs / 60)}${m ? `:${String(m).padStart(2, '0')}` : ''}`;
  };
  const rule = (r: DstRule) => `M${r.month}.${r.week}.${r.weekday}/${r.hour}:${String(r.minute).padStart(2, '0')}`;
  if (!rules.dst) return `STD${off(rules.standardOffsetMinutes)}`;
  return `STD${off(rules.standardOffsetMinutes)}DST${off(rules.dst.offsetMinutes)},${rule(rules.dst.start)},${rule(rules.dst.end)}`;
}
