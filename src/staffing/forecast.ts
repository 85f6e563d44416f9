/**
 * The per-interval forecast of a day from the site's own history, pure (docs/staffing.md#forecast).
 *
 * Intervals are slots of the local wall clock (00:00, 00:30, ... in the site's time zone). A day is
 * cut into its real intervals: from local midnight to the next, in steps of the interval, so a day
 * when clocks go forward has fewer (02:00 and 02:30 do not exist) and a day when they go back has
 * the repeated hour's slots twice. History is counted per real interval: a slot that occurred twice
 * on a history day has its calls halved; a slot that did not occur leaves that week out of the
 * slot's average.
 *
 * Method: the same weekday over the last N weeks, weighted linearly toward the recent: week k back
 * (k = 1..N) weighs N - k + 1. Calls = sum(w_k * calls_k) / sum(w_k); AHT = sum(w_k * handle_k) /
 * sum(w_k * ended_k) over the same weeks, or the whole history's when the slot has no ended call.
 */
import { DateTime } from 'luxon';

export interface DaySlot {
  readonly start: Date;
  readonly end: Date;
  /** Local start time, HH:mm. */
  readonly localTime: string;
  /** Minutes since local midnight of the slot's start, divided by the interval, rounded down. */
  readonly bucket: number;
}

/** The real intervals of a local calendar day (YYYY-MM-DD) in `zone`. */
export function daySlots(date: string, zone: string, intervalMinutes: number): DaySlot[] {
  const first = DateTime.fromISO(date, { zone }).startOf('day');
  const next = first.plus({ days: 1 }).startOf('day');
  const slots: DaySlot[] = [];
  for (let at = first; at < next; ) {
    const end = DateTime.min(at.plus({ minutes: intervalMinutes }), next);
    slots.push({ start: at.toJSDate(), end: end.toJSDate(), localTime: at.toFormat('HH:mm'), bucket: Math.floor((at.hour * 60 + at.minute) / intervalMinutes) });
    at = end;
  }
  return slots;
}

/** The same weekday, 1..weeks weeks before `date` (most recent first), as YYYY-MM-DD. */
export function historyDates(date: string, weeks: number): string[] {
  const day = DateTime.fromISO(date, { zone: 'UTC' });
  return Array.from({ length: weeks }, (_, i) => day.minus({ weeks: i + 1 }).toISODate()!);
}

/** Weight of the week k back (1 = last week) of `weeks`. */
export const weekWeight = (k: number, weeks: number): number => weeks - k + 1;

/** Events of one local day and slot bucket, as the history query counts them. */
export interface SlotHistory {
  readonly date: string;
  readonly bucket: number;
  readonly offered: number;
  readonly ended: number;
  readonly handleMs: number;
}

export interface SlotForecast {
  readonly start: Date;
  readonly end: Date;
  readonly localTime: string;
  /** Forecast offered calls in this interval (fractional: an average). */
  readonly calls: number;
  /** Forecast AHT in seconds; null when the history has no ended call at all. */
  readonly ahtSeconds: number | null;
  /** History weeks that had this slot. */
  readonly weeks: number;
}

/**
 * The forecast for each real interval of `date`. `history` holds the counted slots of the history
 * dates (historyDates(date, weeks)); a slot absent there had no events.
 */
export function forecastDay(date: string, zone: string, intervalMinutes: number, weeks: number, history: readonly SlotHistory[]): SlotForecast[] {
  const dates = historyDates(date, weeks);
  const byKey = new Map(history.map((h) => [`${h.date}/${h.bucket}`, h]));
  // How many real intervals each bucket had on each history day (1; 2 when clocks went back; 0 forward).
  const occurrences = dates.map((d) => {
    const counts = new Map<number, number>();
    for (const s of daySlots(d, zone, intervalMinutes)) counts.set(s.bucket, (counts.get(s.bucket) ?? 0) + 1);
    return counts;
  });
  let dayHandle = 0;
  let dayEnded = 0;
  dates.forEach((d, i) => {
    const w = weekWeight(i + 1, weeks);
    for (const h of history) {
      if (h.date !== d) continue;
      dayHandle += w * h.handleMs;
      dayEnded += w * h.ended;
    }
  });
  const dayAht = dayEnded > 0 ? dayHandle / dayEnded / 1000 : null;
  return daySlots(date, zone, intervalMinutes).map((slot) => {
    let weightSum = 0;
    let calls = 0;
    let handle = 0;
    let ended = 0;
    let used = 0;
    dates.forEach((d, i) => {
      const times = occurrences[i]!.get(slot.bucket) ?? 0;
      if (times === 0) return;
      const w = weekWeight(i + 1, weeks);
      const h = byKey.get(`${d}/${slot.bucket}`);
      weightSum += w;
      used++;
      calls += (w * (h?.offered ?? 0)) / times;
      handle += w * (h?.handleMs ?? 0);
      ended += w * (h?.ended ?? 0);
    });
    return {
      start: slot.start,
      end: slot.end,
      localTime: slot.localTime,
      calls: weightSum > 0 ? calls / weightSum : 0,
      ahtSeconds: ended > 0 ? handle / ended / 1000 : dayAht,
      weeks: used,
    };
  });
}
