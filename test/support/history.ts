/**
 * Call history made in SQL (generate_series), for the CSV export test and bench/reports.ts:
 * millions of rows in seconds, every value a function of the row number g, so a test knows what
 * any row holds without reading it back (cdrAt).
 *
 * The model, per call g (1..rows, one every stepMs from `from`):
 * - even g are queue calls: queue 1 + (g/2) mod queues; the others are direct calls, all answered;
 * - a queue call with g mod 20 = 0 is abandoned after w = (37 g) mod 45 seconds of waiting; the
 *   others are answered after w seconds by agent 1 + (g/2) mod agents, 60 s connected (10 s of
 *   it on hold when g mod 3 = 0), then 10 s of wrap-up;
 * - every 7th caller name has a comma and quotes, every 100,000th starts with "=" (the CSV guard).
 * Queues are named q<id>, agents numbered 2000 + id (ids 1..n in a fresh database).
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
  /** queues and agents the queue calls are spread over (default 30 and 200) */
  readonly queues?: number;
  readonly agents?: number;
}

const sizes = (h: CdrHistory) => ({ queues: h.queues ?? 30, agents: h.agents ?? 200 });

/** What generateCdrs wrote for row g. */
export function cdrAt(h: CdrHistory, g: number) {
  const { queues, agents } = sizes(h);
  const startedAt = new Date(h.from.getTime() + (g - 1) * h.stepMs);
  const queued = g % 2 === 0;
  const answered = g % 20 !== 0;
  const wait = queued ? (37 * g) % 45 : 3;
  const agent = queued && answered ? String(2000 + 1 + (Math.floor(g / 2) % agents)) : null;
  return {
    callId: `${h.prefix}${g}`,
    direction: (['inbound', 'outbound', 'internal'] as const)[g % 3]!,
    callerNumber: `+4930${String(g).padStart(8, '0')}`,
    callerName: g % 100_000 === 0 ? '=HYPERLINK("http://x.invalid")' : g % 7 === 0 ? 'Müller, "Jr"' : `Caller ${g}`,
    dialedNumber: String(100 + (g % 50)),
    startedAt,
    answeredAt: answered ? new Date(startedAt.getTime() + wait * 1000) : null,
    endedAt: new Date(startedAt.getTime() + (wait + (answered ? 60 : 0)) * 1000),
    durationSeconds: wait + (answered ? 60 : 0),
    billableSeconds: answered ? 60 : 0,
    waitSeconds: wait,
    talkSeconds: answered ? 60 : null,
    disposition: answered ? 'ANSWERED' : 'NO ANSWER',
    queue: queued ? `q${1 + (Math.floor(g / 2) % queues)}` : null,
    agent,
  };
}

