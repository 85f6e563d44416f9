/**
 * Table types of the ACD (migrations 2026-11-24T02-00-00_acd, 2026-11-25T00-00-00_acd_versions),
 * with the types of the values they store: agent status (agent-state.ts), strategy, skill
 * requirements and widening steps (router.ts), overflow targets.
 */
import type { ColumnType, Generated, Insertable, Selectable, Updateable } from 'kysely';

export type AgentStatus = 'logged-out' | 'ready' | 'reserved' | 'on-call' | 'wrap-up' | 'paused';

export type Strategy = 'longest-idle' | 'round-robin' | 'fewest-calls' | 'least-talk-time' | 'random' | 'ring-all' | 'skills';

export interface SkillRequirement {
  readonly skill: string;
  /** 1-5. */
  readonly minLevel: number;
}

export interface WideningStep {
  /** Applies once the call has waited this long. */
  readonly afterSeconds: number;
  /** Levels below each requirement's minimum that are accepted now; 'any' = any level >= 1. */
  readonly lowerBy: number | 'any';
}

/** Written as JSON text (a JS array would go to pg as a Postgres array), read back parsed. */
type Json<T> = ColumnType<T, string, string>;
type NullableJson<T> = ColumnType<T | null, string | null, string | null>;
type Updated = ColumnType<Date, Date | undefined, Date>;

export interface PauseReasonTable {
  code: number;
  name: string;
  system: ColumnType<boolean, boolean | undefined, boolean>;
}
export type PauseReasonRow = Selectable<PauseReasonTable>;

export type PendingKind = 'pause' | 'logout';

export interface AgentTable {
  id: Generated<string>;
  /** Digits, 2-16: what the agent types at a phone to log in. */
  number: string;
  name: string;
  pin_hash: string;
  pin_failures: ColumnType<number, number | undefined, number>;
  locked_until: Date | null;
  state: ColumnType<AgentStatus, AgentStatus | undefined, AgentStatus>;
  pause_code: number | null;
  state_since: ColumnType<Date, Date | undefined, Date>;
  /** The phone the agent is logged in at. */
  extension: string | null;
  /** The call offered (reserved), talked on (on-call) or wrapped up (wrap-up). */
  call_id: string | null;
  /** The queue of call_id. */
  queue_id: string | null;
  /** When wrap-up ends by itself. */
  wrap_up_until: Date | null;
  missed_offers: ColumnType<number, number | undefined, number>;
  /** Set when the agent becomes ready. */
  idle_since: Date | null;
  last_offered_at: Date | null;
  /** A pause or logout asked for during a call, carried out when it is over. */
  pending: PendingKind | null;
  pending_pause_code: number | null;
  /** In wrap-up: talk and hold of the call being wrapped up (ms), for its queue 'end' event; else null. */
  call_talk_ms: ColumnType<number | null, number | null | undefined, number | null>;
  call_hold_ms: ColumnType<number | null, number | null | undefined, number | null>;
  /** On a headset: offers ask the phone to answer at once (docs/acd.md#screen-pop-on-the-handset). */
  auto_answer: ColumnType<boolean, boolean | undefined, boolean>;
  created_at: Generated<Date>;
  updated_at: Updated;
  /** Bumped by a trigger on every update (optimistic writes from the warm routing snapshot). */
  version: ColumnType<string, never, never>;
}
export type AgentRow = Selectable<AgentTable>;
export type NewAgent = Insertable<AgentTable>;
export type AgentUpdate = Updateable<AgentTable>;

export interface AgentSkillTable {
  agent_id: string;
  skill: string;
  level: number;
}

/** Where callers go when the queue gives up on them (the API's shape, stored as is). */
export type OverflowTarget =
  | { readonly kind: 'queue'; readonly queue: string }
  | { readonly kind: 'flow'; readonly flow: string }
  | { readonly kind: 'voicemail'; readonly mailbox: string }
  | { readonly kind: 'extension'; readonly number: string };

