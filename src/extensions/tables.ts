import type { ColumnType, Generated, Insertable, Selectable, Updateable } from 'kysely';

export type PermissionClass = 'internal' | 'national' | 'international';
/** none: UDP/TCP and plain RTP; tls: SIP over TLS only; tls-srtp: TLS and SRTP (SDES) required. */
export type SipSecurity = 'none' | 'tls' | 'tls-srtp';

export interface ExtensionTable {
  id: Generated<string>;
  number: string;
  display_name: string;
  caller_id_number: string | null;
  permission_class: ColumnType<PermissionClass, PermissionClass | undefined, PermissionClass>;
  dnd: Generated<boolean>;
  forward_always: string | null;
  forward_busy: string | null;
  forward_no_answer: string | null;
  ring_timeout_seconds: Generated<number>;
  voicemail_enabled: Generated<boolean>;
  /** May supervise (listen, whisper, barge) from its phone with *55 (docs/supervision.md). */
  can_supervise: Generated<boolean>;
  voicemail_pin_hash: string | null;
  /** SIP over TLS / SRTP (migration 2026-12-07T07-00-00_extension_sip_security). */
  sip_security: ColumnType<SipSecurity, SipSecurity | undefined, SipSecurity>;
  /** Call recording: always | never | on-demand; null: not set here (docs/recording.md#policy). */
  recording_policy: ColumnType<string | null, string | null | undefined, string | null>;
  created_at: Generated<Date>;
  updated_at: Generated<Date>;
}
export type ExtensionRow = Selectable<ExtensionTable>;
export type NewExtension = Insertable<ExtensionTable>;
export type ExtensionPatch = Updateable<ExtensionTable>;

/**
 * An extension's SIP password sealed with PBX_SECRET_KEY (src/shared/secret-box.ts), for the
 * phone's provisioning file; Asterisk reads only the digest in ps_auths (src/extensions/sip-credentials.ts).
 */
export interface SipSecretTable {
  extension_number: string;
  sealed_password: string;
  updated_at: Generated<Date>;
}

/**
 * PJSIP realtime rows (migration 2026-11-23T00-00-00_pjsip_realtime): Asterisk's own tables and
 * column names, the subset of columns the control plane writes or reads. Extensions write their
 * SIP accounts here (src/extensions/repository.ts), trunks theirs (src/trunks/realtime.ts, which
 * also writes ps_endpoint_id_ips and ps_registrations: src/trunks/tables.ts). A writer sets only
 * the columns it needs; the others stay NULL (Asterisk's default).
 */
type Pjsip<T> = ColumnType<T | null, T | null | undefined, T | null>;

export interface PsEndpointTable {
  id: string;
  transport: Pjsip<string>;
  aors: Pjsip<string>;
  auth: Pjsip<string>;
  outbound_auth: Pjsip<string>;
  context: Pjsip<string>;
  disallow: Pjsip<string>;
  allow: Pjsip<string>;
  from_user: Pjsip<string>;
  from_domain: Pjsip<string>;
  direct_media: Pjsip<string>;
  dtmf_mode: Pjsip<string>;
  force_rport: Pjsip<string>;
  rewrite_contact: Pjsip<string>;
  rtp_symmetric: Pjsip<string>;
  callerid: Pjsip<string>;
  mailboxes: Pjsip<string>;
  send_pai: Pjsip<string>;
  trust_id_inbound: Pjsip<string>;
  device_state_busy_at: Pjsip<number>;
  allow_subscribe: Pjsip<string>;
  language: Pjsip<string>;
  media_encryption: Pjsip<string>;
  media_encryption_optimistic: Pjsip<string>;
}
export interface PsAuthTable {
  id: string;
  auth_type: Pjsip<string>;
  username: Pjsip<string>;
  /** plaintext: trunks only (outbound registration needs it); extensions keep it NULL */
  password: Pjsip<string>;
  /** extensions: `md5:<HA1>` for `realm` (src/extensions/sip-credentials.ts) */
  password_digest: Pjsip<string>;
  realm: Pjsip<string>;
}
export interface PsAorTable {
  id: string;
  contact: Pjsip<string>;
  max_contacts: Pjsip<number>;
  remove_existing: Pjsip<string>;
  qualify_frequency: Pjsip<number>;
  qualify_timeout: Pjsip<number>;
  mailboxes: Pjsip<string>;
}
/** Written by Asterisk itself (registrations); the control plane reads and deletes. */
export interface PsContactTable {
  id: string;
  uri: string | null;
  expiration_time: string | null;
  user_agent: string | null;
  endpoint: string | null;
  via_addr: string | null;
  via_port: number | null;
  reg_server: string | null;
}