/** The per-call values of the model as SQL over g (and t, the call's start). */
const callOf = (h: CdrHistory) => {
  const { queues, agents } = sizes(h);
  return sql`LATERAL (
    SELECT ${h.from.toISOString()}::timestamptz + (g - 1) * (${h.stepMs}::float8 * interval '1 millisecond') AS t,
      g % 2 = 0 AS queued,
      g % 20 <> 0 AS answered,
      CASE WHEN g % 2 = 0 THEN (37 * g) % 45 ELSE 3 END AS w,
      1 + (g / 2) % ${queues}::int AS qid,
      1 + (g / 2) % ${agents}::int AS aid,
      CASE WHEN g % 3 = 0 THEN 10000 ELSE 0 END AS hold_ms
  ) AS c`;
};

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
      CASE WHEN answered THEN t + w * interval '1 second' END,
      t + (w + CASE WHEN answered THEN 60 ELSE 0 END) * interval '1 second',
      w + CASE WHEN answered THEN 60 ELSE 0 END,
      CASE WHEN answered THEN 60 ELSE 0 END,
      w,
      CASE WHEN answered THEN 60 END,
      16, 'Normal Clearing',
      CASE WHEN answered THEN 'ANSWERED' ELSE 'NO ANSWER' END,
      'caller', '', ${h.prefix} || g,
      CASE WHEN queued THEN 'q' || qid END,
      CASE WHEN queued AND answered THEN (2000 + aid)::text END,
      CASE WHEN queued AND answered THEN (2000 + aid)::text END
    FROM generate_series(1, ${h.rows}::int) AS g, ${callOf(h)}
  `.execute(db);
  await sql`ANALYZE cdrs`.execute(db);
}

/**
 * The queues (q1..qn) and agents (2001..), then the queue calls' queue_events (join, offer,
 * answer, end; or join, abandon) and the agents' state log (logged in an hour before the history;
 * per answered call ready -> reserved -> on-call -> wrap-up -> ready), all as the model says.
 * For a fresh database: queue and agent ids must come out 1..n.
 */
export async function generateQueueHistory(db: Db, h: CdrHistory): Promise<void> {
  const { queues, agents } = sizes(h);
  await sql`INSERT INTO queues (name) SELECT 'q' || i FROM generate_series(1, ${queues}::int) AS i ORDER BY i`.execute(db);
  await sql`INSERT INTO agents (number, name, pin_hash, state, state_since)
    SELECT (2000 + i)::text, 'Agent ' || i, 'x', 'ready', ${h.from.toISOString()}::timestamptz - interval '1 hour'
    FROM generate_series(1, ${agents}::int) AS i ORDER BY i`.execute(db);
  const ids = await sql<{ q: string; a: string }>`SELECT (SELECT max(id) FROM queues) AS q, (SELECT max(id) FROM agents) AS a`.execute(db);
  if (Number(ids.rows[0]!.q) !== queues || Number(ids.rows[0]!.a) !== agents) throw new Error('generateQueueHistory needs a fresh database (queue and agent ids 1..n)');
  await sql`
    INSERT INTO queue_events (at, queue_id, call_id, type, agent_id, caller_number, wait_ms, talk_ms, hold_ms, wrap_up_ms, details)
    SELECT e.at, qid, ${h.prefix} || g, e.type, e.agent_id, e.caller_number, e.wait_ms, e.talk_ms, e.hold_ms, e.wrap_up_ms, e.details
    FROM generate_series(2, ${h.rows}::int, 2) AS g, ${callOf(h)},
    LATERAL (
      SELECT t AS at, 'join' AS type, NULL::bigint AS agent_id, '+4930' || lpad(g::text, 8, '0') AS caller_number,
        NULL::int AS wait_ms, NULL::int AS talk_ms, NULL::int AS hold_ms, NULL::int AS wrap_up_ms, NULL::jsonb AS details
      UNION ALL SELECT t + greatest(w - 3, 0) * interval '1 second', 'offer', aid, NULL, NULL, NULL, NULL, NULL, NULL WHERE answered
      UNION ALL SELECT t + w * interval '1 second', 'answer', aid, NULL, w * 1000, NULL, NULL, NULL, NULL WHERE answered
      UNION ALL SELECT t + (w + 70) * interval '1 second', 'end', aid, NULL, NULL, 60000 - hold_ms, hold_ms, 10000, '{"endedBy":"wrap-up-done"}'::jsonb WHERE answered
      UNION ALL SELECT t + w * interval '1 second', 'abandon', NULL, NULL, w * 1000, NULL, NULL, NULL, NULL WHERE NOT answered
    ) AS e
  `.execute(db);
  await sql`
    INSERT INTO agent_state_log (agent_id, from_state, to_state, cause, call_id, queue_id, at)
    SELECT i, 'logged-out', 'ready', 'login', NULL, NULL, ${h.from.toISOString()}::timestamptz - interval '1 hour'
    FROM generate_series(1, ${agents}::int) AS i
    UNION ALL
    SELECT aid, e.from_state, e.to_state, e.cause, ${h.prefix} || g, qid, e.at
    FROM generate_series(2, ${h.rows}::int, 2) AS g, ${callOf(h)},
    LATERAL (
      SELECT t + greatest(w - 3, 0) * interval '1 second' AS at, 'ready' AS from_state, 'reserved' AS to_state, 'offer' AS cause
      UNION ALL SELECT t + w * interval '1 second', 'reserved', 'on-call', 'answer'
      UNION ALL SELECT t + (w + 60) * interval '1 second', 'on-call', 'wrap-up', 'hangup'
      UNION ALL SELECT t + (w + 70) * interval '1 second', 'wrap-up', 'ready', 'wrap-up-done'
    ) AS e
    WHERE answered
  `.execute(db);
  await sql`ANALYZE queue_events`.execute(db);
  await sql`ANALYZE agent_state_log`.execute(db);
}
