import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';
import type { Role } from './tables.js';

/** Bearer tokens: 32 random bytes, shown once; only their SHA-256 is stored. */
export interface IssuedToken {
  readonly secret: string;
  readonly hash: string;
  readonly prefix: string;
}

export function issueToken(): IssuedToken {
  const secret = `pbx_${randomBytes(32).toString('base64url')}`;
  return { secret, hash: hashToken(secret), prefix: secret.slice(0, 10) };
}

export function hashToken(secret: string): string {
  return createHash('sha256').update(secret, 'utf8').digest('hex');
}

export function sameHash(a: string, b: string): boolean {
  const x = Buffer.from(a, 'hex');
  const y = Buffer.from(b, 'hex');
  return x.length === y.length && timingSafeEqual(x, y);
}

const RANK: Record<Role, number> = { viewer: 1, supervisor: 2, admin: 3 };

export function roleAllows(have: Role, need: Role): boolean {
  return RANK[have] >= RANK[need];
}

/** `Authorization: Bearer <token>`; anything else is treated as no token. */
export function bearerFrom(header: string | undefined): string | null {
  if (!header) return null;
  const m = /^Bearer\s+(\S{1,200})$/i.exec(header.trim());
  return m ? m[1]! : null;
}
