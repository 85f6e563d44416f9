/**
 * An extension's SIP security (issue #21) as the columns of its PJSIP endpoint. Pure.
 * - transport: transport-tls makes Asterisk send everything to the phone over TLS, and the
 *   dialplan refuses the endpoint's calls that arrive over UDP/TCP (asterisk/extensions.conf,
 *   [pbx-inbound]). PJSIP cannot refuse a REGISTER by its transport (docs/operations.md).
 * - media_encryption sdes with media_encryption_optimistic no: SRTP keys in the SDP (safe only
 *   over TLS, hence no SRTP without TLS); an offer without them is refused with 488.
 */
import type { SipSecurity } from './tables.js';

/** The TLS transport's name in asterisk/pjsip_tls.conf. */
export const TLS_TRANSPORT = 'transport-tls';

export interface SipSecurityColumns {
  readonly transport: string | null;
  readonly media_encryption: string | null;
  readonly media_encryption_optimistic: string | null;
}

/** `none` leaves the columns NULL (Asterisk's defaults: the first fitting transport, no encryption). */
export function sipSecurityColumns(security: SipSecurity): SipSecurityColumns {
  switch (security) {
    case 'none':
      return { transport: null, media_encryption: null, media_encryption_optimistic: null };
    case 'tls':
      return { transport: TLS_TRANSPORT, media_encryption: 'no', media_encryption_optimistic: null };
    case 'tls-srtp':
      return { transport: TLS_TRANSPORT, media_encryption: 'sdes', media_encryption_optimistic: 'no' };
  }
}
