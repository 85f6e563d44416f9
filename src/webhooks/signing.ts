/**
 * Webhook signatures (docs/webhooks.md#signatures), pure. A delivery carries
 * `Pbx-Signature: t=<unix seconds>,v1=<hex HMAC-SHA256 of "<t>.<raw body>" under the secret>`.
 * The timestamp is the attempt's, so a receiver rejects a replay by refusing a `t` older than
 * its tolerance (5 minutes by default) and a forgery by comparing the HMAC in constant time.
 */
import { createHmac, randomBytes, timingSafeEqual } from 'node:crypto';

export const SIGNATURE_HEADER = 'pbx-signature';
export const DEFAULT_TOLERANCE_SECONDS = 300;

/** A new secret: `whsec_` and 32 random bytes (base64url). */
export const newSecret = (): string => `whsec_${randomBytes(32).toString('base64url')}`;

export const hmacHex = (secret: string, t: number, body: string): string => createHmac('sha256', secret).update(`${t}.${body}`).digest('hex');

/** The header value for a body sent at unix second `t`. */
export const signatureHeader = (secret: string, body: string, t: number): string => `t=${t},v1=${hmacHex(secret, t, body)}`;

export type Verdict = { ok: true } | { ok: false; reason: 'malformed' | 'too-old' | 'bad-signature' };

/** What a receiver does (the snippet in docs/webhooks.md is this, in plain Node). */
export function verifySignature(secret: string, header: string, body: string, nowSeconds: number, toleranceSeconds = DEFAULT_TOLERANCE_SECONDS): Verdict {
  const parts = new Map<string, string[]>();
  for (const item of header.split(',')) {
    const eq = item.indexOf('=');
    if (eq <= 0) continue;
    const key = item.slice(0, eq).trim();
    parts.set(key, [...(parts.get(key) ?? []), item.slice(eq + 1).trim()]);
  }
  const t = Number(parts.get('t')?.[0]);
  const sigs = parts.get('v1') ?? [];
  if (!Number.isInteger(t) || sigs.length === 0) return { ok: false, reason: 'malformed' };
  if (Math.abs(nowSeconds - t) > toleranceSeconds) return { ok: false, reason: 'too-old' };
  const expected = Buffer.from(hmacHex(secret, t, body), 'hex');
  const match = sigs.some((s) => {
    const got = Buffer.from(s, 'hex');
    return got.length === expected.length && timingSafeEqual(got, expected);
  });
  return match ? { ok: true } : { ok: false, reason: 'bad-signature' };
}

/**
 * Attempts for exponential backoff (first retry after `firstDelayMs`, doubling) whose last attempt
 * is still within `retryForMs` of the first: the largest n with firstDelay * (2^(n-1) - 1) <= retryFor.
 */
export function attemptsFor(retryForMs: number, firstDelayMs: number): number {
  let n = 1;
  while (firstDelayMs * (2 ** n - 1) <= retryForMs && n < 60) n++;
  return n;
}
