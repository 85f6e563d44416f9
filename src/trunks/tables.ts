/**
 * Table types for trunks and routing (migration 2026-11-23T02-00-00_trunks), plus the subset of
 * the PJSIP realtime tables a trunk writes. Kept here as a database of its own (TrunkDatabase)
 * so this feature does not depend on which tables src/db/database.ts lists; `trunkDb` views the
 * shared connection through it.
 */
import type { ColumnType, Generated, Insertable, Kysely, Selectable, Transaction } from 'kysely';
import type { Db, DbOrTx } from '../db/database.js';
import type { AuditLogTable } from '../db/tables/audit.js';

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
export type PsIdentify = { id: string } & Nullable<{ endpoint: string; match: string; srv_lookups: string }>;
export type PsRegistration = { id: string } & Nullable<{
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

export interface TrunkDatabase {
  trunks: TrunkTable;
  outbound_routes: OutboundRouteTable;
  inbound_routes: InboundRouteTable;
  emergency_numbers: EmergencyNumberTable;
  extensions: { id: Generated<string>; number: string };
  flows: { id: Generated<string>; name: string; published_version: number | null };
  queues: { id: Generated<string>; name: string };
  audit_log: AuditLogTable;
  ps_endpoints: PsEndpoint;
  ps_aors: PsAor;
  ps_auths: PsAuth;
  ps_endpoint_id_ips: PsIdentify;
  ps_registrations: PsRegistration;
}

export type TrunkDb = Kysely<TrunkDatabase>;
export type TrunkDbOrTx = Kysely<TrunkDatabase> | Transaction<TrunkDatabase>;

/** The shared connection, typed with this feature's tables (same pool, same transactions). */
export function trunkDb(db: Db): TrunkDb;
export function trunkDb(db: DbOrTx): TrunkDbOrTx;
export function trunkDb(db: DbOrTx): TrunkDbOrTx {
  return db as unknown as TrunkDbOrTx;
}
/** The other way round, for shared helpers such as recordAudit. */
export const sharedDb = (db: TrunkDbOrTx): DbOrTx => db as unknown as DbOrTx;
