import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { isTimeZone, zonedIso } from '../../src/shared/zoned-time.js';

describe('isTimeZone', () => {
  it('takes IANA names this Node knows and nothing else', () => {
    expect(isTimeZone('Europe/Berlin')).toBe(true);
    expect(isTimeZone('UTC')).toBe(true);
    expect(isTimeZone('America/Argentina/Buenos_Aires')).toBe(true);
    expect(isTimeZone('Etc/GMT+5')).toBe(true);
    expect(isTimeZone('Mars/Olympus')).toBe(false);
    expect(isTimeZone('+01:00')).toBe(false);
    expect(isTimeZone('')).toBe(false);
    expect(isTimeZone("Europe/Berlin'; drop table cdrs")).toBe(false);
  });
});

describe('zonedIso', () => {
  it('writes local time with its offset, to the second', () => {
    expect(zonedIso('UTC')(new Date('2026-12-08T07:00:00.999Z'))).toBe('2026-12-08T07:00:00+00:00');
    expect(zonedIso('Europe/Berlin')(new Date('2026-12-08T07:00:00Z'))).toBe('2026-12-08T08:00:00+01:00');
    expect(zonedIso('Europe/Berlin')(new Date('2026-07-01T22:30:05Z'))).toBe('2026-07-02T00:30:05+02:00');
    expect(zonedIso('America/New_York')(new Date('2026-01-01T03:00:00Z'))).toBe('2025-12-31T22:00:00-05:00');
    expect(zonedIso('Asia/Kathmandu')(new Date('2026-01-01T00:00:00Z'))).toBe('2026-01-01T05:45:00+05:45');
    expect(zonedIso('Asia/Kolkata')(new Date('1969-12-31T23:59:59.500Z'))).toBe('1970-01-01T05:29:59+05:30');
  });

  it('tells the two 02:30 of the autumn DST change apart, and skips the spring hour', () => {
    const berlin = zonedIso('Europe/Berlin');
    expect(berlin(new Date('2026-10-25T00:30:00Z'))).toBe('2026-10-25T02:30:00+02:00');
    expect(berlin(new Date('2026-10-25T00:59:59Z'))).toBe('2026-10-25T02:59:59+02:00');
    expect(berlin(new Date('2026-10-25T01:00:00Z'))).toBe('2026-10-25T02:00:00+01:00');
    expect(berlin(new Date('2026-10-25T01:30:00Z'))).toBe('2026-10-25T02:30:00+01:00');
    expect(berlin(new Date('2026-03-29T00:59:59Z'))).toBe('2026-03-29T01:59:59+01:00');
    expect(berlin(new Date('2026-03-29T01:00:00Z'))).toBe('2026-03-29T03:00:00+02:00');
  });

  it('follows a change that is not on an hour or quarter hour (Monrovia, 1972-01-07 00:44:30 UTC)', () => {
    const monrovia = zonedIso('Africa/Monrovia');
    expect(monrovia(new Date('1972-01-07T00:44:29Z'))).toBe('1972-01-06T23:59:59-00:44');
    expect(monrovia(new Date('1972-01-07T00:44:30Z'))).toBe('1972-01-07T00:44:30+00:00');
  });

  it('agrees with Intl for any instant, in zones with odd offsets and changes (the hour cache is exact)', () => {
    const zones = ['Europe/Berlin', 'America/New_York', 'Australia/Lord_Howe', 'Pacific/Chatham', 'Africa/Monrovia', 'America/St_Johns', 'Asia/Tehran'];
    const formats = zones.map((z) => zonedIso(z));
    fc.assert(
      fc.property(fc.integer({ min: 0, max: zones.length - 1 }), fc.integer({ min: Date.UTC(1970, 0, 1), max: Date.UTC(2040, 0, 1) }), (z, ms) => {
        const text = formats[z]!(new Date(ms));
        // the local fields are Intl's; reading it back gives the instant to the second (after
        // Monrovia's -00:44:30, the last offset with seconds, ended on 1972-01-07 at 00:44:30 UTC)
        if (ms >= Date.UTC(1972, 0, 8)) expect(Date.parse(text)).toBe(ms - (ms % 1000));
        const intl = new Intl.DateTimeFormat('sv-SE', { timeZone: zones[z], hourCycle: 'h23', year: 'numeric', month: '2-digit', day: '2-digit', hour: '2-digit', minute: '2-digit', second: '2-digit' })
          .format(new Date(ms)).replace(' ', 'T');
        expect(text.slice(0, 19)).toBe(intl);
      }),
      { numRuns: 3000 },
    );
  }, 60_000);
});
