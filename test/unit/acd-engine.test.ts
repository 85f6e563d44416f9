/** The ACD engine's loop against an in-memory store that applies the real agent state machine. */
import { describe, expect, it } from 'vitest';
import { pino } from 'pino';
import { AcdEngine, type AcdStore, type AgentRecord, type QueueCallPort, type QueueSettings } from '../../src/acd/engine.js';
import { agentTransition, initialAgentState, type AgentEvent, type AgentState, type PauseReason } from '../../src/acd/agent-state.js';
import { eventually } from '../support/wait.js';

const queue = (o: Partial<QueueSettings> = {}): QueueSettings => ({
  id: 'q1', name: 'sales', strategy: 'longest-idle', ringTimeoutSeconds: 15, wrapUpSeconds: 0, maxWaitSeconds: null, maxLength: null,
  overflow: null, joinEmpty: false, leaveWhenEmpty: true, announceSeconds: 0, missedOffersPause: 2, requiredSkills: [], widening: [], musicClass: 'default',
  callbackAfterSeconds: null, callbackRetries: 1,
  ...o,
});

class MemoryStore implements AcdStore {
  readonly agents_ = new Map<string, { number: string; pin: string; extension: string | null; machine: AgentState }>();
  readonly log: string[] = [];
  readonly left: string[] = [];
  queues_: QueueSettings[] = [queue()];
  now = 1_000_000;

  add(id: string, number: string, pin: string) {
    this.agents_.set(id, { number, pin, extension: null, machine: { ...initialAgentState } });
  }
  async queues() {
    return this.queues_;
  }
  async agents(): Promise<AgentRecord[]> {
    return [...this.agents_].map(([id, a]) => ({
      id, number: a.number, extension: a.extension, machine: a.machine, state: a.machine.status, memberships: [{ queueId: 'q1', penalty: 0 }],
      skills: {}, idleSince: a.machine.since, callsHandled: 0, talkSeconds: 0, lastOfferedAt: null,
    }));
  }
  async apply(agentId: string, event: AgentEvent, extra?: { extension?: string | null }) {
    const a = this.agents_.get(agentId)!;
    const step = agentTransition(a.machine, event, this.now++);
    if (step.ok) {
      a.machine = step.state;
      if (extra?.extension !== undefined) a.extension = extra.extension;
      this.log.push(`${a.number} ${step.record.from}->${step.record.to} (${event.type})`);
    }
    return step;
  }
  async checkLogin(number: string, pin: string) {
    const hit = [...this.agents_].find(([, a]) => a.number === number);
    return hit && hit[1].pin === pin ? ({ outcome: 'ok', agentId: hit[0] } as const) : ({ outcome: 'wrong' } as const);
  }
  async agentAtExtension(extension: string) {
    return [...this.agents_].find(([, a]) => a.extension === extension && a.machine.status !== 'logged-out')?.[0] ?? null;
  }
  async pauseReason(code: number): Promise<PauseReason | null> {
    return code === 2 ? { code: 2, name: 'lunch' } : null;
  }
  async callJoined() {}
  async callLeft(call: { callId: string }, outcome: string) {
    this.left.push(`${call.callId} ${outcome}`);
  }
  readonly talks: string[] = [];
  async talkEnded(callId: string, agentId: string) {
    this.talks.push(`${callId} ${agentId}`);
  }
  async recentHandleSeconds() {
    return [];
  }
  async queuedSince() {
    return null;
  }
  readonly callbacks: string[] = [];
  pending: { call: { callId: string; queueId: string; channelId: string; callerNumber: string | null; callerName: null; priority: number; requiredSkills: null; enqueuedAt: number }; customer: string; attempts: number; state: 'waiting' | 'dialing' }[] = [];
  async pendingCallbacks() {
    return this.pending;
  }
  async callback(id: string) {
    return this.pending.find((p) => p.call.callId === id) ?? null;
  }
  /** Calls live nowhere (no live_calls row): agents on them are found by agentsOnEndedCalls. */
  readonly endedCalls = new Set<string>();
  async agentsOnEndedCalls() {
    return [...this.agents_]
      .filter(([, a]) => (a.machine.status === 'on-call' || a.machine.status === 'reserved') && a.machine.call && this.endedCalls.has(a.machine.call.callId))
      .map(([agentId, a]) => ({ agentId, callId: a.machine.call!.callId, state: a.machine.status as 'on-call' | 'reserved' }));
  }
  /** Callbacks whose save fails (Postgres trouble). */
  readonly failSaves = new Set<string>();
  async callbackSaved(cb: { id: string; attempts: number; state: string }) {
    if (this.failSaves.has(cb.id)) throw new Error('connection terminated');
    this.callbacks.push(`${cb.id} ${cb.state} ${cb.attempts}`);
  }
}

