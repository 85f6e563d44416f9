import type { ColumnType, Generated, Selectable } from 'kysely';

/**
 * Outbound campaigns (docs/campaigns.md; migration 2026-12-09T00-00-00_campaigns). JSON columns
 * are written as JSON text (JSON.stringify) and read back parsed.
 */
type Json<T> = ColumnType<T, string | undefined, string>;
type Created = ColumnType<Date, Date | undefined, never>;
type Updated = ColumnType<Date, Date | undefined, Date>;

export type CampaignMode = 'preview' | 'progressive' | 'predictive' | 'agentless';
export type CampaignState = 'draft' | 'running' | 'paused' | 'stopped' | 'finished';
export type MachineAction = 'hangup' | 'message';

/** What ends an attempt that can be tried again. */
export type RetryOutcome = 'busy' | 'no-answer' | 'machine' | 'failed' | 'abandoned';
export interface RetryRule {
  /** Wait this long before the next try. */
  readonly delayMinutes: number;
  /** Try again after this outcome only while the contact has been dialed fewer times than this
   *  (and than the campaign's maxAttempts); else the contact is exhausted. */
  readonly maxAttempts: number;
}
export type RetryRules = Readonly<Partial<Record<RetryOutcome, RetryRule>>>;

export type Pacing =
  | { readonly mode: 'fixed'; readonly level: number }
  | { readonly mode: 'predictive'; readonly targetAbandonRate: number };

/** What the agent's disposition does to the contact. */
export type DispositionAction = 'done' | 'retry' | 'callback' | 'dnc';
export interface Disposition {
  /** Keyed on the handset during wrap-up (1-2 digits). */
  readonly code: string;
  readonly name: string;
  /** Counts as a conversion. */
  readonly success: boolean;
  readonly action: DispositionAction;
}

export interface CampaignTable {
  id: Generated<string>;
  name: string;
  mode: CampaignMode;
  state: ColumnType<CampaignState, CampaignState | undefined, CampaignState>;
  queue_id: string | null;
  trunk_id: string;
  caller_id: string;
  caller_name: string | null;
  window_start: ColumnType<string, string | undefined, string>;
  window_end: ColumnType<string, string | undefined, string>;
  /** ISO weekdays, 1 = Monday. */
  window_days: Json<number[]>;
  default_country: ColumnType<string, string | undefined, string>;
  retry_rules: Json<RetryRules>;
  max_attempts: ColumnType<number, number | undefined, number>;
  daily_limit: number | null;
  /** The campaign's own day (daily limit, campaign_days). */
  time_zone: ColumnType<string, string | undefined, string>;
  /** numeric: pg returns it as a string. */
  abandon_cap: ColumnType<string, number | undefined, number>;
  ring_seconds: ColumnType<number, number | undefined, number>;
  /** numeric: pg returns it as a string. */
  connect_seconds: ColumnType<string, number | undefined, number>;
  /** Preview mode: how long an offer waits for the agent's accept or skip (5-300 s). */
  preview_seconds: ColumnType<number, number | undefined, number>;
  pacing: Json<Pacing>;
  amd: ColumnType<boolean, boolean | undefined, boolean>;
  machine_action: ColumnType<MachineAction, MachineAction | undefined, MachineAction>;
  machine_prompt: string | null;
  abandon_prompt: string | null;
  flow_id: string | null;
  dispositions: Json<Disposition[]>;
  created_at: Created;
  updated_at: Updated;
}
export type CampaignRow = Selectable<CampaignTable>;

export type ImportKind = 'contacts' | 'dnc';
export type ImportState = 'queued' | 'running' | 'done' | 'failed';

export interface CampaignImportTable {
  id: string;
  campaign_id: string | null;
  kind: ImportKind;
  state: ColumnType<ImportState, ImportState | undefined, ImportState>;
  file_name: string | null;
  bytes: ColumnType<string, number | undefined, number>;
  rows_read: ColumnType<number, number | undefined, number>;
  accepted: ColumnType<number, number | undefined, number>;
  rejected: ColumnType<number, number | undefined, number>;
  rejected_by_reason: Json<Record<string, number>>;
  error: string | null;
  created_at: Created;
  finished_at: Date | null;
}
export type CampaignImportRow = Selectable<CampaignImportTable>;

