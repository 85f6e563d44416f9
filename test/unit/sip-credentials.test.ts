/**
 * SIP passwords as stored (issue #21): the digest Asterisk checks (src/extensions/sip-credentials.ts)
 * and the sealed copy provisioning opens (src/shared/secret-box.ts).
 */
import { randomBytes } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { SIP_REALM, sipCredentials, sipPasswordDigest, sipSecretContext } from '../../src/extensions/sip-credentials.js';
import { parseSecretKey, SecretBox } from '../../src/shared/secret-box.js';

describe('sipPasswordDigest', () => {
  it("is Asterisk's password_digest form: md5: + MD5(username:realm:password)", () => {
    // the example of Asterisk 22's own documentation (config show help res_pjsip auth password_digest)
    expect(sipPasswordDigest('myname', 'mypassword', 'myrealm')).toBe('md5:dce9ccd0a69e3ef90d8b9bf725053e78');
    expect(SIP_REALM).toBe('pbx');
    expect(sipPasswordDigest('1001', 'pw')).toBe(sipPasswordDigest('1001', 'pw', 'pbx'));
    // the realm and the user name are part of it: the same password gives another digest elsewhere
    expect(sipPasswordDigest('1001', 'pw')).not.toBe(sipPasswordDigest('1002', 'pw'));
    expect(sipPasswordDigest('1001', 'pw')).not.toBe(sipPasswordDigest('1001', 'pw', 'other'));
  });
});

describe('SecretBox', () => {
  const box = new SecretBox(randomBytes(32));

  it('opens what it sealed, for the same context only', () => {
    const sealed = box.seal('a;b^c é', sipSecretContext('1001'));
    expect(sealed).toMatch(/^v1:[A-Za-z0-9+/=]{16}:[A-Za-z0-9+/=]{24}:[A-Za-z0-9+/=]+$/);
    expect(sealed).not.toContain('a;b^c');
    expect(box.open(sealed, 'sip-password:1001')).toBe('a;b^c é');
    expect(() => box.open(sealed, sipSecretContext('1002'))).toThrow(/does not open/);
    // a fresh IV each time
    expect(box.seal('same', 'c')).not.toBe(box.seal('same', 'c'));
  });

  it('refuses another key, altered text and unknown formats', () => {
    const sealed = box.seal('secret', 'c');
    expect(() => new SecretBox(randomBytes(32)).open(sealed, 'c')).toThrow(/does not open/);
    const [v, iv, tag, data] = sealed.split(':');
    const flipped = Buffer.from(data!, 'base64');
    flipped[0] = flipped[0]! ^ 1;
    expect(() => box.open([v, iv, tag, flipped.toString('base64')].join(':'), 'c')).toThrow(/does not open/);
    expect(() => box.open(`v2:${iv}:${tag}:${data}`, 'c')).toThrow(/unknown format/);
    expect(() => box.open('secret', 'c')).toThrow(/unknown format/);
    expect(() => new SecretBox(randomBytes(16))).toThrow(/32 bytes/);
  });

  it('sipCredentials: the digest for Asterisk and the password sealed to its extension', () => {
    const c = sipCredentials(box, '1001', 'Pw1001');
    expect(c.digest).toBe(sipPasswordDigest('1001', 'Pw1001'));
    expect(box.open(c.sealed, sipSecretContext('1001'))).toBe('Pw1001');
  });
});

describe('parseSecretKey (PBX_SECRET_KEY)', () => {
  it('takes base64 of exactly 32 bytes, as deploy/gen-env.sh writes it', () => {
    const key = randomBytes(32);
    expect(parseSecretKey(key.toString('base64'))).toEqual(key);
    expect(parseSecretKey(` ${key.toString('base64')}\n`)).toEqual(key);
    expect(parseSecretKey(randomBytes(31).toString('base64'))).toBeNull();
    expect(parseSecretKey(randomBytes(33).toString('base64'))).toBeNull();
    expect(parseSecretKey(key.toString('hex'))).toBeNull();
    expect(parseSecretKey('')).toBeNull();
  });
});
