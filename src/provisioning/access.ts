/**
 * Who may fetch a device's provisioning file: a pure decision. A client inside the device's IP
 * allowlist, or one presenting that device's own HTTP Basic credentials. Credentials of another
 * device never open this one.
 */
import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';
import { ipAllowed } from './networks.js';
import { provisioningUsername } from './mac.js';

export interface BasicCredentials {
  readonly username: string;
  readonly password: string;
}

/** `Authorization: Basic ...` -> credentials; null = no Basic header; 'malformed' = a broken one. */
export function parseBasicAuth(header: string | undefined): BasicCredentials | null | 'malformed' {
  if (!header) return null;
  const m = /^Basic\s+([A-Za-z0-9+/=]{1,512})\s*$/i.exec(header);
  if (!m) return /^Basic\b/i.test(header) ? 'malformed' : null;
  const decoded = Buffer.from(m[1]!, 'base64').toString('utf8');
  const colon = decoded.indexOf(':');
  if (colon < 0) return 'malformed';
  return { username: decoded.slice(0, colon), password: decoded.slice(colon + 1) };
}

export interface DeviceAccess {
  readonly mac: string;
  /** SHA-256 hex of the provisioning password; null = credentials disabled */
  readonly passwordHash: string | null;
  readonly allowedNetworks: readonly string[];
}

export type DenyReason = 'no-credentials' | 'malformed-credentials' | 'bad-credentials' | 'wrong-device' | 'ip-not-allowed';

export type AccessDecision =
  | { readonly allowed: true; readonly via: 'allowlist' | 'credentials' }
  /**
   * `failure`: a failed authentication (logged for fail2ban). A first request without credentials
   * to a device that has them is not one: phones send credentials only after the 401 challenge.
   */
  | { readonly allowed: false; readonly reason: DenyReason; readonly failure: boolean };

export function decideAccess(device: DeviceAccess, clientIp: string, credentials: BasicCredentials | null | 'malformed'): AccessDecision {
  if (ipAllowed(clientIp, device.allowedNetworks)) return { allowed: true, via: 'allowlist' };
  if (credentials === null) {
    return device.passwordHash === null
      ? { allowed: false, reason: 'ip-not-allowed', failure: true }
      : { allowed: false, reason: 'no-credentials', failure: false };
  }
  if (credentials === 'malformed') return { allowed: false, reason: 'malformed-credentials', failure: true };
  if (credentials.username !== provisioningUsername(device.mac)) {
    const otherDevice = /^prov-[0-9a-f]{12}$/.test(credentials.username);
    return { allowed: false, reason: otherDevice ? 'wrong-device' : 'bad-credentials', failure: true };
  }
  if (device.passwordHash === null || !sameHash(hashPassword(credentials.password), device.passwordHash)) {
    return { allowed: false, reason: 'bad-credentials', failure: true };
  }
  return { allowed: true, via: 'credentials' };
}

/**
 * A new provisioning password: 18 random bytes, base64url (24 characters of A-Z a-z 0-9 - _,
 * which every phone's web/provisioning UI accepts). Only its SHA-256 is stored.
 */
export function issueProvisioningPassword(): { password: string; hash: string } {
  const password = randomBytes(18).toString('base64url');
  return { password, hash: hashPassword(password) };
}

export function hashPassword(password: string): string {
  return createHash('sha256').update(password, 'utf8').digest('hex');
}

function sameHash(a: string, b: string): boolean {
  const x = Buffer.from(a, 'hex');
  const y = Buffer.from(b.trim(), 'hex');
  return x.length === y.length && x.length > 0 && timingSafeEqual(x, y);
}
