import { sql, type Kysely } from 'kysely';

// Frozen in time: never import from src/.
//
// The ACD (automatic call distribution, issue #5): agents, queues, who answers which queue, and
// the state the call runtime keeps in Postgres so that several daemons (and a restarted one) agree.
//
//   pause_reasons    code 0-99; 0 'missed' is the system's own (too many missed offers in a row)
//   agents           number + PIN (scrypt hash) typed at a phone to log in; the agent's state in
//                    the state machine (src/acd/agent-state.ts) with its call, pause reason, parked
//                    request (pending) and missed offers; the phone (extension) logged in at
//   agent_skills     skill -> level 1-5
//   queues           strategy and timers; overflow target; required skills and their widening
//   queue_members    agent in queue with a penalty (lower is offered first)
//   agent_state_log  every state change, with its cause and who made it
//   queue_calls      callers waiting / being offered / connected (live views, restart recovery)
//   callbacks        callers who asked to be called back, keeping their place (enqueued_at)
//   queue_call_log   one row per queued call once it left the queue (service level, wait estimates)
// Inbound routes may send calls to a queue (target_kind 'queue', target_queue).
const STATES = `'logged-out','ready','reserved','on-call','wrap-up','paused'`;
const STRATEGIES = `'longest-idle','round-robin','fewest-calls','least-talk-time','random','ring-all','skills'`;

