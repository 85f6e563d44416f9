/** Writes waiting in memory while Postgres is unreachable (src/shared/waiting-writes.ts): the webhook outbox's events, the ACD's writes. */
import { pino } from 'pino';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { WaitingWrites } from '../../src/shared/waiting-writes.js';
import { WEBHOOK_WAITING_TEXTS } from '../../src/webhooks/service.js';
import { drained } from '../support/wait.js';

interface Ev { readonly id: number; readonly type: string; readonly key?: string }
const ev = (id: number, key?: string): Ev => ({ id, type: 'agent.state', ...(key ? { key } : {}) });
const unreachable = Object.assign(new Error('connect ECONNREFUSED'), { unreachable: true });

/** A writer that fails (unreachable) while `down`, with what it wrote and the log lines. */
function setup(max?: number) {
  const written: number[] = [];
  const lines: { msg: string }[] = [];
  const state = { down: false, refuse: new Set<number>() };
  const log = pino({ level: 'info' }, { write: (l: string) => lines.push(JSON.parse(l) as { msg: string }) });
  const settled: number[] = [];
  const waiting = new WaitingWrites<Ev>({
    texts: WEBHOOK_WAITING_TEXTS,
    describe: (e) => ({ eventId: e.id }),
    keyOf: (e) => e.key ?? '',
    settled: (e) => settled.push(e.id),
    write: async (e) => {
      if (state.refuse.has(e.id)) throw new Error('value too long');
      if (state.down) throw unreachable;
      written.push(e.id);
    },
    retryable: (err) => (err as { unreachable?: boolean }).unreachable === true,
    log,
    ...(max === undefined ? {} : { max }),
    retry: { baseMs: 100, maxMs: 100 },
  });
  return { waiting, written, settled, state, msgs: () => lines.map((l) => l.msg) };
}

/** Let every write already due run: timers fired, promise continuations drained. */
async function settle(ms = 0): Promise<void> {
  await vi.advanceTimersByTimeAsync(ms);
  for (let i = 0; i < 5; i++) await drained();
}

