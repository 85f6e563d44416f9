/**
 * Failed authentications as one stable JSON log line each, for fail2ban (deploy/fail2ban/):
 *   {"level":40,...,"event":"auth-failure","kind":"api","ip":"203.0.113.7","reason":"token-invalid","msg":"authentication failed"}
 * Keep the field names and message stable: the filter matches `"event":"auth-failure"` and `"ip":"..."`.
 * Nothing the client sent goes into the line except what was validated (the IP is the socket's).
 */
import { normalizeClientIp } from './client-ip.js';

export type AuthFailureKind = 'api' | 'provisioning' | 'voicemail';

/** pino's Logger and Fastify's request.log both fit. */
export interface WarnLogger {
  warn(obj: object, msg: string): void;
}

export const AUTH_FAILURE_EVENT = 'auth-failure';
export const AUTH_FAILURE_MESSAGE = 'authentication failed';

export function logAuthFailure(
  log: WarnLogger,
  ip: string,
  kind: AuthFailureKind,
  reason: string,
  extra: Record<string, string | number | boolean | null> = {},
): void {
  // extra first so it can never replace the fields fail2ban reads
  log.warn({ ...extra, event: AUTH_FAILURE_EVENT, kind, ip: normalizeClientIp(ip), reason }, AUTH_FAILURE_MESSAGE);
}
