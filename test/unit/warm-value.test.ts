import { describe, expect, it } from 'vitest';
import { WarmValue } from '../../src/db/warm-value.js';

/** A read whose answers the test releases one by one. */
function reads() {
  const pending: { resolve: (v: number) => void; reject: (e: Error) => void }[] = [];
  let count = 0;
  const read = () => {
    count++;
    return new Promise<number>((resolve, reject) => pending.push({ resolve, reject }));
  };
  return { read, count: () => count, answer: (v: number) => pending.shift()!.resolve(v), fail: (e: Error) => pending.shift()!.reject(e) };
}

async function answered<T>(p: Promise<T>, r: ReturnType<typeof reads>, v: number): Promise<T> {
  r.answer(v);
  return p;
}

describe('WarmValue', () => {
  it('is read once and then served from memory while the listener is connected', async () => {
    const r = reads();
    const w = new WarmValue(r.read);
    w.listenerUp(true);
    expect(await answered(w.get(), r, 1)).toBe(1);
    expect(await w.get()).toBe(1);
    expect(await w.get()).toBe(1);
    expect(r.count()).toBe(1);
  });

  it('is read again after a change is announced', async () => {
    const r = reads();
    const w = new WarmValue(r.read);
    w.listenerUp(true);
    await answered(w.get(), r, 1);
    w.changed();
    expect(await answered(w.get(), r, 2)).toBe(2);
    expect(await w.get()).toBe(2);
    expect(r.count()).toBe(2);
  });

  it('is read for every caller while the listener is not connected, and after it is lost', async () => {
    const r = reads();
    const w = new WarmValue(r.read);
    expect(await answered(w.get(), r, 1)).toBe(1);
    expect(await answered(w.get(), r, 2)).toBe(2);
    w.listenerUp(true);
    await answered(w.get(), r, 3);
    w.listenerUp(false);
    expect(await answered(w.get(), r, 4)).toBe(4);
    expect(r.count()).toBe(4);
  });

  it('hands a read under way when a change is announced to its callers but does not keep it', async () => {
    const r = reads();
    const w = new WarmValue(r.read);
    w.listenerUp(true);
    const early = w.get();
    w.changed();
    const late = w.get(); // does not join the read that started before the change
    expect(r.count()).toBe(2);
    r.answer(1);
    r.answer(2);
    expect(await early).toBe(1);
    expect(await late).toBe(2);
    expect(await w.get()).toBe(2);
    expect(r.count()).toBe(2);
  });

  it('shares one read among callers that ask at the same time', async () => {
    const r = reads();
    const w = new WarmValue(r.read);
    w.listenerUp(true);
    const both = Promise.all([w.get(), w.get()]);
    r.answer(7);
    expect(await both).toEqual([7, 7]);
    expect(r.count()).toBe(1);
  });

  it('keeps nothing from a failed read: the next caller reads again', async () => {
    const r = reads();
    const w = new WarmValue(r.read);
    w.listenerUp(true);
    const failed = w.get();
    r.fail(new Error('postgres down'));
    await expect(failed).rejects.toThrow('postgres down');
    expect(await answered(w.get(), r, 5)).toBe(5);
    expect(r.count()).toBe(2);
  });
});
