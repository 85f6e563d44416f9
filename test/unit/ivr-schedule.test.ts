import { describe, expect, it } from 'vitest';
import type { ScheduleSpec } from '../../src/ivr/model.js';
import { isValidDate, localTime, parseTime, scheduleState, validateSchedule } from '../../src/ivr/schedule.js';

const office = (timezone?: string): ScheduleSpec => ({
  ...(timezone ? { timezone } : {}),
  hours: {
    mon: [{ from: '09:00', to: '17:00' }], tue: [{ from: '09:00', to: '17:00' }], wed: [{ from: '09:00', to: '17:00' }],
    thu: [{ from: '09:00', to: '17:00' }], fri: [{ from: '09:00', to: '17:00' }],
  },
  holidays: [],
});
const at = (iso: string) => new Date(iso);

describe('scheduleState: office hours', () => {
  it('is open from `from` (included) to `to` (excluded), closed on days without hours', () => {
    const s = office('UTC');
    expect(scheduleState(s, at('2026-03-02T08:59:59Z'), 'UTC')).toBe('closed'); // Monday
    expect(scheduleState(s, at('2026-03-02T09:00:00Z'), 'UTC')).toBe('open');
    expect(scheduleState(s, at('2026-03-02T16:59:59Z'), 'UTC')).toBe('open');
    expect(scheduleState(s, at('2026-03-02T17:00:00Z'), 'UTC')).toBe('closed');
    expect(scheduleState(s, at('2026-03-07T12:00:00Z'), 'UTC')).toBe('closed'); // Saturday
  });

  it('several ranges a day (lunch break)', () => {
    const s: ScheduleSpec = { timezone: 'UTC', hours: { tue: [{ from: '13:30', to: '18:00' }, { from: '08:00', to: '12:00' }] }, holidays: [] };
    expect(scheduleState(s, at('2026-03-03T08:00:00Z'), 'UTC')).toBe('open');
    expect(scheduleState(s, at('2026-03-03T12:15:00Z'), 'UTC')).toBe('closed');
    expect(scheduleState(s, at('2026-03-03T13:30:00Z'), 'UTC')).toBe('open');
  });

  it("'24:00' ends the day: open at 23:59:59, closed at midnight of the next day", () => {
    const s: ScheduleSpec = { timezone: 'UTC', hours: { sat: [{ from: '20:00', to: '24:00' }] }, holidays: [] };
    expect(scheduleState(s, at('2026-03-07T23:59:59Z'), 'UTC')).toBe('open');
    expect(scheduleState(s, at('2026-03-08T00:00:00Z'), 'UTC')).toBe('closed');
    const all: ScheduleSpec = { timezone: 'UTC', hours: { sun: [{ from: '00:00', to: '24:00' }] }, holidays: [] };
    expect(scheduleState(all, at('2026-03-08T00:00:00Z'), 'UTC')).toBe('open');
    expect(scheduleState(all, at('2026-03-08T23:59:59Z'), 'UTC')).toBe('open');
  });

  it("uses the site's zone when the schedule has none, and the schedule's own when it has one", () => {
    // Monday 2026-03-02 08:30 UTC = 09:30 in Paris (CET) = 03:30 in New York
    expect(scheduleState(office(), at('2026-03-02T08:30:00Z'), 'Europe/Paris')).toBe('open');
    expect(scheduleState(office(), at('2026-03-02T08:30:00Z'), 'America/New_York')).toBe('closed');
    expect(scheduleState(office('America/New_York'), at('2026-03-02T08:30:00Z'), 'Europe/Paris')).toBe('closed');
  });

  it('an unknown zone falls back to the site zone; an invalid date is closed; nothing throws', () => {
    expect(scheduleState(office('Mars/Olympus'), at('2026-03-02T08:30:00Z'), 'Europe/Paris')).toBe('open');
    expect(scheduleState(office('Mars/Olympus'), at('2026-03-02T10:30:00Z'), 'Nowhere/Either')).toBe('open'); // UTC
    expect(scheduleState(office('UTC'), new Date(NaN), 'UTC')).toBe('closed');
  });
});

