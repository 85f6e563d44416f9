import { sql, type Kysely } from 'kysely';

// Frozen in time: never import from src/.
//
// Per-queue report settings where contact-center practice differs (docs/reporting.md):
// - report_short_abandon_seconds: callers who hang up within this wait are short abandons,
//   reported apart (default 5 s; 0: none are short);
// - report_sl_exclude_short: short abandons are left out of the service level's denominator
//   (default true);
// - report_sl_count_abandons: other abandons count in the denominator (default true: an abandon
//   is a call not answered within the target);
// - report_fcr_hours: the first-call-resolution window (a caller answered who does not call the
//   queue again within N hours counts as resolved; default 24).
export async function up(db: Kysely<any>): Promise<void> {
  await sql`alter table queues
    add column report_short_abandon_seconds integer not null default 5
      constraint queues_report_short_abandon_check check (report_short_abandon_seconds between 0 and 600),
    add column report_sl_exclude_short boolean not null default true,
    add column report_sl_count_abandons boolean not null default true,
    add column report_fcr_hours integer not null default 24
      constraint queues_report_fcr_hours_check check (report_fcr_hours between 1 and 720)`.execute(db);
}

export async function down(db: Kysely<any>): Promise<void> {
  await sql`alter table queues
    drop column report_short_abandon_seconds,
    drop column report_sl_exclude_short,
    drop column report_sl_count_abandons,
    drop column report_fcr_hours`.execute(db);
}
