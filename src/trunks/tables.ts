/**
 * Table types for trunks and routing (migration 2026-11-23T02-00-00_trunks), the rows a trunk
 * writes to the PJSIP realtime tables (src/extensions/tables.ts has ps_endpoints, ps_aors and
 * ps_auths), and the two realtime tables only trunks write (ps_endpoint_id_ips, ps_registrations).
 */
import type { ColumnType, Generated, Insertable, Selectable } from 'kysely';

export type TrunkKind = 'registration' | 'ip';
export type SipTransport = 'udp' | 'tcp';
export type Codec = 'ulaw' | 'alaw' | 'g722' | 'gsm' | 'opus';
export const CODECS: readonly Codec[] = ['ulaw', 'alaw', 'g722', 'gsm', 'opus'];

export interface TrunkTable {
  id: Generated<string>;
  name: string;
  kind: TrunkKind;
  host: string;
  port: number;
  transport: SipTransport;
  username: string | null;
  password: string | null;
  from_user: string | null;
  from_domain: string | null;
  codecs: ColumnType<Codec[], Codec[], Codec[]>;
  max_channels: number;
  enabled: boolean;
  /** Call recording: always | never | on-demand; null: not set here (docs/recording.md#policy). */
  recording_policy: ColumnType<string | null, string | null | undefined, string | null>;
  created_at: Generated<Date>;
  updated_at: ColumnType<Date, Date | undefined, Date>;
}
export type TrunkRow = Selectable<TrunkTable>;
export type NewTrunk = Insertable<TrunkTable>;

export interface OutboundRouteTable {
  id: Generated<string>;
  name: string;
  pattern: string;
  strip: number;
  prepend: string;
  trunk_id: string;
  priority: number;
  required_class: 'national' | 'international';
  /** Call recording: always | never | on-demand; null: not set here (docs/recording.md#policy). */
  recording_policy: ColumnType<string | null, string | null | undefined, string | null>;
  created_at: Generated<Date>;
  updated_at: ColumnType<Date, Date | undefined, Date>;
}
export type OutboundRouteRow = Selectable<OutboundRouteTable>;

export interface InboundRouteTable {
  id: Generated<string>;
  name: string;
  did_pattern: string | null;
  caller_pattern: string | null;
  priority: number;
  target_kind: string;
  target_extension: string | null;
  /** flows.id for target_kind 'flow' (the API speaks flow names). */
  target_flow: string | null;
  /** queues.id for target_kind 'queue' (the API speaks queue names). */
  target_queue: string | null;
  /** Call recording: always | never | on-demand; null: not set here (docs/recording.md#policy). */
  recording_policy: ColumnType<string | null, string | null | undefined, string | null>;
  created_at: Generated<Date>;
  updated_at: ColumnType<Date, Date | undefined, Date>;
}
export type InboundRouteRow = Selectable<InboundRouteTable>;
/** A route as read: with the name of its target flow / queue (null unless target_kind is 'flow' / 'queue'). */
export type InboundRouteView = InboundRouteRow & { target_flow_name: string | null; target_queue_name: string | null };

export interface EmergencyNumberTable {
  number: string;
  created_at: Generated<Date>;
}

type Nullable<T> = { [K in keyof T]: T[K] | null };

/** The rows a trunk writes (src/trunks/realtime.ts), every column it sets given (null where it has none). */
export type PsEndpoint = { id: string } & Nullable<{
  transport: string;
  aors: string;
  outbound_auth: string;
  context: string;
  disallow: string;
  allow: string;
  from_user: string;
  from_domain: string;
  dtmf_mode: string;
  direct_media: string;
  rtp_symmetric: string;
  force_rport: string;
  rewrite_contact: string;
  device_state_busy_at: number;
  allow_subscribe: string;
}>;
export type PsAor = { id: string } & Nullable<{ contact: string; qualify_frequency: number; qualify_timeout: number }>;
export type PsAuth = { id: string } & Nullable<{ auth_type: string; username: string; password: string }>;
/** ps_endpoint_id_ips: a trunk's identify (match = the provider's host). */
export type PsIdentifyTable = { id: string } & Nullable<{ endpoint: string; match: string; srv_lookups: string }>;
/** ps_registrations: a trunk's outbound registration. */
export type PsRegistrationTable = { id: string } & Nullable<{
  server_uri: string;
  client_uri: string;
  contact_user: string;
  outbound_auth: string;
  transport: string;
  expiration: number;
  retry_interval: number;
  forbidden_retry_interval: number;
  fatal_retry_interval: number;
  auth_rejection_permanent: string;
  max_retries: number;
  line: string;
  endpoint: string;
  max_random_initial_delay: number;
}>;
