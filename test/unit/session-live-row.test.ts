/**
 * The live row of a call (live_calls) is written while the call is routed, not before: routing
 * does not wait for the insert, and what depends on the row (its updates, the CDR, whose write
 * drops the row) waits for it, so the row is never left behind nor updated before it exists.
 */
import { describe, expect, it } from 'vitest';
import { fakeQueueAcd, setup } from '../support/session-harness.js';
import { eventually } from '../support/wait.js';

const settle = () => new Promise((r) => setImmediate(r));

describe('the live row of a call', () => {
  it('is inserted while the call is routed; its updates and the CDR come after the insert', async () => {
    const order: string[] = [];
    let insertDone!: () => void;
    const s = setup({
      dialed: '1002',
      store: {
        insert: () => new Promise<void>((resolve) => (insertDone = () => (order.push('insert'), resolve()))),
        update: async (_id, patch) => void order.push(`update ${Object.keys(patch).sort().join(',')}`),
      },
    });
    await s.session.enqueue({ type: 'stasis-start' });
    // The extension rings though the row is not written yet.
    expect(s.calls.some((c) => c.startsWith('originate') && c.includes('"endpoint":"PJSIP/1002"'))).toBe(true);
    expect(order).toEqual([]);
    await s.session.enqueue({ type: 'destroyed', cause: 16, causeText: 'Normal Clearing' });
    await settle();
    expect(s.cdrs).toHaveLength(0); // the CDR (which drops the row) waits for the row
    insertDone();
    await settle();
    expect(order[0]).toBe('insert');
    expect(s.cdrs).toHaveLength(1);
    expect(s.cdrs[0]).toMatchObject({ call_id: 'call-1', dialed_number: '1002' });
  });

  it('a failed insert holds nothing up: the CDR is still written', async () => {
    const s = setup({ dialed: '1002', store: { insert: async () => Promise.reject(new Error('db down')), update: async () => undefined } });
    await s.session.enqueue({ type: 'stasis-start' });
    await s.session.enqueue({ type: 'destroyed', cause: 16, causeText: 'Normal Clearing' });
    await settle();
    expect(s.cdrs).toHaveLength(1);
  });
});

describe("a queue caller's live row", () => {
  it('says ringing while an agent rings, waiting again when the offer fails: in the order of the changes, however slow each write (changes made while a write is in flight merged into the next)', async () => {
    const states: string[] = [];
    const { acd, offer } = fakeQueueAcd();
    // Writes that finish in reverse order of their start, as they could on a pool of connections.
    let delay = 50;
    const s = setup({
      acd,
      route: { kind: 'queue', queue: 'support' },
      store: {
        insert: async () => undefined,
        update: (_id, patch) => new Promise<void>((r) => setTimeout(() => (patch.state ? states.push(patch.state) : undefined, r()), (delay = Math.max(0, delay - 10)))),
      },
    });
    await s.session.enqueue({ type: 'stasis-start' });
    offer();
    await s.session.enqueue({ type: 'playback-finished', playbackId: 'none' }); // after the offer's event
    const leg = [...s.legs.keys()].find((l) => l.includes('-agent-'))!;
    await eventually(async () => (states.at(-1) === 'ringing' ? true : undefined), 2_000, 'ringing');
    await s.session.enqueue({ type: 'b-ended', legId: leg, cause: 19 }); // rang out
    const rang = states.length;
    await eventually(async () => (states.length > rang && states.at(-1) === 'waiting' ? true : undefined), 2_000, 'waiting again');
    // The changes were answered, waiting, ringing, waiting. Writes merged while an earlier one was in
    // flight (#22) may skip a middle state, but what is written keeps their order and ends right.
    const changes = ['answered', 'waiting', 'ringing', 'waiting'];
    const written = states.filter((x, i) => x !== states[i - 1]);
    let at = 0;
    for (const state of written) {
      at = changes.indexOf(state, at);
      expect(at, `${written.join(', ')}: in the order of ${changes.join(', ')}`).toBeGreaterThanOrEqual(0);
      at++;
    }
    expect(written.slice(-2)).toEqual(['ringing', 'waiting']);
  });
});
