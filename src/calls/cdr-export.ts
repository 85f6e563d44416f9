/**
 * The CDR list as CSV (GET /cdrs with format=csv or Accept: text/csv; docs/api.md#csv-export):
 * one row per CDR with the JSON list's field names as the header, times in the chosen zone.
 * The JSON's nested fields (ivrPath, recordings) have no column: GET /cdrs/{id} has them.
 */
import type { Readable } from 'node:stream';
import { csvReadable, type CsvCell } from '../shared/csv.js';
import { zonedIso } from '../shared/zoned-time.js';
import type { StreamedCdr } from './repository.js';

/**
 * CSV exports one daemon runs at once. Each holds one connection of the daemon's pool (10) for as
 * long as the client reads, and the calls need the others; one more gets 429 rate-limited.
 */
export const CSV_EXPORTS_AT_ONCE = 2;

export const CDR_CSV_HEADER = [
  'id', 'callId', 'direction', 'callerNumber', 'callerName', 'dialedNumber', 'startedAt', 'answeredAt', 'endedAt',
  'durationSeconds', 'billableSeconds', 'waitSeconds', 'talkSeconds', 'answeredBy', 'agent', 'queue', 'hangupCause',
  'hangupCauseText', 'disposition', 'endedBy', 'digits', 'reconciled', 'linkedId', 'recordingErased', 'monitored',
] as const;

/** One CDR as the cells of CDR_CSV_HEADER, its times formatted by `time`. */
export function cdrCsvCells(r: StreamedCdr, time: (at: Date) => string): CsvCell[] {
  return [
    r.id, r.call_id, r.direction, r.caller_number, r.caller_name, r.dialed_number,
    time(r.started_at), r.answered_at ? time(r.answered_at) : null, time(r.ended_at),
    r.duration_seconds, r.billable_seconds, r.wait_seconds, r.talk_seconds, r.answered_by, r.agent, r.queue, r.hangup_cause,
    r.hangup_cause_text, r.disposition, r.ended_by, r.digits, r.reconciled, r.linked_id, r.recording_erased, r.monitored,
  ];
}

/** The CSV body: the header, then one row per CDR with its times in `timeZone` (an IANA zone already checked). */
export function cdrCsv(rows: AsyncIterable<StreamedCdr>, timeZone: string): Readable {
  const time = zonedIso(timeZone);
  async function* cells(): AsyncGenerator<CsvCell[]> {
    for await (const r of rows) yield cdrCsvCells(r, time);
  }
  return csvReadable(CDR_CSV_HEADER, cells());
}

/**
 * `cdrs_<from>_<to>.csv` with the range's local dates in `timeZone`; an open start is `start`, an
 * open end today's date. E.g. cdrs_2026-11-01_2026-12-01.csv (`to` is exclusive, as in the query).
 */
export function cdrCsvFilename(from: Date | undefined, to: Date | undefined, timeZone: string, now: Date): string {
  const day = (d: Date) => zonedIso(timeZone)(d).slice(0, 10);
  return `cdrs_${from ? day(from) : 'start'}_${day(to ?? now)}.csv`;
}
