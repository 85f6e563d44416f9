import { describe, expect, it } from 'vitest';
import { TokenCache } from '../../src/auth/token-cache.js';

const row = (tokenId: string, lastUsed = 0) => ({ tokenId, lastUsed });

describe('TokenCache', () => {
  it('keeps a valid token until its TTL, then asks again', () => {
    const cache = new TokenCache<ReturnType<typeof row>>(5_000);
    cache.keep('h1', row('1'), cache.generation, 1_000);
    expect(cache.get('h1', 5_999)).toEqual(row('1'));
    expect(cache.get('h1', 6_000)).toBeUndefined();
    expect(cache.get('h2', 1_000)).toBeUndefined();
  });

  it('forgets a revoked token at once, under every hash that names it', () => {
    const cache = new TokenCache<ReturnType<typeof row>>(5_000);
    cache.keep('h1', row('1'), cache.generation, 0);
    cache.keep('h2', row('2'), cache.generation, 0);
    cache.forget('1');
    expect(cache.get('h1', 1)).toBeUndefined();
    expect(cache.get('h2', 1)).toEqual(row('2'));
  });

  it('does not keep a row read before a revocation that ended meanwhile', () => {
    const cache = new TokenCache<ReturnType<typeof row>>(5_000);
    const readAt = cache.generation;
    cache.forget('1');
    cache.keep('h1', row('1'), readAt, 0);
    expect(cache.get('h1', 1)).toBeUndefined();
    cache.keep('h1', row('1'), cache.generation, 0);
    expect(cache.get('h1', 1)).toEqual(row('1'));
  });

  it('updates a row without extending its life', () => {
    const cache = new TokenCache<ReturnType<typeof row>>(5_000);
    cache.keep('h1', row('1'), cache.generation, 0);
    cache.update('h1', row('1', 42));
    expect(cache.get('h1', 4_999)).toEqual(row('1', 42));
    expect(cache.get('h1', 5_000)).toBeUndefined();
    cache.update('h9', row('9'));
    expect(cache.get('h9', 0)).toBeUndefined();
  });

  it('drops everything past its size bound instead of growing', () => {
    const cache = new TokenCache<ReturnType<typeof row>>(5_000, 3);
    for (const h of ['a', 'b', 'c']) cache.keep(h, row(h), cache.generation, 0);
    cache.keep('c', row('c', 1), cache.generation, 0);
    expect(cache.get('a', 1)).toEqual(row('a'));
    cache.keep('d', row('d'), cache.generation, 0);
    expect([cache.get('a', 1), cache.get('b', 1), cache.get('d', 1)]).toEqual([undefined, undefined, row('d')]);
  });
});
