/** src/staffing/forecast.ts: a day's real intervals across DST, the history dates and the weighted average. */
import { describe, expect, it } from 'vitest';
import { daySlots, forecastDay, historyDates } from '../../src/staffing/forecast.js';

describe('daySlots', () => {
  it('a plain day has 48 half hours from local midnight', () => {
    const s = daySlots('2026-12-08', 'Europe/Berlin', 30);
    expect(s).toHaveLength(48);
    expect(s[0]).toMatchObject({ localTime: '00:00', bucket: 0, start: new Date('2026-12-07T23:00:00Z') });
    expect(s[47]).toMatchObject({ localTime: '23:30', bucket: 47, end: new Date('2026-12-08T23:00:00Z') });
  });

  it('clocks forward (Berlin, 29 March 2026): 46 half hours, no 02:00 or 02:30', () => {
    const s = daySlots('2026-03-29', 'Europe/Berlin', 30);
    expect(s).toHaveLength(46);
    expect(s.map((x) => x.localTime).slice(3, 6)).toEqual(['01:30', '03:00', '03:30']);
  });

  it('clocks back (Berlin, 25 October 2026): 50 half hours, 02:00 and 02:30 twice, an hour apart', () => {
    const s = daySlots('2026-10-25', 'Europe/Berlin', 30);
    expect(s).toHaveLength(50);
    const twice = s.filter((x) => x.localTime === '02:00');
    expect(twice).toHaveLength(2);
    expect(twice[1]!.start.getTime() - twice[0]!.start.getTime()).toBe(3_600_000);
    expect(new Set(twice.map((x) => x.bucket))).toEqual(new Set([4]));
  });
});

describe('forecastDay', () => {
  it('history dates: the same weekday, most recent first', () => {
    expect(historyDates('2026-12-08', 3)).toEqual(['2026-12-01', '2026-11-24', '2026-11-17']);
  });

  it('weights 3, 2, 1 (most recent heaviest): calls and AHT per slot, day AHT where a slot has no ended call', () => {
    const history = [
      { date: '2026-12-01', bucket: 18, offered: 30, ended: 2, handleMs: 400_000 }, // 09:00
      { date: '2026-11-24', bucket: 18, offered: 12, ended: 1, handleMs: 100_000 },
      { date: '2026-11-17', bucket: 18, offered: 6, ended: 0, handleMs: 0 },
      { date: '2026-11-17', bucket: 20, offered: 6, ended: 0, handleMs: 0 }, // 10:00: no ended call in any week
    ];
    const f = forecastDay('2026-12-08', 'UTC', 30, 3, history);
    const nine = f.find((s) => s.localTime === '09:00')!;
    expect(nine.calls).toBeCloseTo((3 * 30 + 2 * 12 + 1 * 6) / 6, 12); // 20
    expect(nine.ahtSeconds).toBeCloseTo((3 * 400 + 2 * 100) / (3 * 2 + 2 * 1), 12); // 175 s
    expect(nine.weeks).toBe(3);
    const ten = f.find((s) => s.localTime === '10:00')!;
    expect(ten.calls).toBeCloseTo(1, 12); // 6 / 6
    expect(ten.ahtSeconds).toBeCloseTo(175, 12); // the whole history's, weighted the same way
    expect(f.find((s) => s.localTime === '11:00')).toMatchObject({ calls: 0 });
  });

  it('across DST: a slot a history day lacked leaves that week out; a slot it had twice counts per real interval', () => {
    // 2026-11-01 (Sunday) forecast from 2026-10-25 (clocks back: 02:00 twice) and 2026-10-18; then
    // 2026-04-05 from 2026-03-29 (clocks forward: no 02:00) and 2026-03-22.
    const back = forecastDay('2026-11-01', 'Europe/Berlin', 30, 2, [
      { date: '2026-10-25', bucket: 4, offered: 20, ended: 0, handleMs: 0 },
      { date: '2026-10-18', bucket: 4, offered: 4, ended: 0, handleMs: 0 },
    ]);
    expect(back.find((s) => s.localTime === '02:00')!.calls).toBeCloseTo((2 * (20 / 2) + 1 * 4) / 3, 12); // 8
    const forward = forecastDay('2026-04-05', 'Europe/Berlin', 30, 2, [{ date: '2026-03-22', bucket: 4, offered: 9, ended: 0, handleMs: 0 }]);
    expect(forward.find((s) => s.localTime === '02:00')).toMatchObject({ calls: 9, weeks: 1 });
  });
});
