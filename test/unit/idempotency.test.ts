import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { bodyHash, canonicalJson, mismatch, replayableHeaders, seal, unseal, validKey } from '../../src/idempotency/core.js';

describe('Idempotency-Key validation', () => {
  it('takes 1-255 printable ASCII characters', () => {
    expect(validKey('a')).toBe(true);
    expect(validKey('7f0c1e2a-5b1d-4c1e-9f7a-0e6d5c4b3a21')).toBe(true);
    expect(validKey('order 42 / retry ~!@#$%^&*()')).toBe(true);
    expect(validKey('x'.repeat(255))).toBe(true);
  });

  it('refuses an empty key, a longer one, control characters and non-ASCII', () => {
    expect(validKey('')).toBe(false);
    expect(validKey('x'.repeat(256))).toBe(false);
    expect(validKey('a\tb')).toBe(false);
    expect(validKey('a\x7fb')).toBe(false);
    expect(validKey('clé')).toBe(false);
  });
});

describe('canonical JSON and the body hash', () => {
  it('sorts object keys at every level and keeps array order', () => {
    expect(canonicalJson({ b: 1, a: { d: [3, { z: 1, y: 2 }], c: null } })).toBe('{"a":{"c":null,"d":[3,{"y":2,"z":1}]},"b":1}');
    expect(canonicalJson([2, 1])).not.toBe(canonicalJson([1, 2]));
  });

  it('is JSON that parses back to the same value', () => {
    fc.assert(
      fc.property(fc.jsonValue(), (v) => {
        expect(JSON.parse(canonicalJson(v))).toEqual(JSON.parse(JSON.stringify(v)));
      }),
    );
  });

  it('hashes the same body sent with another key order alike, and another value differently', () => {
    expect(bodyHash({ number: '3101', displayName: 'Anna' })).toBe(bodyHash({ displayName: 'Anna', number: '3101' }));
    expect(bodyHash({ number: '3101' })).not.toBe(bodyHash({ number: '3102' }));
    expect(bodyHash({ n: 1 })).not.toBe(bodyHash({ n: '1' }));
  });

  it('hashes raw bytes (a prompt upload) as they are, and no body as null', () => {
    expect(bodyHash(Buffer.from('RIFF'))).not.toBe(bodyHash(Buffer.from('RIFX')));
    expect(bodyHash(undefined)).toBe(bodyHash(null));
    expect(bodyHash(undefined)).not.toBe(bodyHash({}));
  });
});

describe('what a key is bound to', () => {
  const first = { method: 'POST', path: '/api/v1/extensions', bodyHash: 'h1' };
  it('names what differs from the first request', () => {
    expect(mismatch(first, { ...first })).toBeNull();
    expect(mismatch(first, { ...first, bodyHash: 'h2' })).toBe('body');
    expect(mismatch(first, { ...first, path: '/api/v1/trunks' })).toBe('method and path');
    expect(mismatch(first, { ...first, method: 'PUT', bodyHash: 'h2' })).toBe('method and path');
  });
});

describe('replayed headers', () => {
  it('keeps the answer\'s own headers and drops those of the exchange', () => {
    expect(
      replayableHeaders({ 'Content-Type': 'application/json; charset=utf-8', location: '/api/v1/extensions/3101', 'content-length': 42, date: 'x', connection: 'close', 'x-count': 3, 'set-cookie': ['a=b'], absent: undefined }),
    ).toEqual({ 'content-type': 'application/json; charset=utf-8', location: '/api/v1/extensions/3101', 'x-count': '3' });
  });
});

describe('sealed answers', () => {
  const body = Buffer.from('{"token":"pbx_secret"}');
  it('open with the same bearer token and key only', () => {
    const sealed = seal(body, 'pbx_tokenA', 'k1');
    expect(sealed.includes(Buffer.from('pbx_secret'))).toBe(false);
    expect(unseal(sealed, 'pbx_tokenA', 'k1').equals(body)).toBe(true);
    expect(() => unseal(sealed, 'pbx_tokenB', 'k1')).toThrow();
    expect(() => unseal(sealed, 'pbx_tokenA', 'k2')).toThrow();
  });

  it('refuse altered bytes', () => {
    const sealed = seal(body, 'pbx_tokenA', 'k1');
    sealed[sealed.length - 1]! ^= 1;
    expect(() => unseal(sealed, 'pbx_tokenA', 'k1')).toThrow();
  });
});
