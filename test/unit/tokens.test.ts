import { describe, expect, it } from 'vitest';
import { bearerFrom, hashToken, issueToken, roleAllows, sameHash } from '../../src/auth/tokens.js';

describe('tokens', () => {
  it('issues distinct secrets whose hash is stored, not the secret', () => {
    const a = issueToken();
    const b = issueToken();
    expect(a.secret).not.toBe(b.secret);
    expect(a.secret).toMatch(/^pbx_[A-Za-z0-9_-]{43}$/);
    expect(a.hash).toBe(hashToken(a.secret));
    expect(a.hash).toMatch(/^[0-9a-f]{64}$/);
    expect(a.hash).not.toContain(a.secret.slice(4));
    expect(sameHash(a.hash, hashToken(a.secret))).toBe(true);
    expect(sameHash(a.hash, b.hash)).toBe(false);
  });

  it('parses only well-formed bearer headers', () => {
    expect(bearerFrom('Bearer abc')).toBe('abc');
    expect(bearerFrom('bearer abc')).toBe('abc');
    expect(bearerFrom('Basic abc')).toBeNull();
    expect(bearerFrom('Bearer')).toBeNull();
    expect(bearerFrom(undefined)).toBeNull();
    expect(bearerFrom(`Bearer ${'a'.repeat(500)}`)).toBeNull();
  });

  it('ranks roles admin > supervisor > viewer', () => {
    expect(roleAllows('admin', 'viewer')).toBe(true);
    expect(roleAllows('supervisor', 'admin')).toBe(false);
    expect(roleAllows('viewer', 'viewer')).toBe(true);
    expect(roleAllows('viewer', 'supervisor')).toBe(false);
  });
});