describe('scheduleState: daylight saving time', () => {
  it('Europe/Paris spring forward (2026-03-29, 02:00 CET -> 03:00 CEST): the same UTC time is an hour later', () => {
    const s = office('Europe/Paris');
    // Friday before: 09:00 CET = 08:00 UTC
    expect(scheduleState(s, at('2026-03-27T07:59:59Z'), 'UTC')).toBe('closed');
    expect(scheduleState(s, at('2026-03-27T08:00:00Z'), 'UTC')).toBe('open');
    expect(scheduleState(s, at('2026-03-27T15:59:59Z'), 'UTC')).toBe('open');
    expect(scheduleState(s, at('2026-03-27T16:00:00Z'), 'UTC')).toBe('closed');
    // Monday after: 09:00 CEST = 07:00 UTC
    expect(scheduleState(s, at('2026-03-30T06:59:59Z'), 'UTC')).toBe('closed');
    expect(scheduleState(s, at('2026-03-30T07:00:00Z'), 'UTC')).toBe('open');
    expect(scheduleState(s, at('2026-03-30T15:00:00Z'), 'UTC')).toBe('closed');
  });

  it('Europe/Paris: the skipped hour does not exist, 01:59:59 CET is followed by 03:00 CEST', () => {
    const s: ScheduleSpec = { timezone: 'Europe/Paris', hours: { sun: [{ from: '03:00', to: '04:00' }] }, holidays: [] };
    expect(localTime(at('2026-03-29T00:59:59Z'), 'Europe/Paris')).toEqual({ weekday: 'sun', date: '2026-03-29', second: 1 * 3600 + 59 * 60 + 59 });
    expect(scheduleState(s, at('2026-03-29T00:59:59Z'), 'UTC')).toBe('closed');
    expect(scheduleState(s, at('2026-03-29T01:00:00Z'), 'UTC')).toBe('open');
    expect(scheduleState(s, at('2026-03-29T01:59:59Z'), 'UTC')).toBe('open');
    expect(scheduleState(s, at('2026-03-29T02:00:00Z'), 'UTC')).toBe('closed');
  });

  it('Europe/Paris fall back (2026-10-25, 03:00 CEST -> 02:00 CET): 02:00-03:00 happens twice, open both times', () => {
    const s: ScheduleSpec = { timezone: 'Europe/Paris', hours: { sun: [{ from: '02:00', to: '03:00' }] }, holidays: [] };
    expect(scheduleState(s, at('2026-10-24T23:59:59Z'), 'UTC')).toBe('closed'); // 01:59:59 CEST
    expect(scheduleState(s, at('2026-10-25T00:00:00Z'), 'UTC')).toBe('open'); // 02:00 CEST
    expect(scheduleState(s, at('2026-10-25T00:59:59Z'), 'UTC')).toBe('open'); // 02:59:59 CEST
    expect(scheduleState(s, at('2026-10-25T01:00:00Z'), 'UTC')).toBe('open'); // 02:00 CET again
    expect(scheduleState(s, at('2026-10-25T01:59:59Z'), 'UTC')).toBe('open');
    expect(scheduleState(s, at('2026-10-25T02:00:00Z'), 'UTC')).toBe('closed'); // 03:00 CET
  });

  it('America/New_York spring forward (2026-03-08) and fall back (2026-11-01)', () => {
    const s = office('America/New_York');
    // Friday 2026-03-06, EST (UTC-5): 09:00 = 14:00 UTC
    expect(scheduleState(s, at('2026-03-06T13:59:59Z'), 'UTC')).toBe('closed');
    expect(scheduleState(s, at('2026-03-06T14:00:00Z'), 'UTC')).toBe('open');
    expect(scheduleState(s, at('2026-03-06T21:59:59Z'), 'UTC')).toBe('open');
    // Monday 2026-03-09, EDT (UTC-4): 09:00 = 13:00 UTC, 17:00 = 21:00 UTC
    expect(scheduleState(s, at('2026-03-09T12:59:59Z'), 'UTC')).toBe('closed');
    expect(scheduleState(s, at('2026-03-09T13:00:00Z'), 'UTC')).toBe('open');
    expect(scheduleState(s, at('2026-03-09T21:00:00Z'), 'UTC')).toBe('closed');
    // Friday 2026-10-30 EDT, Monday 2026-11-02 EST
    expect(scheduleState(s, at('2026-10-30T13:00:00Z'), 'UTC')).toBe('open');
    expect(scheduleState(s, at('2026-11-02T13:00:00Z'), 'UTC')).toBe('closed');
    expect(scheduleState(s, at('2026-11-02T14:00:00Z'), 'UTC')).toBe('open');
    // the night of the change: 01:30 happens twice (EDT 05:30 UTC, EST 06:30 UTC)
    const night: ScheduleSpec = { timezone: 'America/New_York', hours: { sun: [{ from: '01:00', to: '02:00' }] }, holidays: [] };
    expect(scheduleState(night, at('2026-11-01T05:30:00Z'), 'UTC')).toBe('open');
    expect(scheduleState(night, at('2026-11-01T06:30:00Z'), 'UTC')).toBe('open');
    expect(scheduleState(night, at('2026-11-01T07:00:00Z'), 'UTC')).toBe('closed');
  });
});

