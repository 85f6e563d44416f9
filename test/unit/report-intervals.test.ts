import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { intervalsOf, parseRangeEdge, startOfLocalDay, type IntervalKind } from '../../src/reports/intervals.js';
import { zonedIso } from '../../src/shared/zoned-time.js';

const localIso = (at: number, tz: string) => zonedIso(tz)(new Date(at));

const ms = (iso: string) => new Date(iso).getTime();
const H = 3_600_000;
const cut = (from: string, to: string, kind: IntervalKind, tz: string) => intervalsOf(ms(from), ms(to), kind, tz, 100_000)!;
const starts = (from: string, to: string, kind: IntervalKind, tz: string) => cut(from, to, kind, tz).map((i) => localIso(i.start, tz));

describe('report intervals across DST', () => {
  it('Europe/Berlin spring day (2026-03-29): 23 hours, 23 hourly and 92 quarter-hour intervals, 02:00 does not exist', () => {
    const day = cut('2026-03-28T23:00:00Z', '2026-03-29T22:00:00Z', 'day', 'Europe/Berlin');
    expect(day).toEqual([{ start: ms('2026-03-28T23:00:00Z'), end: ms('2026-03-29T22:00:00Z') }]);
    const hours = starts('2026-03-28T23:00:00Z', '2026-03-29T22:00:00Z', '1h', 'Europe/Berlin');
    expect(hours).toHaveLength(23);
    expect(hours.slice(0, 4)).toEqual(['2026-03-29T00:00:00+01:00', '2026-03-29T01:00:00+01:00', '2026-03-29T03:00:00+02:00', '2026-03-29T04:00:00+02:00']);
    expect(cut('2026-03-28T23:00:00Z', '2026-03-29T22:00:00Z', '15m', 'Europe/Berlin')).toHaveLength(92);
    for (const i of cut('2026-03-28T23:00:00Z', '2026-03-29T22:00:00Z', '30m', 'Europe/Berlin')) expect(i.end - i.start).toBe(H / 2);
  });

  it('Europe/Berlin autumn day (2026-10-25): 25 hours, 02:00 twice (CEST then CET), 100 quarter hours', () => {
    const from = parseRangeEdge('2026-10-25', 'Europe/Berlin')!;
    const to = parseRangeEdge('2026-10-26', 'Europe/Berlin')!;
    expect(to - from).toBe(25 * H);
    const hours = intervalsOf(from, to, '1h', 'Europe/Berlin', 1000)!.map((i) => localIso(i.start, 'Europe/Berlin'));
    expect(hours).toHaveLength(25);
    expect(hours.slice(1, 5)).toEqual(['2026-10-25T01:00:00+02:00', '2026-10-25T02:00:00+02:00', '2026-10-25T02:00:00+01:00', '2026-10-25T03:00:00+01:00']);
    expect(intervalsOf(from, to, '15m', 'Europe/Berlin', 1000)).toHaveLength(100);
  });

  it('America/New_York: 2026-03-08 has 23 hours, 2026-11-01 has 25; a day starts at local midnight', () => {
    const tz = 'America/New_York';
    const days = intervalsOf(parseRangeEdge('2026-03-07', tz)!, parseRangeEdge('2026-03-10', tz)!, 'day', tz, 10)!;
    expect(days.map((d) => (d.end - d.start) / H)).toEqual([24, 23, 24]);
    expect(days.map((d) => localIso(d.start, tz))).toEqual(['2026-03-07T00:00:00-05:00', '2026-03-08T00:00:00-05:00', '2026-03-09T00:00:00-04:00']);
    const autumn = intervalsOf(parseRangeEdge('2026-11-01', tz)!, parseRangeEdge('2026-11-02', tz)!, '30m', tz, 1000)!;
    expect(autumn).toHaveLength(50);
  });

  it('Asia/Kolkata (+05:30): hours start on the local hour, :30 in UTC', () => {
    const hours = cut('2026-06-01T00:00:00Z', '2026-06-01T03:00:00Z', '1h', 'Asia/Kolkata');
    expect(hours[0]).toEqual({ start: ms('2026-06-01T00:00:00Z'), end: ms('2026-06-01T00:30:00Z') });
    expect(hours[1]).toEqual({ start: ms('2026-06-01T00:30:00Z'), end: ms('2026-06-01T01:30:00Z') });
    expect(localIso(hours[1]!.start, 'Asia/Kolkata')).toBe('2026-06-01T06:00:00+05:30');
    expect(localIso(startOfLocalDay(ms('2026-06-01T20:00:00Z'), 'Asia/Kolkata'), 'Asia/Kolkata')).toBe('2026-06-02T00:00:00+05:30');
  });

  it('Australia/Lord_Howe moves its clock 30 minutes: one short hour, then back on the local hour', () => {
    // 2026-10-04 02:00 (+10:30) becomes 02:30 (+11:00).
    const tz = 'Australia/Lord_Howe';
    const hours = intervalsOf(parseRangeEdge('2026-10-04', tz)!, parseRangeEdge('2026-10-05', tz)!, '1h', tz, 100)!;
    expect(hours.reduce((s, i) => s + i.end - i.start, 0)).toBe(23.5 * H);
    const shown = hours.map((i) => localIso(i.start, tz));
    expect(shown.slice(1, 5)).toEqual(['2026-10-04T01:00:00+10:30', '2026-10-04T02:30:00+11:00', '2026-10-04T03:00:00+11:00', '2026-10-04T04:00:00+11:00']);
  });

  it('weeks start on Monday and months on the 1st, at local midnight, across DST', () => {
    const tz = 'Europe/Berlin';
    const weeks = intervalsOf(ms('2026-03-25T12:00:00Z'), ms('2026-04-10T00:00:00Z'), 'week', tz, 10)!.map((i) => localIso(i.start, tz));
    expect(weeks).toEqual(['2026-03-25T13:00:00+01:00', '2026-03-30T00:00:00+02:00', '2026-04-06T00:00:00+02:00']);
    const months = intervalsOf(parseRangeEdge('2026-01-01', tz)!, parseRangeEdge('2027-01-01', tz)!, 'month', tz, 20)!;
    expect(months).toHaveLength(12);
    expect(localIso(months[3]!.start, tz)).toBe('2026-04-01T00:00:00+02:00');
  });

  it('cuts the first and last interval to the range and refuses more than max', () => {
    expect(cut('2026-06-01T10:07:00Z', '2026-06-01T10:40:00Z', '15m', 'UTC')).toEqual([
      { start: ms('2026-06-01T10:07:00Z'), end: ms('2026-06-01T10:15:00Z') },
      { start: ms('2026-06-01T10:15:00Z'), end: ms('2026-06-01T10:30:00Z') },
      { start: ms('2026-06-01T10:30:00Z'), end: ms('2026-06-01T10:40:00Z') },
    ]);
    expect(intervalsOf(ms('2026-06-01T00:00:00Z'), ms('2026-06-02T00:00:00Z'), '15m', 'UTC', 95)).toBeNull();
    expect(intervalsOf(ms('2026-06-01T00:00:00Z'), ms('2026-06-02T00:00:00Z'), '15m', 'UTC', 96)).toHaveLength(96);
  });

  it('property: intervals tile the range without gaps, none longer than its length (any zone, any range)', () => {
    const zones = ['Europe/Berlin', 'America/New_York', 'Asia/Kolkata', 'Australia/Lord_Howe', 'Asia/Kathmandu', 'UTC'];
    const kinds: IntervalKind[] = ['15m', '30m', '1h', 'day'];
    const max: Record<string, number> = { '15m': H / 4, '30m': H / 2, '1h': H, day: 25 * H };
    fc.assert(
      fc.property(fc.constantFrom(...zones), fc.constantFrom(...kinds), fc.integer({ min: ms('2026-01-01T00:00:00Z'), max: ms('2027-01-01T00:00:00Z') }), fc.integer({ min: 1, max: 3 * 24 * H }), (tz, kind, from, len) => {
        const list = intervalsOf(from, from + len, kind, tz, 10_000)!;
        expect(list[0]!.start).toBe(from);
        expect(list[list.length - 1]!.end).toBe(from + len);
        for (let i = 0; i < list.length; i++) {
          expect(list[i]!.end).toBeGreaterThan(list[i]!.start);
          expect(list[i]!.end - list[i]!.start).toBeLessThanOrEqual(max[kind]!);
          if (i > 0) expect(list[i]!.start).toBe(list[i - 1]!.end);
        }
      }),
      { numRuns: 300 },
    );
  });

  it('parses from/to: offsets, Z, local dates (their midnight); refuses anything else', () => {
    expect(parseRangeEdge('2026-03-29T10:00:00+02:00', 'UTC')).toBe(ms('2026-03-29T08:00:00Z'));
    expect(parseRangeEdge('2026-03-29T10:00:00.5Z', 'UTC')).toBe(ms('2026-03-29T10:00:00.500Z'));
    expect(parseRangeEdge('2026-03-29', 'Europe/Berlin')).toBe(ms('2026-03-28T23:00:00Z'));
    expect(parseRangeEdge('2026-03-30', 'Europe/Berlin')).toBe(ms('2026-03-29T22:00:00Z'));
    for (const bad of ['2026-02-30', '2026-03-29T10:00:00', 'yesterday', '2026-13-01T00:00:00Z']) expect(parseRangeEdge(bad, 'UTC')).toBeNull();
  });
});