export interface QueueTable {
  id: Generated<string>;
  name: string;
  strategy: ColumnType<Strategy, Strategy | undefined, Strategy>;
  ring_timeout_seconds: ColumnType<number, number | undefined, number>;
  wrap_up_seconds: ColumnType<number, number | undefined, number>;
  max_wait_seconds: number | null;
  max_length: number | null;
  overflow: NullableJson<OverflowTarget>;
  join_empty: ColumnType<boolean, boolean | undefined, boolean>;
  leave_when_empty: ColumnType<boolean, boolean | undefined, boolean>;
  sl_seconds: ColumnType<number, number | undefined, number>;
  sl_percent: ColumnType<number, number | undefined, number>;
  /** Reports (docs/reporting.md): abandons within this wait are short, reported apart. */
  report_short_abandon_seconds: ColumnType<number, number | undefined, number>;
  /** Reports: short abandons left out of the service level's denominator. */
  report_sl_exclude_short: ColumnType<boolean, boolean | undefined, boolean>;
  /** Reports: (other) abandons count in the service level's denominator. */
  report_sl_count_abandons: ColumnType<boolean, boolean | undefined, boolean>;
  /** Reports: first-call-resolution window, hours. */
  report_fcr_hours: ColumnType<number, number | undefined, number>;
  announce_seconds: ColumnType<number, number | undefined, number>;
  missed_offers_pause: ColumnType<number, number | undefined, number>;
  required_skills: Json<SkillRequirement[]>;
  widening: Json<WideningStep[]>;
  callback_after_seconds: number | null;
  callback_retries: ColumnType<number, number | undefined, number>;
  music_class: ColumnType<string, string | undefined, string>;
  /** Days a recording of this queue is kept; null: the site default (src/recordings). */
  recording_retention_days: ColumnType<number | null, number | null | undefined, number | null>;
  /** always | never | on-demand; null: the route, extension, trunk or site decides (docs/recording.md#policy). */
  recording_policy: ColumnType<string | null, string | null | undefined, string | null>;
  /** Record only this share of calls (1-100 %); null: all. */
  recording_sample_percent: ColumnType<number | null, number | null | undefined, number | null>;
  /** Played before recording starts: {"prompt": id} or {"text": ..., "language": ...}; null: the site's. */
  recording_announcement: ColumnType<unknown, string | null | undefined, string | null>;
  /** The IVR flow callers go into when the agent hangs up (post-call survey); null: none. */
  survey_flow_id: ColumnType<string | null, string | null | undefined, string | null>;
  /** The caller-ID name an agent's phone shows for this queue's calls (src/acd/screen-pop.ts); null: the caller's name or number. */
  caller_id_template: ColumnType<string | null, string | null | undefined, string | null>;
  /** The Alert-Info header of this queue's offers (distinctive ring); null: none. */
  alert_info: ColumnType<string | null, string | null | undefined, string | null>;
  created_at: Generated<Date>;
  updated_at: Updated;
}
export type QueueRow = Selectable<QueueTable>;
export type NewQueue = Insertable<QueueTable>;
export type QueueUpdate = Updateable<QueueTable>;

export interface QueueMemberTable {
  queue_id: string;
  agent_id: string;
  penalty: ColumnType<number, number | undefined, number>;
}

export interface AgentStateLogTable {
  id: Generated<string>;
  agent_id: string;
  from_state: AgentStatus;
  to_state: AgentStatus;
  pause_code: number | null;
  cause: string;
  call_id: string | null;
  queue_id: string | null;
  by_actor: string | null;
  details: NullableJson<Record<string, unknown>>;
  at: ColumnType<Date, Date | undefined, never>;
}
export type AgentStateLogRow = Selectable<AgentStateLogTable>;

export type QueueCallState = 'waiting' | 'offered' | 'connected' | 'callback';

export interface QueueCallTable {
  call_id: string;
  queue_id: string;
  channel_id: string | null;
  caller_number: string | null;
  caller_name: string | null;
  priority: ColumnType<number, number | undefined, number>;
  /** null: the queue's own required skills; a list replaces them. */
  skills: NullableJson<SkillRequirement[]>;
  enqueued_at: ColumnType<Date, Date | undefined, Date>;
  state: ColumnType<QueueCallState, QueueCallState | undefined, QueueCallState>;
  agent_id: string | null;
  updated_at: Updated;
}
export type QueueCallRow = Selectable<QueueCallTable>;

export type CallbackState = 'waiting' | 'dialing' | 'connected' | 'done' | 'failed';

export interface CallbackTable {
  id: Generated<string>;
  queue_id: string;
  call_id: string;
  caller_number: string;
  /** When the caller first joined the queue: keeps their place. */
  enqueued_at: Date;
  requested_at: ColumnType<Date, Date | undefined, Date>;
  state: ColumnType<CallbackState, CallbackState | undefined, CallbackState>;
  attempts: ColumnType<number, number | undefined, number>;
  next_attempt_at: Date | null;
  last_result: string | null;
  agent_id: string | null;
}
export type CallbackRow = Selectable<CallbackTable>;

export type QueueCallOutcome = 'answered' | 'abandoned' | 'overflow' | 'callback' | 'timeout';

export interface QueueCallLogTable {
  id: Generated<string>;
  queue_id: string;
  call_id: string;
  enqueued_at: Date;
  answered_at: Date | null;
  ended_at: ColumnType<Date, Date | undefined, Date>;
  outcome: QueueCallOutcome;
  wait_seconds: number;
  talk_seconds: number | null;
  agent_id: string | null;
}
export type QueueCallLogRow = Selectable<QueueCallLogTable>;

// ---------------------------------------------------------------- reporting (migration 2026-12-08T00-00-00_queue_events)

/**
 * One step of a queue call. `wait_ms` is set on answer, abandon, overflow, timeout and
 * callback-requested; `talk_ms`, `hold_ms`, `wrap_up_ms` on end (an answered call's parts).
 */
export type QueueEventType =
  | 'join'
  | 'offer'
  | 'ring-no-answer'
  | 'answer'
  | 'transfer'
  | 'abandon'
  | 'overflow'
  | 'timeout'
  | 'callback-requested'
  | 'callback-done'
  | 'end';

export interface QueueEventTable {
  id: Generated<string>;
  at: ColumnType<Date, Date | undefined, never>;
  queue_id: string;
  call_id: string;
  type: QueueEventType;
  agent_id: string | null;
  caller_number: string | null;
  wait_ms: number | null;
  talk_ms: number | null;
  hold_ms: number | null;
  wrap_up_ms: number | null;
  details: ColumnType<Record<string, unknown> | null, string | null, never>;
}
export type QueueEventRow = Selectable<QueueEventTable>;
export type NewQueueEvent = Insertable<QueueEventTable>;
