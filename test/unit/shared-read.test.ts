import { describe, expect, it } from 'vitest';
import { SharedRead, SharedReads } from '../../src/shared/shared-read.js';

/** A read whose answers the test hands out one at a time, counting the reads begun. */
function gate<T>() {
  const pending: { resolve: (v: T) => void; reject: (e: Error) => void }[] = [];
  return {
    read: () => new Promise<T>((resolve, reject) => pending.push({ resolve, reject })),
    get begun() {
      return pending.length;
    },
    answer: (i: number, v: T) => pending[i]!.resolve(v),
    fail: (i: number, e: Error) => pending[i]!.reject(e),
  };
}

describe('SharedRead', () => {
  it('gives readers that come while a read runs that read, and keeps its value until the TTL after it began', async () => {
    let now = 1_000;
    const g = gate<string>();
    const shared = new SharedRead(g.read, 250, () => now);
    const a = shared.get();
    now = 1_100;
    const b = shared.get();
    expect(g.begun).toBe(1);
    g.answer(0, 'v1');
    expect([await a, await b]).toEqual(['v1', 'v1']);
    now = 1_249;
    expect(await shared.get()).toBe('v1');
    expect(g.begun).toBe(1);
    now = 1_250; // 250 ms after the read began: read again
    const c = shared.get();
    expect(g.begun).toBe(2);
    g.answer(1, 'v2');
    expect(await c).toBe('v2');
  });

  it('after invalidate, the next reader reads again and a read begun before it is neither joined nor kept', async () => {
    const now = 0;
    const g = gate<string>();
    const shared = new SharedRead(g.read, 250, () => now);
    const before = shared.get();
    shared.invalidate();
    const after = shared.get();
    expect(g.begun).toBe(2);
    g.answer(1, 'new');
    g.answer(0, 'old');
    expect([await before, await after]).toEqual(['old', 'new']);
    expect(await shared.get()).toBe('new');
    expect(g.begun).toBe(2);
  });

  it('does not keep a failed read: its readers get the error, the next reader reads again', async () => {
    const g = gate<string>();
    const shared = new SharedRead(g.read, 250, () => 0);
    const a = shared.get();
    const b = shared.get();
    g.fail(0, new Error('postgres down'));
    await expect(a).rejects.toThrow('postgres down');
    await expect(b).rejects.toThrow('postgres down');
    const c = shared.get();
    expect(g.begun).toBe(2);
    g.answer(1, 'back');
    expect(await c).toBe('back');
  });
});

describe('SharedReads', () => {
  it('shares one read per key, and forgets every key past the bound', async () => {
    const reads: string[] = [];
    const shared = new SharedReads<string>(1_000, 2, () => 0);
    const read = (k: string) => () => {
      reads.push(k);
      return Promise.resolve(k);
    };
    expect(await shared.get('a', read('a'))).toBe('a');
    expect(await shared.get('a', read('a'))).toBe('a');
    expect(await shared.get('b', read('b'))).toBe('b');
    expect(reads).toEqual(['a', 'b']);
    await shared.get('c', read('c')); // the third key: a and b are dropped
    await shared.get('a', read('a'));
    expect(reads).toEqual(['a', 'b', 'c', 'a']);
    shared.invalidate();
    await shared.get('a', read('a'));
    expect(reads).toEqual(['a', 'b', 'c', 'a', 'a']);
  });
});