export async function up(db: Kysely<any>): Promise<void> {
  await db.schema
    .createTable('pause_reasons')
    .addColumn('code', 'integer', (c) => c.primaryKey().check(sql`code between 0 and 99`))
    .addColumn('name', 'varchar(40)', (c) => c.notNull().unique().check(sql`btrim(name) <> ''`))
    .addColumn('system', 'boolean', (c) => c.notNull().defaultTo(false))
    .execute();
  await db
    .insertInto('pause_reasons')
    .values([
      { code: 0, name: 'missed', system: true },
      { code: 1, name: 'break', system: false },
      { code: 2, name: 'lunch', system: false },
      { code: 3, name: 'meeting', system: false },
      { code: 4, name: 'training', system: false },
      { code: 5, name: 'after-call work', system: false },
    ])
    .execute();

  await db.schema
    .createTable('queues')
    .addColumn('id', 'bigserial', (c) => c.primaryKey())
    .addColumn('name', 'varchar(64)', (c) => c.notNull().unique().check(sql`name ~ '^[a-z0-9][a-z0-9-]{0,63}$'`))
    .addColumn('strategy', 'varchar(20)', (c) => c.notNull().defaultTo('longest-idle').check(sql.raw(`strategy in (${STRATEGIES})`)))
    .addColumn('ring_timeout_seconds', 'integer', (c) => c.notNull().defaultTo(15).check(sql`ring_timeout_seconds between 5 and 120`))
    .addColumn('wrap_up_seconds', 'integer', (c) => c.notNull().defaultTo(10).check(sql`wrap_up_seconds between 0 and 600`))
    .addColumn('max_wait_seconds', 'integer', (c) => c.check(sql`max_wait_seconds between 10 and 7200`))
    .addColumn('max_length', 'integer', (c) => c.check(sql`max_length between 1 and 1000`))
    // {kind:'queue',queue} | {kind:'flow',flow} | {kind:'voicemail',mailbox} | {kind:'extension',number}
    .addColumn('overflow', 'jsonb', (c) => c.check(sql`overflow is null or (jsonb_typeof(overflow) = 'object' and overflow->>'kind' in ('queue','flow','voicemail','extension'))`))
    .addColumn('join_empty', 'boolean', (c) => c.notNull().defaultTo(false))
    .addColumn('leave_when_empty', 'boolean', (c) => c.notNull().defaultTo(true))
    .addColumn('sl_seconds', 'integer', (c) => c.notNull().defaultTo(20).check(sql`sl_seconds between 1 and 3600`))
    .addColumn('sl_percent', 'integer', (c) => c.notNull().defaultTo(80).check(sql`sl_percent between 1 and 100`))
    .addColumn('announce_seconds', 'integer', (c) => c.notNull().defaultTo(30).check(sql`announce_seconds = 0 or announce_seconds between 10 and 600`))
    .addColumn('missed_offers_pause', 'integer', (c) => c.notNull().defaultTo(3).check(sql`missed_offers_pause between 1 and 10`))
    // [{skill, minLevel}] and [{afterSeconds, lowerBy}] as src/acd/router.ts takes them.
    .addColumn('required_skills', 'jsonb', (c) => c.notNull().defaultTo(sql`'[]'::jsonb`).check(sql`jsonb_typeof(required_skills) = 'array'`))
    .addColumn('widening', 'jsonb', (c) => c.notNull().defaultTo(sql`'[]'::jsonb`).check(sql`jsonb_typeof(widening) = 'array'`))
    .addColumn('callback_after_seconds', 'integer', (c) => c.check(sql`callback_after_seconds between 10 and 7200`))
    .addColumn('callback_retries', 'integer', (c) => c.notNull().defaultTo(2).check(sql`callback_retries between 0 and 5`))
    .addColumn('music_class', 'varchar(40)', (c) => c.notNull().defaultTo('default').check(sql`music_class ~ '^[A-Za-z0-9_-]{1,40}$'`))
    .addColumn('created_at', 'timestamptz', (c) => c.notNull().defaultTo(sql`now()`))
    .addColumn('updated_at', 'timestamptz', (c) => c.notNull().defaultTo(sql`now()`))
    .execute();

  await db.schema
    .createTable('agents')
    .addColumn('id', 'bigserial', (c) => c.primaryKey())
    .addColumn('number', 'varchar(16)', (c) => c.notNull().unique().check(sql`number ~ '^[0-9]{2,16}$'`))
    .addColumn('name', 'varchar(80)', (c) => c.notNull())
    .addColumn('pin_hash', 'text', (c) => c.notNull())
    .addColumn('pin_failures', 'integer', (c) => c.notNull().defaultTo(0).check(sql`pin_failures >= 0`))
    .addColumn('locked_until', 'timestamptz')
    .addColumn('state', 'varchar(16)', (c) => c.notNull().defaultTo('logged-out').check(sql.raw(`state in (${STATES})`)))
    .addColumn('pause_code', 'integer', (c) => c.references('pause_reasons.code').onDelete('restrict'))
    .addColumn('state_since', 'timestamptz', (c) => c.notNull().defaultTo(sql`now()`))
    .addColumn('extension', 'varchar(16)', (c) => c.references('extensions.number').onUpdate('cascade').onDelete('set null'))
    .addColumn('call_id', 'varchar(64)')
    // The queue of call_id, and when wrap-up ends by itself (restart recovery of the state machine).
    .addColumn('queue_id', 'bigint', (c) => c.references('queues.id').onDelete('set null'))
    .addColumn('wrap_up_until', 'timestamptz')
    .addColumn('missed_offers', 'integer', (c) => c.notNull().defaultTo(0).check(sql`missed_offers >= 0`))
    .addColumn('idle_since', 'timestamptz')
    .addColumn('last_offered_at', 'timestamptz')
    .addColumn('pending', 'varchar(16)', (c) => c.check(sql`pending in ('pause','logout')`))
    .addColumn('pending_pause_code', 'integer', (c) => c.references('pause_reasons.code').onDelete('restrict'))
    .addColumn('created_at', 'timestamptz', (c) => c.notNull().defaultTo(sql`now()`))
    .addColumn('updated_at', 'timestamptz', (c) => c.notNull().defaultTo(sql`now()`))
    // What the state machine guarantees, kept by the database too.
    .addCheckConstraint('agents_paused_reason', sql`(state = 'paused') = (pause_code is not null)`)
    .addCheckConstraint('agents_call', sql`(state in ('reserved','on-call','wrap-up')) = (call_id is not null)`)
    .addCheckConstraint('agents_pending_pause', sql`(pending is not distinct from 'pause') = (pending_pause_code is not null)`)
    .execute();
  await db.schema.createIndex('agents_extension_idx').on('agents').column('extension').execute();
  await db.schema.createIndex('agents_state_idx').on('agents').column('state').execute();

  await db.schema
    .createTable('agent_skills')
    .addColumn('agent_id', 'bigint', (c) => c.notNull().references('agents.id').onDelete('cascade'))
    .addColumn('skill', 'varchar(40)', (c) => c.notNull().check(sql`skill ~ '^[a-z][a-z0-9_-]{0,39}$'`))
    .addColumn('level', 'integer', (c) => c.notNull().check(sql`level between 1 and 5`))
    .addPrimaryKeyConstraint('agent_skills_pkey', ['agent_id', 'skill'])
    .execute();

  await db.schema
    .createTable('queue_members')
    .addColumn('queue_id', 'bigint', (c) => c.notNull().references('queues.id').onDelete('cascade'))
    .addColumn('agent_id', 'bigint', (c) => c.notNull().references('agents.id').onDelete('cascade'))
    .addColumn('penalty', 'integer', (c) => c.notNull().defaultTo(0).check(sql`penalty between 0 and 100`))
    .addPrimaryKeyConstraint('queue_members_pkey', ['queue_id', 'agent_id'])
    .execute();
  await db.schema.createIndex('queue_members_agent_idx').on('queue_members').column('agent_id').execute();

  await db.schema
    .createTable('agent_state_log')
    .addColumn('id', 'bigserial', (c) => c.primaryKey())
    .addColumn('agent_id', 'bigint', (c) => c.notNull().references('agents.id').onDelete('cascade'))
    .addColumn('from_state', 'varchar(16)', (c) => c.notNull().check(sql.raw(`from_state in (${STATES})`)))
    .addColumn('to_state', 'varchar(16)', (c) => c.notNull().check(sql.raw(`to_state in (${STATES})`)))
    // History: the code as it was (no foreign key, a reason deleted later keeps its rows).
    .addColumn('pause_code', 'integer')
    .addColumn('cause', 'varchar(40)', (c) => c.notNull())
    .addColumn('call_id', 'varchar(64)')
    .addColumn('queue_id', 'bigint')
    .addColumn('by_actor', 'text')
    .addColumn('details', 'jsonb')
    .addColumn('at', 'timestamptz', (c) => c.notNull().defaultTo(sql`now()`))
    .execute();
  await db.schema.createIndex('agent_state_log_agent_at_idx').on('agent_state_log').columns(['agent_id', 'at']).execute();

  await db.schema
    .createTable('queue_calls')
    .addColumn('call_id', 'varchar(64)', (c) => c.primaryKey())
    .addColumn('queue_id', 'bigint', (c) => c.notNull().references('queues.id').onDelete('restrict'))
    .addColumn('channel_id', 'varchar(64)')
    .addColumn('caller_number', 'varchar(32)')
    .addColumn('caller_name', 'varchar(80)')
    .addColumn('priority', 'integer', (c) => c.notNull().defaultTo(0))
    // null: the queue's own required skills; an array [{skill, minLevel}] replaces them (IVR).
    .addColumn('skills', 'jsonb', (c) => c.check(sql`skills is null or jsonb_typeof(skills) = 'array'`))
    .addColumn('enqueued_at', 'timestamptz', (c) => c.notNull().defaultTo(sql`now()`))
    .addColumn('state', 'varchar(16)', (c) => c.notNull().defaultTo('waiting').check(sql`state in ('waiting','offered','connected','callback')`))
    .addColumn('agent_id', 'bigint', (c) => c.references('agents.id').onDelete('set null'))
    .addColumn('updated_at', 'timestamptz', (c) => c.notNull().defaultTo(sql`now()`))
    .execute();
  await db.schema.createIndex('queue_calls_queue_idx').on('queue_calls').columns(['queue_id', 'enqueued_at']).execute();

  await db.schema
    .createTable('callbacks')
    .addColumn('id', 'bigserial', (c) => c.primaryKey())
    .addColumn('queue_id', 'bigint', (c) => c.notNull().references('queues.id').onDelete('cascade'))
    .addColumn('call_id', 'varchar(64)', (c) => c.notNull())
    .addColumn('caller_number', 'varchar(32)', (c) => c.notNull())
    .addColumn('enqueued_at', 'timestamptz', (c) => c.notNull())
    .addColumn('requested_at', 'timestamptz', (c) => c.notNull().defaultTo(sql`now()`))
    .addColumn('state', 'varchar(16)', (c) => c.notNull().defaultTo('waiting').check(sql`state in ('waiting','dialing','connected','done','failed')`))
    .addColumn('attempts', 'integer', (c) => c.notNull().defaultTo(0).check(sql`attempts >= 0`))
    .addColumn('next_attempt_at', 'timestamptz')
    .addColumn('last_result', 'text')
    .addColumn('agent_id', 'bigint', (c) => c.references('agents.id').onDelete('set null'))
    .execute();
  await db.schema.createIndex('callbacks_queue_state_idx').on('callbacks').columns(['queue_id', 'state']).execute();

  await db.schema
    .createTable('queue_call_log')
    .addColumn('id', 'bigserial', (c) => c.primaryKey())
    // No foreign keys: statistics outlive the queue or agent (ids are never reused).
    .addColumn('queue_id', 'bigint', (c) => c.notNull())
    .addColumn('call_id', 'varchar(64)', (c) => c.notNull())
    .addColumn('enqueued_at', 'timestamptz', (c) => c.notNull())
    .addColumn('answered_at', 'timestamptz')
    .addColumn('ended_at', 'timestamptz', (c) => c.notNull().defaultTo(sql`now()`))
    .addColumn('outcome', 'varchar(16)', (c) => c.notNull().check(sql`outcome in ('answered','abandoned','overflow','callback','timeout')`))
    .addColumn('wait_seconds', 'integer', (c) => c.notNull().check(sql`wait_seconds >= 0`))
    .addColumn('talk_seconds', 'integer', (c) => c.check(sql`talk_seconds >= 0`))
    .addColumn('agent_id', 'bigint')
    .execute();
  await db.schema.createIndex('queue_call_log_queue_ended_idx').on('queue_call_log').columns(['queue_id', 'ended_at']).execute();
  await db.schema.createIndex('queue_call_log_agent_ended_idx').on('queue_call_log').columns(['agent_id', 'ended_at']).execute();

  await db.schema
    .alterTable('inbound_routes')
    .addColumn('target_queue', 'bigint', (c) => c.references('queues.id').onDelete('restrict'))
    .execute();
  await db.schema.createIndex('inbound_routes_target_queue_idx').on('inbound_routes').column('target_queue').execute();
  await sql`alter table inbound_routes drop constraint inbound_routes_target_kind_check`.execute(db);
  await sql`alter table inbound_routes drop constraint inbound_routes_target`.execute(db);
  await sql`alter table inbound_routes add constraint inbound_routes_target_kind_check check (target_kind in ('extension','hangup','flow','queue'))`.execute(db);
  await sql`alter table inbound_routes add constraint inbound_routes_target check (
    (target_kind = 'extension') = (target_extension is not null)
    and (target_kind = 'flow') = (target_flow is not null)
    and (target_kind = 'queue') = (target_queue is not null))`.execute(db);
}

export async function down(db: Kysely<any>): Promise<void> {
  await sql`delete from inbound_routes where target_kind = 'queue'`.execute(db);
  await sql`alter table inbound_routes drop constraint inbound_routes_target`.execute(db);
  await sql`alter table inbound_routes drop constraint inbound_routes_target_kind_check`.execute(db);
  await db.schema.dropIndex('inbound_routes_target_queue_idx').ifExists().execute();
  await db.schema.alterTable('inbound_routes').dropColumn('target_queue').execute();
  await sql`alter table inbound_routes add constraint inbound_routes_target_kind_check check (target_kind in ('extension','hangup','flow'))`.execute(db);
  await sql`alter table inbound_routes add constraint inbound_routes_target check (
    (target_kind = 'extension') = (target_extension is not null)
    and (target_kind = 'flow') = (target_flow is not null))`.execute(db);
  for (const t of ['queue_call_log', 'callbacks', 'queue_calls', 'agent_state_log', 'queue_members', 'agent_skills', 'agents', 'queues', 'pause_reasons']) {
    await db.schema.dropTable(t).ifExists().execute();
  }
}
