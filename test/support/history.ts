/**
 * Call history made in SQL (generate_series), for the CSV export test and bench/reports.ts:
 * millions of rows in seconds, every value a function of the row number g, so a test knows what
 * any row holds without reading it back (cdrAt).
 */
import { sql } from 'kysely';
import type { Db } from '../../src/db/database.js';

export interface CdrHistory {
  /** Rows 1..rows; row g starts at from + (g - 1) * stepMs. */
  readonly rows: number;
  readonly from: Date;
  readonly stepMs: number;
  /** call_id = prefix + g */
  readonly prefix: string;
}

/**
 * What generateCdrs wrote for row g: every 4th call unanswered (NO ANSWER, 30 s of ringing),
 * the others answered after 5 s and 60 s of talk; every 7th caller name has a comma and quotes,
 * every 100,000th starts with "=" (the CSV guard's case). Queue calls (every 2nd) name queue
 * q<g mod 30> and, answered, agent a<g mod 200>.
 */
export function cdrAt(h: CdrHistory, g: number) {
  const startedAt = new Date(h.from.getTime() + (g - 1) * h.stepMs);
  const answered = g % 4 !== 0;
  return {
    callId: `${h.prefix}${g}`,
    direction: (['inbound', 'outbound', 'internal'] as const)[g % 3]!,
    callerNumber: `+4930${String(g).padStart(8, '0')}`,
    callerName: g % 100_000 === 0 ? '=HYPERLINK("http://x.invalid")' : g % 7 === 0 ? 'Müller, "Jr"' : `Caller ${g}`,
    dialedNumber: String(100 + (g % 50)),
    startedAt,
    answeredAt: answered ? new Date(startedAt.getTime() + 5_000) : null,
    endedAt: new Date(startedAt.getTime() + (answered ? 65_000 : 30_000)),
    durationSeconds: answered ? 65 : 30,
    billableSeconds: answered ? 60 : 0,
    disposition: answered ? 'ANSWERED' : 'NO ANSWER',
    queue: g % 2 === 0 ? `q${g % 30}` : null,
    agent: g % 2 === 0 && answered ? `a${g % 200}` : null,
  };
}

/** Insert the history's CDRs in one statement (ids in row order when the table starts empty). */
export async function generateCdrs(db: Db, h: CdrHistory): Promise<void> {
  await sql`
    INSERT INTO cdrs (call_id, direction, caller_number, caller_name, dialed_number, started_at, answered_at, ended_at,
      duration_seconds, billable_seconds, wait_seconds, talk_seconds, hangup_cause, hangup_cause_text, disposition,
      ended_by, digits, linked_id, queue, agent, answered_by)
    SELECT ${h.prefix} || g,
      (ARRAY['inbound','outbound','internal'])[1 + g % 3],
      '+4930' || lpad(g::text, 8, '0'),
      CASE WHEN g % 100000 = 0 THEN '=HYPERLINK("http://x.invalid")' WHEN g % 7 = 0 THEN 'Müller, "Jr"' ELSE 'Caller ' || g END,
      (100 + g % 50)::text,
      t,
      CASE WHEN g % 4 <> 0 THEN t + interval '5 seconds' END,
      t + CASE WHEN g % 4 <> 0 THEN interval '65 seconds' ELSE interval '30 seconds' END,
      CASE WHEN g % 4 <> 0 THEN 65 ELSE 30 END,
      CASE WHEN g % 4 <> 0 THEN 60 ELSE 0 END,
      CASE WHEN g % 4 <> 0 THEN 5 ELSE 30 END,
      CASE WHEN g % 4 <> 0 THEN 60 END,
      16, 'Normal Clearing',
      CASE WHEN g % 4 <> 0 THEN 'ANSWERED' ELSE 'NO ANSWER' END,
      'caller', '', ${h.prefix} || g,
      CASE WHEN g % 2 = 0 THEN 'q' || (g % 30) END,
      CASE WHEN g % 2 = 0 AND g % 4 <> 0 THEN 'a' || (g % 200) END,
      CASE WHEN g % 2 = 0 AND g % 4 <> 0 THEN (2000 + g % 200)::text END
    FROM generate_series(1, ${h.rows}::int) AS g,
      LATERAL (SELECT ${h.from.toISOString()}::timestamptz + (g - 1) * (${h.stepMs}::float8 * interval '1 millisecond') AS t) AS s
  `.execute(db);
  await sql`ANALYZE cdrs`.execute(db);
}
