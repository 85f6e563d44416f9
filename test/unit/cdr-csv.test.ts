import { describe, expect, it } from 'vitest';
import { Writable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { csvTimeZone, wantsCsv } from '../../src/http/csv.js';
import { CDR_CSV_HEADER, cdrCsv, cdrCsvCells, cdrCsvFilename } from '../../src/calls/cdr-export.js';
import type { StreamedCdr } from '../../src/calls/repository.js';
import { zonedIso } from '../../src/shared/zoned-time.js';

describe('wantsCsv', () => {
  it('takes format first, then what Accept prefers; JSON otherwise', () => {
    expect(wantsCsv('csv', 'application/json')).toBe(true);
    expect(wantsCsv('json', 'text/csv')).toBe(false);
    expect(wantsCsv(undefined, undefined)).toBe(false);
    expect(wantsCsv(undefined, 'text/csv')).toBe(true);
    expect(wantsCsv(undefined, 'text/csv; charset=utf-8')).toBe(true);
    expect(wantsCsv(undefined, '*/*')).toBe(false);
    expect(wantsCsv(undefined, 'application/json')).toBe(false);
    expect(wantsCsv(undefined, 'text/csv, application/json')).toBe(true);
    expect(wantsCsv(undefined, 'application/json, text/csv')).toBe(false);
    expect(wantsCsv(undefined, 'application/json;q=0.5, text/csv')).toBe(true);
    expect(wantsCsv(undefined, 'text/csv;q=0.5, */*')).toBe(false);
    expect(wantsCsv(undefined, 'text/csv, */*;q=0.1')).toBe(true);
    expect(wantsCsv(undefined, 'text/csv;q=0')).toBe(false);
    expect(wantsCsv(undefined, 'TEXT/CSV')).toBe(true);
  });
});

describe('csvTimeZone', () => {
  it("is the site's zone unless tz names one; anything else is 400 naming querystring.tz", () => {
    expect(csvTimeZone(undefined, 'Europe/Berlin')).toBe('Europe/Berlin');
    expect(csvTimeZone('America/New_York', 'Europe/Berlin')).toBe('America/New_York');
    expect(() => csvTimeZone('Mars/Base', 'UTC')).toThrow(expect.objectContaining({ code: 'validation-failed', status: 400, details: { field: 'querystring.tz' } }));
  });
});

const cdr: StreamedCdr = {
  id: '7', call_id: 'c-7', direction: 'inbound', caller_number: '+4930123', caller_name: '=cmd|calc', dialed_number: '100',
  started_at: new Date('2026-10-25T00:30:00Z'), answered_at: null, ended_at: new Date('2026-10-25T01:30:00Z'),
  duration_seconds: 3600, billable_seconds: 0, wait_seconds: 3600, talk_seconds: null, answered_by: null, agent: null, queue: 'sales, east',
  hangup_cause: 16, hangup_cause_text: 'Normal Clearing', disposition: 'NO ANSWER', ended_by: 'caller', digits: '', reconciled: false,
  linked_id: 'c-7', recording_erased: false, monitored: false,
};

describe('CDR CSV', () => {
  it('has one cell per header field, times in the zone, text guarded and quoted', async () => {
    expect(cdrCsvCells(cdr, zonedIso('UTC'))).toHaveLength(CDR_CSV_HEADER.length);
    let text = '';
    async function* one() { yield cdr; }
    await pipeline(cdrCsv(one(), 'Europe/Berlin'), new Writable({ write(c: Buffer, _e, done) { text += c.toString(); done(); } }));
    const [header, row, end] = text.split('\r\n');
    expect(header).toBe(CDR_CSV_HEADER.join(','));
    expect(end).toBe('');
    // the two 02:30 of the DST change, told apart by the offset
    expect(row).toBe(
      "7,c-7,inbound,'+4930123,'=cmd|calc,100,2026-10-25T02:30:00+02:00,,2026-10-25T02:30:00+01:00,3600,0,3600,,,,\"sales, east\",16,Normal Clearing,NO ANSWER,caller,,false,c-7,false,false",
    );
  });

  it('names the file by the local dates of the range', () => {
    const now = new Date('2026-12-08T07:00:00Z');
    expect(cdrCsvFilename(new Date('2026-10-31T23:00:00Z'), new Date('2026-11-30T23:00:00Z'), 'Europe/Berlin', now)).toBe('cdrs_2026-11-01_2026-12-01.csv');
    expect(cdrCsvFilename(undefined, undefined, 'UTC', now)).toBe('cdrs_start_2026-12-08.csv');
  });
});