beforeEach(() => vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout', 'Date'] }));
afterEach(() => vi.useRealTimers());

describe('WaitingWrites', () => {
  it('writes in order; while Postgres is unreachable events wait and are written in order when it is back', async () => {
    const t = setup();
    t.waiting.push(ev(1));
    await settle();
    expect(t.written).toEqual([1]);
    t.state.down = true;
    for (const id of [2, 3, 4]) t.waiting.push(ev(id));
    await settle(1_000);
    expect(t.written).toEqual([1]);
    expect(t.waiting.stats).toEqual({ waiting: 3, dropped: 0 });
    expect(t.msgs().filter((m) => m === 'webhook deliveries wait in memory: Postgres unreachable')).toHaveLength(1);
    t.state.down = false;
    t.waiting.push(ev(5));
    await settle(100);
    expect(t.written).toEqual([1, 2, 3, 4, 5]);
    expect(t.waiting.stats.waiting).toBe(0);
    expect(t.msgs()).toContain('webhook deliveries that waited for Postgres are in the outbox');
  });

  it('keeps at most max waiting: the oldest are dropped and counted, one warning per wait', async () => {
    const t = setup(3);
    t.state.down = true;
    for (let id = 1; id <= 6; id++) t.waiting.push(ev(id));
    await settle(500);
    expect(t.waiting.stats).toEqual({ waiting: 3, dropped: 3 });
    expect(t.msgs().filter((m) => m === 'webhook events dropped: too many waiting for Postgres')).toHaveLength(1);
    t.state.down = false;
    await settle(100);
    expect(t.written).toEqual([4, 5, 6]);
  });

  it('an error that is not "unreachable" skips that event and goes on', async () => {
    const t = setup();
    t.state.refuse.add(2);
    for (const id of [1, 2, 3]) t.waiting.push(ev(id));
    await settle();
    expect(t.written).toEqual([1, 3]);
    expect(t.msgs()).toContain('webhook deliveries not enqueued');
  });

  it('stopped: no more retries, and what still waits is logged', async () => {
    const t = setup();
    t.state.down = true;
    t.waiting.push(ev(1));
    await settle();
    t.waiting.stop();
    t.state.down = false;
    await settle(1_000);
    expect(t.written).toEqual([]);
    expect(t.msgs()).toContain('webhook events still waiting for Postgres at stop: not delivered');
    t.waiting.start();
    await settle();
    expect(t.written).toEqual([1]);
  });
});

describe('WaitingWrites.submit (the ACD: written at once unless its key waits)', () => {
  const now = (t: ReturnType<typeof setup>, e: Ev) => async () => {
    if (t.state.down) throw unreachable;
    t.written.push(e.id);
    return `now ${e.id}`;
  };
  const later = (e: Ev, wait = true) => () => ({ result: `later ${e.id}`, wait });

  it('writes at once while Postgres answers; unreachable: answers from later() and the write waits', async () => {
    const t = setup();
    expect(await t.waiting.submit(ev(1, 'a'), now(t, ev(1, 'a')), later(ev(1, 'a')))).toBe('now 1');
    t.state.down = true;
    expect(await t.waiting.submit(ev(2, 'a'), now(t, ev(2, 'a')), later(ev(2, 'a')))).toBe('later 2');
    expect(t.waiting.waits('a')).toBe(true);
    expect(t.waiting.waits('b')).toBe(false);
    await settle(500);
    t.state.down = false;
    // Its key waits: the next write of 'a' waits behind it, though Postgres answers again; 'b' does not wait.
    expect(await t.waiting.submit(ev(3, 'a'), now(t, ev(3, 'a')), later(ev(3, 'a')))).toBe('later 3');
    expect(await t.waiting.submit(ev(4, 'b'), now(t, ev(4, 'b')), later(ev(4, 'b')))).toBe('now 4');
    await settle(100);
    expect(t.written).toEqual([1, 4, 2, 3]);
    expect(t.settled).toEqual([2, 3]);
    expect(t.waiting.waits('a')).toBe(false);
    expect(t.waiting.stats).toEqual({ waiting: 0, dropped: 0 });
  });

  it('a write that goes through at once while others wait for their retry (Postgres back): they are retried at once', async () => {
    const t = setup();
    t.state.down = true;
    for (let i = 0; i < 6; i++) t.waiting.push(ev(i + 1, 'a')); // retries back off to 100 ms here
    await settle(1);
    t.state.down = false;
    expect(await t.waiting.submit(ev(9, 'b'), now(t, ev(9, 'b')), later(ev(9, 'b')))).toBe('now 9');
    await settle(0);
    expect(t.written).toEqual([9, 1, 2, 3, 4, 5, 6]);
  });

  it('later() may say there is nothing to write, or refuse (throw): nothing waits then', async () => {
    const t = setup();
    t.state.down = true;
    expect(await t.waiting.submit(ev(1, 'a'), now(t, ev(1, 'a')), later(ev(1, 'a'), false))).toBe('later 1');
    await expect(t.waiting.submit(ev(2, 'a'), now(t, ev(2, 'a')), () => {
      throw new Error('cannot wait');
    })).rejects.toThrow('cannot wait');
    expect(t.waiting.stats.waiting).toBe(0);
  });

  it('an error that is not "unreachable" is thrown to the caller, nothing waits', async () => {
    const t = setup();
    await expect(t.waiting.submit(ev(1, 'a'), async () => {
      throw new Error('value too long');
    }, later(ev(1, 'a')))).rejects.toThrow('value too long');
    expect(t.waiting.stats.waiting).toBe(0);
  });

  it('submits of one key run one after another: a later one never overtakes a slow one', async () => {
    const t = setup();
    const order: string[] = [];
    let release!: () => void;
    const slow = t.waiting.submit(ev(1, 'a'), async () => {
      await new Promise<void>((r) => (release = r));
      order.push('1');
    }, () => ({ result: undefined, wait: true }));
    const fast = t.waiting.submit(ev(2, 'a'), async () => void order.push('2'), () => ({ result: undefined, wait: true }));
    const other = t.waiting.submit(ev(3, 'b'), async () => void order.push('3'), () => ({ result: undefined, wait: true }));
    await other;
    await settle();
    expect(order).toEqual(['3']);
    release();
    await Promise.all([slow, fast]);
    expect(order).toEqual(['3', '1', '2']);
  });
});