describe('scheduleState: holidays', () => {
  it('a holiday wins over office hours', () => {
    const s: ScheduleSpec = { ...office('UTC'), holidays: [{ date: '2026-12-25', name: 'Christmas' }] };
    expect(scheduleState(s, at('2026-12-25T10:00:00Z'), 'UTC')).toBe('holiday'); // a Friday
    expect(scheduleState(s, at('2026-12-24T10:00:00Z'), 'UTC')).toBe('open');
    expect(scheduleState(s, at('2026-12-25T03:00:00Z'), 'UTC')).toBe('holiday'); // all day, also outside hours
  });

  it('a range includes its first and last day', () => {
    const s: ScheduleSpec = { ...office('UTC'), holidays: [{ from: '2026-12-24', to: '2026-12-28' }] };
    expect(scheduleState(s, at('2026-12-23T23:59:59Z'), 'UTC')).toBe('closed');
    expect(scheduleState(s, at('2026-12-24T00:00:00Z'), 'UTC')).toBe('holiday');
    expect(scheduleState(s, at('2026-12-28T23:59:59Z'), 'UTC')).toBe('holiday');
    expect(scheduleState(s, at('2026-12-29T09:00:00Z'), 'UTC')).toBe('open');
  });

  it("the date is the zone's date, not UTC's", () => {
    const s: ScheduleSpec = { hours: {}, holidays: [{ date: '2026-01-01' }] };
    // 2025-12-31 23:30 UTC is already New Year's Day in Paris, still New Year's Eve in New York
    expect(scheduleState(s, at('2025-12-31T23:30:00Z'), 'Europe/Paris')).toBe('holiday');
    expect(scheduleState(s, at('2025-12-31T23:30:00Z'), 'America/New_York')).toBe('closed');
    expect(scheduleState(s, at('2026-01-02T03:30:00Z'), 'America/New_York')).toBe('holiday'); // 22:30 on Jan 1
  });
});

describe('validateSchedule', () => {
  it('a good schedule has no problems', () => {
    const s: ScheduleSpec = {
      timezone: 'Europe/Paris',
      hours: { mon: [{ from: '08:00', to: '12:00' }, { from: '12:00', to: '24:00' }] },
      holidays: [{ date: '2028-02-29' }, { from: '2026-12-24', to: '2026-12-24' }],
    };
    expect(validateSchedule(s)).toEqual([]);
  });

  it('reports bad times, empty and overlapping ranges with their field', () => {
    const s: ScheduleSpec = {
      hours: {
        mon: [{ from: '9:00', to: '25:00' }],
        tue: [{ from: '17:00', to: '09:00' }, { from: '10:00', to: '10:00' }],
        wed: [{ from: '13:00', to: '18:00' }, { from: '08:00', to: '13:30' }],
        thu: [{ from: '24:00', to: '24:00' }, { from: '12:60', to: '13:00' }],
      },
      holidays: [],
    };
    expect(validateSchedule(s).map((p) => [p.field, p.code])).toEqual([
      ['hours.mon[0].from', 'bad-time'],
      ['hours.mon[0].to', 'bad-time'],
      ['hours.tue[0]', 'empty-range'],
      ['hours.tue[1]', 'empty-range'],
      ['hours.wed[1]', 'overlapping-ranges'],
      ['hours.thu[0].from', 'bad-time'],
      ['hours.thu[1].from', 'bad-time'],
    ]);
  });

  it('reports an unknown zone, impossible dates and backwards ranges', () => {
    const s: ScheduleSpec = {
      timezone: 'Europe/Pariss',
      hours: {},
      holidays: [{ date: '2026-02-30' }, { date: '2027-02-29' }, { from: '2026-12-31', to: '2026-01-01' }, { from: '2026-13-01', to: '2026-13-02' }],
    };
    expect(validateSchedule(s).map((p) => [p.field, p.code])).toEqual([
      ['timezone', 'unknown-timezone'],
      ['holidays[0].date', 'bad-date'],
      ['holidays[1].date', 'bad-date'],
      ['holidays[2]', 'bad-date-range'],
      ['holidays[3].from', 'bad-date'],
      ['holidays[3].to', 'bad-date'],
    ]);
    expect(validateSchedule(s)[0]!.message).toContain('Europe/Pariss');
  });

  it('parseTime and isValidDate', () => {
    expect(parseTime('00:00', false)).toBe(0);
    expect(parseTime('23:59', false)).toBe(1439);
    expect(parseTime('24:00', true)).toBe(1440);
    expect(parseTime('24:00', false)).toBeNull();
    expect(parseTime('24:01', true)).toBeNull();
    expect(parseTime('7:00', false)).toBeNull();
    expect(isValidDate('2024-02-29')).toBe(true);
    expect(isValidDate('2026-02-29')).toBe(false);
    expect(isValidDate('2026-04-31')).toBe(false);
    expect(isValidDate('2026-1-01')).toBe(false);
  });
});
