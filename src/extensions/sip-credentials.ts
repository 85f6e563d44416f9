/**
 * An extension's SIP credentials as stored (issue #21, "SIP passwords as digest hashes"):
 *  - Asterisk's ps_auths row holds no password: `auth_type=digest` with
 *    `password_digest=md5:<MD5(username:realm:password)>` and the fixed realm SIP_REALM (Asterisk
 *    22.2+ form; `auth_type=md5` + `md5_cred` are deprecated in 22 and converted to this).
 *  - The password itself, which provisioning writes into the phone's file, is sealed
 *    (src/shared/secret-box.ts, PBX_SECRET_KEY) in sip_secrets, which Asterisk never reads.
 * The digest is still password-equivalent for this realm (a client that has it can answer
 * challenges for SIP_REALM); it keeps the password itself from whoever reads ps_auths, so it
 * cannot be reused elsewhere or against another realm.
 */
import { createHash } from 'node:crypto';
import type { SecretBox } from '../shared/secret-box.js';

/**
 * The digest realm of every extension: the `realm` of its ps_auths row, and asterisk/pjsip.conf's
 * `default_realm` (what Asterisk challenges with when a row has none). Changing it invalidates every
 * stored digest: each extension would need rotate-password.
 */
export const SIP_REALM = 'pbx';

/** `password_digest` value: `md5:` + MD5(username:realm:password) in hex (the HA1 of RFC 2617). */
export function sipPasswordDigest(username: string, password: string, realm = SIP_REALM): string {
  return `md5:${createHash('md5').update(`${username}:${realm}:${password}`, 'utf8').digest('hex')}`;
}

/** The additional authenticated data a sealed SIP password is bound to. */
export const sipSecretContext = (number: string): string => `sip-password:${number}`;

/** What writeSipAccount stores for a new password: the ps_auths digest and the sealed password. */
export interface SipCredentials {
  readonly digest: string;
  readonly sealed: string;
}

export function sipCredentials(box: SecretBox, number: string, password: string): SipCredentials {
  return { digest: sipPasswordDigest(number, password), sealed: box.seal(password, sipSecretContext(number)) };
}
