/**
 * Contact-list rows (src/campaigns/contact-numbers.ts, import-rows.ts): numbers to E.164 against a
 * default country, time zones from the column / the number's prefix / its country / nothing, and
 * each reject reason a row can get before it is written.
 */
import { describe, expect, it } from 'vitest';
import { normaliseNumber, zonesOfNumber } from '../../src/campaigns/contact-numbers.js';
import { contactRow, dncRow, readHeader, type Columns } from '../../src/campaigns/import-rows.js';

const e164 = (raw: string, country: string | null) => {
  const r = normaliseNumber(raw, country);
  return r.ok ? r.number.e164 : `bad: ${r.detail}`;
};
const zones = (raw: string, country = 'US') => {
  const r = normaliseNumber(raw, country);
  if (!r.ok) throw new Error(r.detail);
  return zonesOfNumber(r.number);
};

describe('numbers', () => {
  it('reads what people write against the default country, and an explicit country code as it says', () => {
    expect(e164('(212) 555-0123', 'US')).toBe('+12125550123');
    expect(e164('212.555.0123', 'US')).toBe('+12125550123');
    expect(e164('030 1234567', 'DE')).toBe('+49301234567');
    expect(e164('+44 20 7946 0958', 'US')).toBe('+442079460958');
    expect(e164('0044 20 7946 0958', 'DE')).toBe('+442079460958');
  });

  it('refuses what is not a valid number, saying why', () => {
    expect(e164('', 'US')).toBe('bad: the number is empty');
    expect(e164('call me', 'US')).toMatch(/^bad: not a phone number/);
    expect(e164('555 555 5555', 'US')).toMatch(/^bad: not a valid number/);
    expect(e164('12', 'US')).toMatch(/^bad: /);
    expect(e164('2125550123', null)).toMatch(/^bad: no country code/);
    expect(e164('1'.repeat(41), 'US')).toMatch(/over 40 characters/);
  });
});

describe('time zones from the number', () => {
  it('a NANP area code says the zone (US and Canada)', () => {
    expect(zones('+1 212 555 0123')).toEqual({ zones: ['America/New_York'], source: 'number' });
    expect(zones('+1 406 555 0123')).toEqual({ zones: ['America/Denver'], source: 'number' });
    expect(zones('+1 604 555 0101')).toEqual({ zones: ['America/Vancouver'], source: 'number' });
  });

  it('a prefix may name several zones; all are kept', () => {
    expect(zones('+61 8 9123 4567')).toEqual({ zones: ['Australia/Adelaide', 'Australia/Perth'], source: 'number' });
  });

  it('a one-zone country gives that zone', () => {
    expect(zones('030 1234567', 'DE')).toEqual({ zones: ['Europe/Berlin'], source: 'country' });
  });

  it('a many-zone country whose area the number does not tell gives all its zones', () => {
    // Mobile-only numbers: the map says Sydney for every 04 number, but the owner may be in Perth.
    const au = zones('+61 412 345 678');
    expect(au.source).toBe('country');
    expect(au.zones).toEqual(expect.arrayContaining(['Australia/Sydney', 'Australia/Perth', 'Australia/Adelaide', 'Australia/Brisbane']));
    expect(zones('+7 912 345 67 89')).toMatchObject({ source: 'country', zones: expect.arrayContaining(['Europe/Moscow', 'Asia/Vladivostok']) });
    // A US toll-free number says no area: every US zone, Eastern to Hawaii (none of Canada's).
    const us = zones('+1 800 555 0123');
    expect(us.source).toBe('country');
    expect(us.zones).toEqual(expect.arrayContaining(['America/New_York', 'America/Chicago', 'America/Denver', 'America/Los_Angeles', 'Pacific/Honolulu']));
    expect(us.zones).not.toContain('America/Toronto');
  });

  it('nothing known: no zone, never called', () => {
    expect(zonesOfNumber({ e164: '+80012345678', country: null, callingCode: '800', mobile: false })).toEqual({ zones: [], source: 'unknown' });
  });
});

describe('header', () => {
  it('finds number (or phone), name and timezone in any case; the rest is data', () => {
    const h = readHeader([' Phone ', 'Name', 'TimeZone', 'account', 'balance'], 'contacts');
    expect(h).toEqual({ ok: true, columns: { kind: 'contacts', count: 5, number: 0, name: 1, timezone: 2, note: null, data: [[3, 'account'], [4, 'balance']] } });
  });

  it('names a missing number column, an empty header and a repeated column', () => {
    expect(readHeader(['name', 'email'], 'contacts')).toMatchObject({ ok: false, code: 'missing-number-column' });
    expect(readHeader(['', ''], 'contacts')).toMatchObject({ ok: false, code: 'not-csv' });
    expect(readHeader(['number', 'Number'], 'dnc')).toMatchObject({ ok: false, code: 'not-csv', detail: expect.stringContaining('twice') });
  });
});

describe('rows', () => {
  const cols = (readHeader(['number', 'name', 'timezone', 'account'], 'contacts') as { columns: Columns }).columns;
  const row = (...fields: string[]) => contactRow(fields, cols, 'US');

  it('imports a good row with its zone and data', () => {
    expect(row('(406) 555-0100', ' Ann ', '', 'A-1')).toEqual({
      ok: true, row: { number: '+14065550100', name: 'Ann', zones: ['America/Denver'], tzSource: 'number', data: { account: 'A-1' } },
    });
    expect(row('+14065550100', '', 'Europe/Paris', '')).toMatchObject({ ok: true, row: { zones: ['Europe/Paris'], tzSource: 'column', name: null } });
  });

  it('rejects each kind of bad row with its reason', () => {
    expect(row('', '', '', '')).toMatchObject({ ok: false, reason: 'empty' });
    expect(contactRow([''], cols, 'US')).toMatchObject({ ok: false, reason: 'empty' });
    expect(contactRow(['+14065550100', 'Ann'], cols, 'US')).toMatchObject({ ok: false, reason: 'column-count', detail: '2 fields; the header has 4' });
    expect(row('not a number', 'Ann', '', '')).toMatchObject({ ok: false, reason: 'bad-number' });
    expect(row('', 'Ann', '', '')).toMatchObject({ ok: false, reason: 'bad-number', detail: expect.stringContaining('empty') });
    expect(row('+14065550100', 'Ann', 'Mars/Olympus', '')).toMatchObject({ ok: false, reason: 'bad-time-zone' });
  });

  it('DNC rows keep the note and nothing else', () => {
    const dnc = (readHeader(['number', 'note', 'extra'], 'dnc') as { columns: Columns }).columns;
    expect(dncRow(['+44 20 7946 0958', 'asked twice', 'x'], dnc, null)).toEqual({ ok: true, row: { number: '+442079460958', note: 'asked twice' } });
    expect(dncRow(['020 7946 0958', '', ''], dnc, null)).toMatchObject({ ok: false, reason: 'bad-number' });
  });
});
