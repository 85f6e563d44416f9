import type { ColumnType, Generated, Insertable, Selectable, Updateable } from 'kysely';

export type PermissionClass = 'internal' | 'national' | 'international';

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
  voicemail_pin_hash: string | null;
  created_at: Generated<Date>;
  updated_at: Generated<Date>;
}
export type ExtensionRow = Selectable<ExtensionTable>;
export type NewExtension = Insertable<ExtensionTable>;
export type ExtensionPatch = Updateable<ExtensionTable>;

/** PJSIP realtime rows (subset the control plane writes; Asterisk's column names). */
export interface PsEndpointTable {
  id: string;
  transport: string | null;
  aors: string | null;
  auth: string | null;
  context: string | null;
  disallow: string | null;
  allow: string | null;
  direct_media: string | null;
  dtmf_mode: string | null;
  force_rport: string | null;
  rewrite_contact: string | null;
  rtp_symmetric: string | null;
  callerid: string | null;
  mailboxes: string | null;
  send_pai: string | null;
  trust_id_inbound: string | null;
  device_state_busy_at: number | null;
  allow_subscribe: string | null;
  language: string | null;
}
export interface PsAuthTable {
  id: string;
  auth_type: string | null;
  username: string | null;
  password: string | null;
}
export interface PsAorTable {
  id: string;
  max_contacts: number | null;
  remove_existing: string | null;
  qualify_frequency: number | null;
  mailboxes: string | null;
}
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