function port() {
  const said: string[] = [];
  const p: QueueCallPort = {
    offer: (agents) => said.push(`offer ${agents.map((a) => a.number).join(',')}`),
    withdraw: (id) => said.push(`withdraw ${id}`),
    leave: (target) => said.push(`leave ${JSON.stringify(target)}`),
    announce: (position) => said.push(`announce ${position}`),
  };
  return { p, said };
}

async function setup() {
  const store = new MemoryStore();
  store.add('a1', '2001', '4711');
  store.add('a2', '2002', '4712');
  const engine = new AcdEngine({ store, log: pino({ level: 'silent' }), now: () => store.now });
  return { store, engine };
}
const caller = (callId: string) => ({ callId, queueName: 'sales', channelId: `ch-${callId}`, callerNumber: '4930', callerName: null, priority: 0, requiredSkills: null });

describe('ACD engine', () => {
  it('agents log in by number and PIN at a phone; a wrong PIN is refused', async () => {
    const { engine, store } = await setup();
    expect(await engine.login('1001', '2001', '0000')).toBe('wrong');
    expect(await engine.login('1001', '2001', '4711')).toBe('ok');
    expect(store.agents_.get('a1')).toMatchObject({ extension: '1001', machine: { status: 'ready' } });
  });

  it('feature codes when Postgres is unreachable: login says unavailable, pause and logout throw (the phone says so), nothing changes', async () => {
    const { engine, store } = await setup();
    expect(await engine.login('1001', '2001', '4711')).toBe('ok');
    const down = async () => {
      throw new Error('connect ECONNREFUSED 127.0.0.1:5432');
    };
    const apply = store.apply.bind(store);
    store.apply = down;
    await expect(engine.pause('1001', 2)).rejects.toThrow(/ECONNREFUSED/);
    await expect(engine.logout('1001')).rejects.toThrow(/ECONNREFUSED/);
    expect(await engine.login('1002', '2002', '4712')).toBe('unavailable'); // checked, but not stored
    store.checkLogin = down;
    expect(await engine.login('1002', '2002', '4712')).toBe('unavailable');
    store.apply = apply;
    expect(store.agents_.get('a1')!.machine.status).toBe('ready');
    expect(store.agents_.get('a2')!.machine.status).toBe('logged-out');
  });

  it('an offer Postgres cannot store: the caller waits for the next decision (no decision again at once), then is offered', async () => {
    const { engine, store } = await setup();
    await engine.login('1001', '2001', '4711');
    const apply = store.apply.bind(store);
    let offers = 0;
    store.apply = async (agentId, event, extra) => {
      if (event.type !== 'offer') return apply(agentId, event, extra);
      offers++;
      throw new Error('connect ECONNREFUSED 127.0.0.1:5432');
    };
    const { p, said } = port();
    expect(await engine.join(caller('c1'), p)).toMatchObject({ kind: 'joined' });
    await engine.settled();
    expect(offers).toBe(1);
    expect(said).toEqual([]);
    store.apply = apply;
    engine.decide(); // the tick's
    await engine.settled();
    expect(said).toEqual(['offer 2001']);
  });

  it('a caller joins only when an agent is logged in (join-empty off), then is offered to the agent', async () => {
    const { engine, store } = await setup();
    const { p, said } = port();
    expect(await engine.join(caller('c1'), p)).toMatchObject({ kind: 'not-joined', why: 'no-agents' });
    await engine.login('1001', '2001', '4711');
    expect(await engine.join(caller('c1'), p)).toMatchObject({ kind: 'joined' });
    await engine.settled();
    expect(said).toEqual(['offer 2001']);
    expect(store.agents_.get('a1')!.machine.status).toBe('reserved');
    expect(await engine.offerAnswered('c1', 'a1')).toBe(true);
    expect(store.agents_.get('a1')!.machine.status).toBe('on-call');
    await engine.callEnded('c1');
    expect(store.agents_.get('a1')!.machine.status).toBe('ready'); // no wrap-up in this queue
    await new Promise((r) => setImmediate(r)); // the call log and talk time are written in the background
    expect(store.left).toEqual(['c1 answered']);
    expect(store.talks).toEqual(['c1 a1']); // after the answered row: its talk time counts
  });

  it('an agent left on a call that ended while no daemon watched is released; one on a call this engine holds is not', async () => {
    const { engine, store } = await setup();
    await engine.login('1001', '2001', '4711');
    await engine.login('1002', '2002', '4712');
    await engine.join(caller('c1'), port().p);
    await engine.join(caller('c2'), port().p);
    await engine.settled();
    expect(await engine.offerAnswered('c1', 'a1')).toBe(true);
    expect(await engine.offerAnswered('c2', 'a2')).toBe(true);
    // A restarted engine: c1 (a1) ended while it was down; c2 (a2) too, by the store, but this
    // engine holds it connected (its live row write failed, say), so a2 stays on the call.
    const restarted = new AcdEngine({ store, log: pino({ level: 'silent' }), now: () => store.now });
    await restarted.adoptConnected('c2', port().p);
    store.endedCalls.add('c1');
    store.endedCalls.add('c2');
    await restarted.releaseAgentsOfEndedCalls();
    expect(store.agents_.get('a1')!.machine.status).toBe('ready');
    expect(store.agents_.get('a2')!.machine.status).toBe('on-call');
    expect(store.log.filter((l) => l.includes('call-ended'))).toEqual(['2001 on-call->ready (call-ended)']);
  });

  it('an agent reserved for an offer of a call that ended unseen is released; one whose call this engine still offers is not', async () => {
    const { engine, store } = await setup();
    await engine.login('1001', '2001', '4711');
    await engine.login('1002', '2002', '4712');
    await engine.join(caller('c1'), port().p);
    await engine.join(caller('c2'), port().p);
    await engine.settled();
    expect(store.agents_.get('a1')!.machine.status).toBe('reserved');
    expect(store.agents_.get('a2')!.machine.status).toBe('reserved');
    // A restarted engine holds neither call: c1's phone rang when the daemon was killed and the
    // caller is gone; c2 has no live row either, but this engine holds it waiting (offered).
    const restarted = new AcdEngine({ store, log: pino({ level: 'silent' }), now: () => store.now });
    store.endedCalls.add('c1');
    await restarted.releaseAgentsOfEndedCalls();
    expect(store.agents_.get('a1')!.machine.status).toBe('ready');
    store.endedCalls.add('c2');
    await engine.releaseAgentsOfEndedCalls();
    expect(store.agents_.get('a2')!.machine.status).toBe('reserved');
  });

  it('two calls and one agent: the second waits until the agent is free again', async () => {
    const { engine, store } = await setup();
    await engine.login('1001', '2001', '4711');
    const one = port();
    const two = port();
    await engine.join(caller('c1'), one.p);
    await engine.join(caller('c2'), two.p);
    await engine.settled();
    expect(one.said).toEqual(['offer 2001']);
    expect(two.said).toEqual([]); // never two offers to one agent
    await engine.offerAnswered('c1', 'a1');
    await engine.callEnded('c1');
    await engine.settled();
    expect(two.said).toEqual(['offer 2001']);
    expect(store.log.filter((l) => l.includes('(offer)'))).toHaveLength(2);
  });

  it('a missed offer goes to the next agent; two misses in a row pause the agent (missed)', async () => {
    const { engine, store } = await setup();
    await engine.login('1001', '2001', '4711');
    store.now += 10; // a2 logs in later: a1 has been idle longest
    await engine.login('1002', '2002', '4712');
    const { p, said } = port();
    await engine.join(caller('c1'), p);
    await engine.settled();
    expect(said).toEqual(['offer 2001']);
    await engine.offerFailed('c1', 'a1', 'no-answer');
    await engine.settled();
    expect(said).toEqual(['offer 2001', 'offer 2002']);
    await engine.offerFailed('c1', 'a2', 'no-answer');
    await engine.settled();
    // a1 is ready again (one miss) and gets it; it misses again: paused with reason 'missed'.
    expect(said.at(-1)).toBe('offer 2001');
    await engine.offerFailed('c1', 'a1', 'busy');
    expect(store.agents_.get('a1')!.machine).toMatchObject({ status: 'paused', pause: { code: 0, name: 'missed' } });
  });

  it('pause with a reason code, unknown codes refused, unpause, logout', async () => {
    const { engine, store } = await setup();
    expect(await engine.pause('1001', 2)).toBe('not-logged-in');
    await engine.login('1001', '2001', '4711');
    expect(await engine.pause('1001', 9)).toBe('unknown-reason');
    expect(await engine.pause('1001', 2)).toBe('ok');
    expect(store.agents_.get('a1')!.machine).toMatchObject({ status: 'paused', pause: { code: 2 } });
    expect(await engine.unpause('1001')).toBe(true);
    expect(store.agents_.get('a1')!.machine.status).toBe('ready');
    expect(await engine.logout('1001')).toBe(true);
    expect(store.agents_.get('a1')!.machine.status).toBe('logged-out');
  });

  it('a caller hanging up while the agent rings: the offer is withdrawn, no miss is counted', async () => {
    const { engine, store } = await setup();
    await engine.login('1001', '2001', '4711');
    const { p, said } = port();
    await engine.join(caller('c1'), p);
    await engine.settled();
    await engine.callerLeft('c1');
    expect(said).toEqual(['offer 2001', 'withdraw a1']);
    expect(store.agents_.get('a1')!.machine).toMatchObject({ status: 'ready', missedOffers: 0 });
    expect(store.left).toEqual(['c1 abandoned']);
  });

  it('a full queue turns the caller away to its overflow', async () => {
    const { engine, store } = await setup();
    store.queues_ = [queue({ maxLength: 1, joinEmpty: true, overflow: { kind: 'voicemail', mailbox: '1002' } })];
    expect(await engine.join(caller('c1'), port().p)).toMatchObject({ kind: 'joined' });
    expect(await engine.join(caller('c2'), port().p)).toMatchObject({ kind: 'not-joined', why: 'full', queue: { overflow: { kind: 'voicemail', mailbox: '1002' } } });
  });
});

