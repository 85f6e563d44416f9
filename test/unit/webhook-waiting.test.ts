/** Events waiting for the webhook outbox while Postgres is unreachable (src/webhooks/waiting.ts). */
import { pino } from 'pino';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { WaitingEvents } from '../../src/webhooks/waiting.js';
import { drained } from '../support/wait.js';

interface Ev { readonly id: number; readonly type: string }
const ev = (id: number): Ev => ({ id, type: 'agent.state' });
const unreachable = Object.assign(new Error('connect ECONNREFUSED'), { unreachable: true });

/** A writer that fails (unreachable) while `down`, with what it wrote and the log lines. */
function setup(max?: number) {
  const written: number[] = [];
  const lines: { msg: string }[] = [];
  const state = { down: false, refuse: new Set<number>() };
  const log = pino({ level: 'info' }, { write: (l: string) => lines.push(JSON.parse(l) as { msg: string }) });
  const waiting = new WaitingEvents<Ev>({
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
  return { waiting, written, state, msgs: () => lines.map((l) => l.msg) };
}

/** Let every write already due run: timers fired, promise continuations drained. */
async function settle(ms = 0): Promise<void> {
  await vi.advanceTimersByTimeAsync(ms);
  for (let i = 0; i < 5; i++) await drained();
}

beforeEach(() => vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout', 'Date'] }));
afterEach(() => vi.useRealTimers());

describe('WaitingEvents', () => {
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
