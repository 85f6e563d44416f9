import { Writable } from 'node:stream';
import { pino } from 'pino';
import { describe, expect, it } from 'vitest';
import { decideAccess, hashPassword, issueProvisioningPassword, parseBasicAuth } from '../../src/provisioning/access.js';
import { logAuthFailure } from '../../src/shared/auth-failure-log.js';

const basic = (user: string, pass: string) => `Basic ${Buffer.from(`${user}:${pass}`).toString('base64')}`;

const A = { mac: '001565aaaaaa', password: 'pw-of-a' };
const deviceA = { mac: A.mac, passwordHash: hashPassword(A.password), allowedNetworks: [] as string[] };

describe('parseBasicAuth', () => {
  it('decodes user and password (the password may contain colons)', () => {
    expect(parseBasicAuth(basic('prov-001565aaaaaa', 'a:b:c'))).toEqual({ username: 'prov-001565aaaaaa', password: 'a:b:c' });
    expect(parseBasicAuth(`basic   ${Buffer.from('u:p').toString('base64')}`)).toEqual({ username: 'u', password: 'p' });
  });

  it('no header or another scheme is "no credentials"; a broken Basic header is malformed', () => {
    expect(parseBasicAuth(undefined)).toBeNull();
    expect(parseBasicAuth('Bearer abc')).toBeNull();
    expect(parseBasicAuth('Basic !!!')).toBe('malformed');
    expect(parseBasicAuth(`Basic ${Buffer.from('no-colon').toString('base64')}`)).toBe('malformed');
  });
});

describe('decideAccess', () => {
  it('lets the device in with its own credentials', () => {
    expect(decideAccess(deviceA, '203.0.113.9', { username: `prov-${A.mac}`, password: A.password })).toEqual({ allowed: true, via: 'credentials' });
  });

  it('refuses a wrong password, another device user name and unknown user names as failures', () => {
    expect(decideAccess(deviceA, '203.0.113.9', { username: `prov-${A.mac}`, password: 'nope' })).toEqual({ allowed: false, reason: 'bad-credentials', failure: true });
    // B's (valid) credentials never open A
    expect(decideAccess(deviceA, '203.0.113.9', { username: 'prov-001565bbbbbb', password: 'pw-of-b' })).toEqual({ allowed: false, reason: 'wrong-device', failure: true });
    expect(decideAccess(deviceA, '203.0.113.9', { username: 'admin', password: A.password })).toEqual({ allowed: false, reason: 'bad-credentials', failure: true });
    expect(decideAccess(deviceA, '203.0.113.9', 'malformed')).toEqual({ allowed: false, reason: 'malformed-credentials', failure: true });
  });

  it('a first request without credentials is a challenge, not a failure', () => {
    expect(decideAccess(deviceA, '203.0.113.9', null)).toEqual({ allowed: false, reason: 'no-credentials', failure: false });
  });

  it('an allowlisted address needs no credentials; outside it an allowlist-only device refuses', () => {
    const onlyNet = { mac: A.mac, passwordHash: null, allowedNetworks: ['10.1.2.0/24'] };
    expect(decideAccess(onlyNet, '10.1.2.50', null)).toEqual({ allowed: true, via: 'allowlist' });
    expect(decideAccess(onlyNet, '::ffff:10.1.2.50', null)).toEqual({ allowed: true, via: 'allowlist' });
    expect(decideAccess(onlyNet, '10.1.3.50', null)).toEqual({ allowed: false, reason: 'ip-not-allowed', failure: true });
    // credentials are switched off for this device: even the right user name gets nothing
    expect(decideAccess(onlyNet, '10.1.3.50', { username: `prov-${A.mac}`, password: '' })).toEqual({ allowed: false, reason: 'bad-credentials', failure: true });
    const both = { ...deviceA, allowedNetworks: ['10.1.2.0/24'] };
    expect(decideAccess(both, '10.1.2.50', { username: 'x', password: 'y' })).toEqual({ allowed: true, via: 'allowlist' });
  });

  it('issues long random passwords and stores only their hash', () => {
    const a = issueProvisioningPassword();
    const b = issueProvisioningPassword();
    expect(a.password).toMatch(/^[A-Za-z0-9_-]{24}$/);
    expect(a.password).not.toBe(b.password);
    expect(a.hash).toBe(hashPassword(a.password));
    expect(a.hash).toMatch(/^[0-9a-f]{64}$/);
  });
});

describe('logAuthFailure', () => {
  it('writes exactly one stable JSON line with the client IP', () => {
    const lines: string[] = [];
    const log = pino({ base: { pid: 1 } }, new Writable({ write: (c, _e, cb) => (lines.push(...String(c).split('\n').filter(Boolean)), cb()) }));
    logAuthFailure(log.child({ reqId: 'r1' }), '::ffff:198.51.100.7', 'api', 'token-invalid', { ip: 'spoofed', event: 'x' });
    expect(lines).toHaveLength(1);
    const entry = JSON.parse(lines[0]!);
    expect(entry).toMatchObject({ level: 40, msg: 'authentication failed', event: 'auth-failure', kind: 'api', ip: '198.51.100.7', reason: 'token-invalid', reqId: 'r1' });
    expect(lines[0]).toContain('"event":"auth-failure"');
    expect(lines[0]).toContain('"ip":"198.51.100.7"');
  });
});
