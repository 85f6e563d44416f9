import { sql, type Kysely } from 'kysely';

// Frozen in time: never import from src/.
//
// PJSIP realtime tables read (and, for ps_contacts, written) by Asterisk through
// res_config_pgsql + res_sorcery_realtime (see asterisk/sorcery.conf and asterisk/extconfig.conf).
// Column names are Asterisk's own (its contrib/ast-db-manage alembic schema): every column must be
// a PJSIP option name of that object type. Asterisk reads rows with SELECT * and skips NULL
// columns, so only the columns the control plane sets matter; the rest stay NULL (= Asterisk's
// default). Asterisk's ENUM columns (yes/no, dtmf modes, ...) are plain varchar(40) here.
// Checked against Asterisk 22.10 (`config show help res_pjsip endpoint|auth|aor|contact`).

type Col = readonly [name: string, type: 'varchar(40)' | 'varchar(80)' | 'varchar(255)' | 'text' | 'integer' | 'bigint' | 'real'];

const V40 = 'varchar(40)' as const;
const V80 = 'varchar(80)' as const;
const V255 = 'varchar(255)' as const;
const INT = 'integer' as const;

const endpointCols: Col[] = [
  ['transport', V40],
  ['aors', 'text'],
  ['auth', V255],
  ['context', V40],
  ['disallow', V255],
  ['allow', V255],
  ['direct_media', V40],
  ['connected_line_method', V40],
  ['direct_media_method', V40],
  ['direct_media_glare_mitigation', V40],
  ['disable_direct_media_on_nat', V40],
  ['dtmf_mode', V40],
  ['media_address', V40],
  ['bind_rtp_to_media_address', V40],
  ['force_rport', V40],
  ['ice_support', V40],
  ['identify_by', V80],
  ['mailboxes', V255],
  ['aggregate_mwi', V40],
  ['mwi_subscribe_replaces_unsolicited', V40],
  ['mwi_from_user', V255],
  ['voicemail_extension', V40],
  ['incoming_mwi_mailbox', V40],
  ['moh_suggest', V40],
  ['moh_passthrough', V40],
  ['outbound_auth', V255],
  ['outbound_proxy', V255],
  ['rewrite_contact', V40],
  ['rtp_ipv6', V40],
  ['rtp_symmetric', V40],
  ['send_diversion', V40],
  ['send_history_info', V40],
  ['send_pai', V40],
  ['send_rpid', V40],
  ['rpid_immediate', V40],
  ['timers_min_se', INT],
  ['timers', V40],
  ['timers_sess_expires', INT],
  ['callerid', V255],
  ['callerid_privacy', V40],
  ['callerid_tag', V40],
  ['100rel', V40],
  ['trust_id_inbound', V40],
  ['trust_id_outbound', V40],
  ['trust_connected_line', V40],
  ['send_connected_line', V40],
  ['use_ptime', V40],
  ['use_avpf', V40],
  ['force_avp', V40],
  ['media_use_received_transport', V40],
  ['media_encryption', V40],
  ['media_encryption_optimistic', V40],
  ['inband_progress', V40],
  ['call_group', V40],
  ['pickup_group', V40],
  ['named_call_group', V40],
  ['named_pickup_group', V40],
  ['device_state_busy_at', INT],
  ['fax_detect', V40],
  ['fax_detect_timeout', INT],
  ['t38_udptl', V40],
  ['tone_zone', V40],
  ['language', V40],
  ['one_touch_recording', V40],
  ['record_on_feature', V40],
  ['record_off_feature', V40],
  ['rtp_engine', V40],
  ['allow_transfer', V40],
  ['allow_subscribe', V40],
  ['sub_min_expiry', INT],
  ['subscribe_context', V40],
  ['from_user', V40],
  ['from_domain', V40],
  ['contact_user', V80],
  ['user_eq_phone', V40],
  ['sdp_owner', V40],
  ['sdp_session', V40],
  ['tos_audio', V40],
  ['cos_audio', INT],
  ['rtp_keepalive', INT],
  ['rtp_timeout', INT],
  ['rtp_timeout_hold', INT],
  ['set_var', 'text'],
  ['message_context', V40],
  ['accountcode', V80],
  ['preferred_codec_only', V40],
  ['incoming_call_offer_pref', V80],
  ['outgoing_call_offer_pref', V80],
  ['acl', V40],
  ['deny', V255],
  ['permit', V255],
  ['contact_acl', V40],
  ['contact_deny', V255],
  ['contact_permit', V255],
  ['asymmetric_rtp_codec', V40],
  ['rtcp_mux', V40],
  ['allow_overlap', V40],
  ['overlap_context', V80],
  ['redirect_method', V40],
  ['refer_blind_progress', V40],
  ['notify_early_inuse_ringing', V40],
  ['max_audio_streams', INT],
  ['max_video_streams', INT],
  ['bundle', V40],
  ['webrtc', V40],
  ['dtls_verify', V40],
  ['dtls_rekey', INT],
  ['dtls_auto_generate_cert', V40],
  ['dtls_cert_file', V255],
  ['dtls_private_key', V255],
  ['dtls_cipher', V255],
  ['dtls_ca_file', V255],
  ['dtls_ca_path', V255],
  ['dtls_setup', V40],
  ['dtls_fingerprint', V40],
  ['srtp_tag_32', V40],
  ['follow_early_media_fork', V40],
  ['accept_multiple_sdp_answers', V40],
  ['suppress_q850_reason_headers', V40],
  ['ignore_183_without_sdp', V40],
  ['allow_unauthenticated_options', V40],
  ['suppress_moh_on_sendonly', V40],
  ['tenantid', V80],
];

