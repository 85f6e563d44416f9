import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { addWaitingCall, compareService, noWaitingCalls, removeWaitingCall, waitingCalls, type WaitingCall, type WaitingCalls } from '../../src/acd/waiting-calls.js';

const call = (id: string, over: Partial<WaitingCall> = {}): WaitingCall => ({ id, queueId: 'q1', priority: 0, enqueuedAt: 1_000, ...over });
const ids = (w: WaitingCalls, queueId: string) => {
  const q = w.queues.get(queueId);
  return q ? { standard: q.standard.map((c) => c.id), override: q.override.map((c) => c.id) } : undefined;
};

describe('waiting calls index', () => {
  it('keeps each queue in service order: priority, then waiting time, then id; overrides apart', () => {
    const w = waitingCalls([
      call('late', { enqueuedAt: 3_000 }),
      call('vip', { priority: 5, enqueuedAt: 9_000 }),
      call('b', { enqueuedAt: 2_000 }),
      call('a', { enqueuedAt: 2_000 }),
      call('es', { requiredSkills: [{ skill: 'es', minLevel: 2 }] }),
      call('other', { queueId: 'q2' }),
    ]);
    expect(ids(w, 'q1')).toEqual({ standard: ['vip', 'a', 'b', 'late'], override: ['es'] });
    expect(ids(w, 'q2')).toEqual({ standard: ['other'], override: [] });
    expect(w.size).toBe(6);
  });

  it('add and remove return new indexes and leave the old ones as they were', () => {
    const w1 = addWaitingCall(noWaitingCalls, call('c1'));
    const w2 = addWaitingCall(w1, call('c0', { enqueuedAt: 500 }));
    expect(ids(w1, 'q1')?.standard).toEqual(['c1']);
    expect(ids(w2, 'q1')?.standard).toEqual(['c0', 'c1']);
    const w3 = removeWaitingCall(w2, 'q1', 'c0');
    expect(ids(w3, 'q1')?.standard).toEqual(['c1']);
    expect(w3.size).toBe(1);
    expect(removeWaitingCall(w3, 'q1', 'c1').queues.has('q1')).toBe(false);
    expect(removeWaitingCall(w3, 'q1', 'nope')).toBe(w3);
    expect(removeWaitingCall(w3, 'nope', 'c1')).toBe(w3);
    expect(noWaitingCalls.size).toBe(0);
  });

  it('adding calls one by one (and removing some) gives the same index as building it (property)', () => {
    const arb = fc.array(
      fc.record({
        queueId: fc.constantFrom('q1', 'q2', 'q3'),
        priority: fc.integer({ min: 0, max: 2 }),
        enqueuedAt: fc.integer({ min: 0, max: 5 }),
        requiredSkills: fc.option(fc.constant([{ skill: 'es', minLevel: 1 }]), { nil: undefined }),
        remove: fc.boolean(),
      }),
      { maxLength: 40 },
    );
    fc.assert(
      fc.property(arb, (rows) => {
        const calls = rows.map(({ remove: _r, ...c }, i): WaitingCall => ({ id: `c${String(i).padStart(2, '0')}`, ...c }));
        let w = noWaitingCalls;
        for (const c of calls) w = addWaitingCall(w, c);
        expect(w).toEqual(waitingCalls(calls));
        const kept = calls.filter((_, i) => !rows[i]!.remove);
        for (const [i, c] of calls.entries()) if (rows[i]!.remove) w = removeWaitingCall(w, c.queueId, c.id);
        expect(w).toEqual(waitingCalls(kept));
        for (const q of w.queues.values()) {
          for (const list of [q.standard, q.override]) {
            for (let i = 1; i < list.length; i++) expect(compareService(list[i - 1]!, list[i]!)).toBeLessThan(0);
          }
        }
      }),
    );
  });
});