describe('ACD engine: leaving the queue', () => {
  it('max wait sends the caller to the overflow; leave-when-empty when the last agent logs out', async () => {
    const { engine, store } = await setup();
    store.queues_ = [queue({ joinEmpty: true, leaveWhenEmpty: false, maxWaitSeconds: 30, overflow: { kind: 'extension', number: '1003' } })];
    const { p, said } = port();
    await engine.join(caller('c1'), p);
    store.now += 31_000;
    await (engine as unknown as { tick(): Promise<void> }).tick();
    expect(said).toEqual(['leave {"kind":"extension","number":"1003"}']);
    expect(store.left).toEqual(['c1 timeout']);

    store.queues_ = [queue({ joinEmpty: false, leaveWhenEmpty: true, overflow: null })];
    await engine.login('1001', '2001', '4711');
    await engine.pause('1001', 2); // logged in (paused): the caller may join and wait
    const two = port();
    expect(await engine.join(caller('c2'), two.p)).toMatchObject({ kind: 'joined' });
    await (engine as unknown as { tick(): Promise<void> }).tick();
    expect(two.said).toEqual([]);
    await engine.logout('1001');
    await (engine as unknown as { tick(): Promise<void> }).tick();
    expect(two.said).toEqual(['leave null']);
  });
});