const authCols: Col[] = [
  ['auth_type', V40],
  ['nonce_lifetime', INT],
  ['md5_cred', V40],
  ['password', V80],
  ['realm', V255],
  ['username', V255],
  ['refresh_token', V255],
  ['oauth_clientid', V255],
  ['oauth_secret', V255],
  // Asterisk >= 22.1 (RFC 8760 digest algorithms); NULL is fine on older versions.
  ['password_digest', V255],
  ['supported_algorithms_uac', V255],
  ['supported_algorithms_uas', V255],
];

const aorCols: Col[] = [
  ['contact', V255],
  ['default_expiration', INT],
  ['mailboxes', V80],
  ['voicemail_extension', V40],
  ['max_contacts', INT],
  ['minimum_expiration', INT],
  ['maximum_expiration', INT],
  ['remove_existing', V40],
  ['remove_unavailable', V40],
  ['qualify_frequency', INT],
  ['qualify_timeout', 'real'],
  ['qualify_2xx_only', V40],
  ['authenticate_qualify', V40],
  ['outbound_proxy', V255],
  ['support_path', V40],
];

// Written by Asterisk on REGISTER: the full column set Asterisk stores.
const contactCols: Col[] = [
  ['uri', V255],
  ['expiration_time', 'bigint'],
  ['qualify_frequency', INT],
  ['outbound_proxy', V255],
  ['path', 'text'],
  ['user_agent', V255],
  ['qualify_timeout', 'real'],
  ['reg_server', V255],
  ['authenticate_qualify', V40],
  ['via_addr', V40],
  ['via_port', INT],
  ['call_id', V255],
  ['endpoint', V255],
  ['prune_on_boot', V40],
  ['qualify_2xx_only', V40],
];

const identifyCols: Col[] = [
  ['endpoint', V255],
  ['match', V80],
  ['srv_lookups', V40],
  ['match_header', V255],
  ['match_request_uri', V255],
];

async function createTable(db: Kysely<any>, name: string, cols: Col[]): Promise<void> {
  let t = db.schema.createTable(name).addColumn('id', 'varchar(255)', (c) => c.primaryKey());
  for (const [col, type] of cols) t = t.addColumn(col, type);
  await t.execute();
}

export async function up(db: Kysely<any>): Promise<void> {
  await createTable(db, 'ps_endpoints', endpointCols);
  await createTable(db, 'ps_auths', authCols);
  await createTable(db, 'ps_aors', aorCols);
  await createTable(db, 'ps_contacts', contactCols);
  await createTable(db, 'ps_endpoint_id_ips', identifyCols);

  // Same secondary indexes as Asterisk's schema: contacts are looked up by expiry (pruning) and
  // qualify; identify rows by endpoint.
  await db.schema.createIndex('ps_contacts_id_reg_server_uq').on('ps_contacts').columns(['id', 'reg_server']).unique().execute();
  await db.schema.createIndex('ps_contacts_qualifyfreq_exp').on('ps_contacts').columns(['qualify_frequency', 'expiration_time']).execute();
  await db.schema.createIndex('ps_contacts_endpoint_idx').on('ps_contacts').column('endpoint').execute();
  await db.schema.createIndex('ps_endpoint_id_ips_endpoint_idx').on('ps_endpoint_id_ips').column('endpoint').execute();
  await sql`COMMENT ON TABLE ps_endpoints IS 'Asterisk PJSIP realtime (res_sorcery_realtime); columns are PJSIP option names'`.execute(db);
}

export async function down(db: Kysely<any>): Promise<void> {
  for (const t of ['ps_endpoint_id_ips', 'ps_contacts', 'ps_aors', 'ps_auths', 'ps_endpoints']) {
    await db.schema.dropTable(t).ifExists().execute();
  }
}