export interface CampaignImportRejectTable {
  import_id: string;
  line: number;
  reason: string;
  detail: string | null;
  raw: string | null;
}

export type ContactState = 'ready' | 'dialing' | 'done' | 'exhausted' | 'dnc' | 'unreachable' | 'callback';
export type TzSource = 'column' | 'number' | 'country' | 'unknown';

export interface CampaignContactTable {
  id: Generated<string>;
  campaign_id: string;
  import_id: string | null;
  line: number | null;
  /** E.164. */
  number: string;
  name: string | null;
  /** The IANA zones the contact may be in; callable only when every one is in the window; empty: never. */
  time_zones: Json<string[]>;
  tz_source: TzSource;
  data: Json<Record<string, string>>;
  state: ColumnType<ContactState, ContactState | undefined, ContactState>;
  attempts: ColumnType<number, number | undefined, number>;
  next_attempt_at: ColumnType<Date, Date | undefined, Date>;
  priority: ColumnType<number, number | undefined, number>;
  last_outcome: string | null;
  disposition: string | null;
  callback_agent_id: string | null;
  created_at: Created;
  updated_at: Updated;
}
export type CampaignContactRow = Selectable<CampaignContactTable>;

/** 'offered': preview mode, offered to agent_id and not dialed until they accept (preview.ts). */
export type AttemptState = 'offered' | 'queued' | 'dialing' | 'answered' | 'connected' | 'ended';
export type AttemptOutcome =
  | 'busy' | 'no-answer' | 'failed' | 'machine' | 'human' | 'abandoned'
  | 'blocked-dnc' | 'blocked-window' | 'cancelled'
  /** Preview offers the agent skipped, or left unanswered: never dialed, not a try. */
  | 'skipped' | 'expired';

export interface CampaignAttemptTable {
  /** `<contact id>-<n>`. */
  id: string;
  campaign_id: string;
  contact_id: string;
  number: string;
  state: ColumnType<AttemptState, AttemptState | undefined, AttemptState>;
  outcome: AttemptOutcome | null;
  hangup_cause: number | null;
  amd_status: string | null;
  amd_cause: string | null;
  agent_id: string | null;
  channel_id: string | null;
  disposition: string | null;
  created_at: Created;
  dialed_at: Date | null;
  answered_at: Date | null;
  connected_at: Date | null;
  ended_at: Date | null;
  ring_ms: number | null;
}
export type CampaignAttemptRow = Selectable<CampaignAttemptTable>;

/** The compliance counters of one campaign day (campaign_days). */
export interface CampaignDayTable {
  campaign_id: string;
  /** The day in the campaign's time zone, written 'YYYY-MM-DD'; node-pg reads a `date` as a Date at
   *  the process's local midnight: select `to_char(day, 'YYYY-MM-DD')` instead. */
  day: ColumnType<Date, string, never>;
  attempts: ColumnType<number, number | undefined, number>;
  live_answers: ColumnType<number, number | undefined, number>;
  machines: ColumnType<number, number | undefined, number>;
  connects: ColumnType<number, number | undefined, number>;
  abandons: ColumnType<number, number | undefined, number>;
  outside_window: ColumnType<number, number | undefined, number>;
  dnc_blocked: ColumnType<number, number | undefined, number>;
  short_rings: ColumnType<number, number | undefined, number>;
}

export type DncSource = 'import' | 'api' | 'disposition';
export interface DncNumberTable {
  id: Generated<string>;
  number: string;
  /** null: site-wide. */
  campaign_id: string | null;
  source: DncSource;
  note: string | null;
  created_at: Created;
}
export type DncNumberRow = Selectable<DncNumberTable>;
