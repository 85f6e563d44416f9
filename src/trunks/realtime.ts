/**
 * A trunk as PJSIP realtime rows, all with id `trunk-<name>`:
 *   ps_endpoints        context pbx-inbound, codecs, from_user/from_domain, RFC 4733 DTMF, media
 *                       through Asterisk, NAT-friendly (rtp_symmetric, force_rport, rewrite_contact),
 *                       device_state_busy_at = max_channels, outbound_auth when there are credentials
 *   ps_aors             the provider as a static contact sip:host:port, qualified every 60 s
 *   ps_auths            the outbound credentials (registration kind; IP kind if a password is set)
 *   ps_endpoint_id_ips  match = host, so INVITEs from the provider reach this endpoint (both kinds)
 *   ps_registrations    registration kind only: outbound REGISTER to the provider
 * A disabled trunk has no rows at all: Asterisk neither sends to nor accepts from it.
 * Asterisk reads endpoints/aors/auths/identifies on demand; registrations need a nudge (registrar.ts).
 * The rows are built as Asterisk should read them and realtime-encoded when written (a password
 * with `;` or `^`, the `;transport=tcp` of a URI: src/shared/realtime.ts).
 */
import type { DbOrTx } from '../db/database.js';
import { realtimeRow } from '../shared/realtime.js';
import type { PsAor, PsAuth, PsEndpoint, PsIdentifyTable, PsRegistrationTable, TrunkRow } from './tables.js';

export type TrunkSpec = Pick<
  TrunkRow,
  'name' | 'kind' | 'host' | 'port' | 'transport' | 'username' | 'password' | 'from_user' | 'from_domain' | 'codecs' | 'max_channels' | 'enabled'
>;

export interface TrunkRealtimeRows {
  endpoint: PsEndpoint;
  aor: PsAor;
  auth: PsAuth | null;
  identify: PsIdentifyTable;
  registration: PsRegistrationTable | null;
}

export const QUALIFY_FREQUENCY_S = 60;
export const REGISTRATION_EXPIRATION_S = 600;

/** The PJSIP object id (endpoint, aor, auth, identify, registration) of a trunk. */
export const trunkEndpointId = (name: string): string => `trunk-${name}`;

/** True when Asterisk should be registering this trunk. */
export const registers = (t: Pick<TrunkSpec, 'kind' | 'enabled'>): boolean => t.kind === 'registration' && t.enabled;

export function trunkRealtimeRows(t: TrunkSpec): TrunkRealtimeRows {
  const id = trunkEndpointId(t.name);
  const transportParam = t.transport === 'tcp' ? ';transport=tcp' : '';
  const hostPort = `${t.host}:${t.port}`;
  const hasAuth = t.username !== null && t.password !== null;
  const endpoint: PsEndpoint = {
    id,
    transport: `transport-${t.transport}`,
    aors: id,
    outbound_auth: hasAuth ? id : null,
    context: 'pbx-inbound',
    disallow: 'all',
    allow: t.codecs.join(','),
    from_user: t.from_user,
    from_domain: t.from_domain,
    dtmf_mode: 'rfc4733',
    direct_media: 'no',
    rtp_symmetric: 'yes',
    force_rport: 'yes',
    rewrite_contact: 'yes',
    device_state_busy_at: t.max_channels,
    // A carrier has no business watching extensions' and agents' lamps (who is on the phone).
    allow_subscribe: 'no',
  };
  const aor: PsAor = { id, contact: `sip:${hostPort}${transportParam}`, qualify_frequency: QUALIFY_FREQUENCY_S, qualify_timeout: 3 };
  const auth: PsAuth | null = hasAuth ? { id, auth_type: 'userpass', username: t.username, password: t.password } : null;
  const identify: PsIdentifyTable = { id, endpoint: id, match: t.host, srv_lookups: 'no' };
  const registration: PsRegistrationTable | null =
    t.kind === 'registration' && hasAuth
      ? {
          id,
          server_uri: `sip:${hostPort}${transportParam}`,
          client_uri: `sip:${t.username}@${t.from_domain ?? hostPort}`,
          contact_user: t.username,
          outbound_auth: id,
          transport: `transport-${t.transport}`,
          expiration: REGISTRATION_EXPIRATION_S,
          retry_interval: 30,
          forbidden_retry_interval: 300,
          fatal_retry_interval: 300,
          // A wrong password is retried (after a later fix of the row, at the next attempt)
          // instead of stopping until a reload; max_retries high so an outage never ends it.
          auth_rejection_permanent: 'no',
          max_retries: 1_000_000,
          // line + endpoint: an INVITE to the registered Contact (it carries ;line=) is matched to
          // this trunk by the module's "line" identifier, even from an address identify misses.
          line: 'yes',
          endpoint: id,
          max_random_initial_delay: 1,
        }
      : null;
  return { endpoint, aor, auth, identify, registration };
}

const TABLES = ['ps_registrations', 'ps_endpoint_id_ips', 'ps_endpoints', 'ps_aors', 'ps_auths'] as const;

/** Remove every realtime row of the trunk called `name`. */
export async function removeTrunkRealtime(db: DbOrTx, name: string): Promise<void> {
  const id = trunkEndpointId(name);
  for (const table of TABLES) await db.deleteFrom(table).where('id', '=', id).execute();
}

/** Replace the trunk's realtime rows with ones built from `t` (none when disabled). */
export async function writeTrunkRealtime(db: DbOrTx, t: TrunkSpec): Promise<void> {
  await removeTrunkRealtime(db, t.name);
  if (!t.enabled) return;
  const rows = trunkRealtimeRows(t);
  if (rows.auth) await db.insertInto('ps_auths').values(realtimeRow(rows.auth)).execute();
  await db.insertInto('ps_aors').values(realtimeRow(rows.aor)).execute();
  await db.insertInto('ps_endpoints').values(realtimeRow(rows.endpoint)).execute();
  await db.insertInto('ps_endpoint_id_ips').values(realtimeRow(rows.identify)).execute();
  if (rows.registration) await db.insertInto('ps_registrations').values(realtimeRow(rows.registration)).execute();
}
