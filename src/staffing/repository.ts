/** The forecast's history query (docs/staffing.md#forecast): queue_events counted per local day and slot. */
import { sql } from 'kysely';
import type { Db } from '../db/database.js';
import type { SlotHistory } from './forecast.js';

/** A queue's id by name; undefined when there is none. */
export async function queueIdByName(db: Db, name: string): Promise<string | undefined> {
  const row = await db.selectFrom('queues').select('id').where('name', '=', name).executeTakeFirst();
  return row?.id;
}

/**
 * Offered calls ('join') and ended calls with their handle time ('end': talk + hold + wrap-up) per
 * local date and slot (minutes since local midnight / intervalMinutes) in `zone`, over the local
 * days `days` ([start, end) each: only those rows are read, by queue_events_queue_at_idx when one
 * queue is asked). One queue, or every queue when queueId is null.
 */
export async function slotHistory(
  db: Db,
  o: { queueId: string | null; zone: string; intervalMinutes: number; days: readonly { start: Date; end: Date }[] },
): Promise<SlotHistory[]> {
  const local = sql`(e.at at time zone ${o.zone})`;
  const day = sql<string>`to_char(${local}, 'YYYY-MM-DD')`;
  const bucket = sql<number>`floor((extract(hour from ${local}) * 60 + extract(minute from ${local})) / ${o.intervalMinutes})::int`;
  let q = db
    .selectFrom('queue_events as e')
    .select([
      day.as('date'),
      bucket.as('bucket'),
      sql<string>`count(*) filter (where e.type = 'join')`.as('offered'),
      sql<string>`count(*) filter (where e.type = 'end')`.as('ended'),
      sql<string>`coalesce(sum(coalesce(e.talk_ms, 0) + coalesce(e.hold_ms, 0) + coalesce(e.wrap_up_ms, 0)) filter (where e.type = 'end'), 0)`.as('handle'),
    ])
    .where('e.type', 'in', ['join', 'end'])
    .where((eb) => eb.or(o.days.map((d) => eb.and([eb('e.at', '>=', d.start), eb('e.at', '<', d.end)]))))
    .groupBy([sql`1`, sql`2`]);
  if (o.queueId !== null) q = q.where('e.queue_id', '=', o.queueId);
  const rows = await q.execute();
  return rows.map((r) => ({ date: r.date, bucket: Number(r.bucket), offered: Number(r.offered), ended: Number(r.ended), handleMs: Number(r.handle) }));
}