describe('ACD engine: callbacks', () => {
  it('a caller asks for a callback after the offer time: keeps the place, the agent is rung first, a failure retries', async () => {
    const { store } = await setup();
    const rung: string[] = [];
    const engine = new AcdEngine({
      store,
      log: pino({ level: 'silent' }),
      now: () => store.now,
      callbacks: { ring: (id, agent, customer) => rung.push(`${id} ${agent.number} ${customer}`) },
    });
    store.queues_ = [queue({ joinEmpty: true, callbackAfterSeconds: 10, callbackRetries: 1 })];
    const { p } = port();
    await engine.join({ ...caller('c1'), callerNumber: '4930222333' }, p);
    expect(engine.callbackOffered('c1')).toBe(false); // not yet: offered after 10 s
    store.now += 10_000;
    expect(engine.callbackOffered('c1')).toBe(true);
    expect(await engine.requestCallback('c1')).toBe('c1-cb');
    expect(store.callbacks).toEqual(['c1-cb waiting 0']);
    await engine.login('1001', '2001', '4711');
    await engine.settled();
    expect(rung).toEqual(['c1-cb 2001 4930222333']);
    expect(await engine.offerAnswered('c1-cb', 'a1')).toBe(true); // the agent answered: now the customer is dialed
    expect(store.callbacks.at(-1)).toBe('c1-cb dialing 0'); // recorded before the customer is dialed
    await engine.callbackResult('c1-cb', false); // the customer did not answer
    expect(store.agents_.get('a1')!.machine.status).toBe('ready');
    await engine.settled();
    expect(rung).toHaveLength(1); // waits CALLBACK_RETRY_MS before the next try
    store.now += 31_000;
    engine.decide();
    await engine.settled();
    expect(rung).toHaveLength(2);
    await engine.offerAnswered('c1-cb', 'a1');
    await engine.callbackResult('c1-cb', true);
    await engine.callEnded('c1-cb');
    expect(store.callbacks.at(-1)).toBe('c1-cb done 2');
  });

  it('no callback without a number to call back', async () => {
    const { store } = await setup();
    const engine = new AcdEngine({ store, log: pino({ level: 'silent' }), now: () => store.now, callbacks: { ring: () => undefined } });
    store.queues_ = [queue({ joinEmpty: true, callbackAfterSeconds: 10 })];
    await engine.join({ ...caller('c1'), callerNumber: null }, port().p);
    store.now += 20_000;
    expect(await engine.requestCallback('c1')).toBeNull();
  });

  it('callbacks waiting when the daemon stopped are taken up again at start', async () => {
    const { engine, rung } = await restartedWith([{ call: pendingCall('old-cb'), customer: '4930', attempts: 1, state: 'waiting' }], 1);
    engine.stop();
    expect(rung).toEqual(['old-cb 2001']);
  });

  type Pending = MemoryStore['pending'][number];
  const pendingCall = (callId: string, enqueuedAt = 1): Pending['call'] => ({ callId, queueId: 'q1', channelId: '', callerNumber: '4930', callerName: null, priority: 0, requiredSkills: null, enqueuedAt });

  /** A daemon starting with callbacks left from before (agent 2001 logged in); `failSaves`: their saves fail. */
  async function restartedWith(pending: Pending[], retries: number, failSaves: string[] = []) {
    const { store } = await setup();
    store.queues_ = [queue({ joinEmpty: true, callbackRetries: retries })];
    store.pending = pending;
    for (const id of failSaves) store.failSaves.add(id);
    const rung: string[] = [];
    const said: string[] = [];
    const log = pino({ level: 'info' }, { write: (line: string) => void said.push((JSON.parse(line) as { msg: string }).msg) });
    const engine = new AcdEngine({ store, log, now: () => store.now, callbacks: { ring: (cb, agent) => rung.push(`${cb} ${agent.number}`) } });
    await engine.login('1001', '2001', '4711');
    engine.start();
    // start() takes the callbacks up in the background; it says when it is through with them.
    await eventually(async () => (said.includes('callbacks waiting from before the restart taken up again') ? true : undefined), 5_000, 'callbacks taken up', 1);
    await engine.settled();
    const after = async (ms: number) => {
      store.now += ms;
      engine.decide();
      await engine.settled();
    };
    return { store, engine, rung, after };
  }

  /** A daemon starting with a callback left 'dialing' (its customer was being dialed at the stop). */
  const restartedWhileDialing = (id: string, retries: number) => restartedWith([{ call: pendingCall(id), customer: '4930', attempts: 1, state: 'dialing' }], retries);

  it('a callback whose customer was being dialed at the restart counts that try and is not dialed again at once', async () => {
    const { store, engine, rung, after } = await restartedWhileDialing('cut-cb', 2);
    expect(store.callbacks).toEqual(['cut-cb waiting 2']); // the cut-off try counts
    expect(rung).toEqual([]); // an agent is free, but the customer's old call may still be ringing
    await after(29_000);
    expect(rung).toEqual([]);
    await after(2_000);
    engine.stop();
    expect(rung).toEqual(['cut-cb 2001']);
  });

  it('a callback whose new state cannot be saved at the restart does not stop the others, and is still taken up', async () => {
    const { store, engine, rung, after } = await restartedWith(
      [
        { call: pendingCall('unsaved-cb', 1), customer: '4930', attempts: 1, state: 'dialing' },
        { call: pendingCall('saved-cb', 2), customer: '4931', attempts: 1, state: 'dialing' },
      ],
      2,
      ['unsaved-cb'],
    );
    expect(store.callbacks).toEqual(['saved-cb waiting 2']);
    expect(engine.waitingCount).toBe(2);
    await after(31_000);
    engine.stop();
    expect(rung).toEqual(['unsaved-cb 2001']); // first in line, kept its place
  });

  it('a callback cut off by a restart on its last try has failed', async () => {
    const { store, engine, rung, after } = await restartedWhileDialing('last-cb', 1);
    await after(60_000);
    engine.stop();
    expect(store.callbacks).toEqual(['last-cb failed 2']);
    expect(rung).toEqual([]);
  });
});
