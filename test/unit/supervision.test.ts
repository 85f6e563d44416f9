/**
 * Live supervision without Asterisk: the feature code, the modes' snoop directions and DTMF keys
 * (src/supervision/model.ts), the supervisor's call against a fake Asterisk (supervise-call.ts:
 * bridge, snoops made and swapped, who is told what) and the service's lookups and register.
 */
import { describe, expect, it } from 'vitest';
import { pino } from 'pino';
import { decideRoute } from '../../src/calls/router.js';
import { modeOfKey, snoopDirections, supervisedNumber, type TargetLookup } from '../../src/supervision/model.js';
import type { SupervisionHandle, SupervisionInfo, SupervisionPort } from '../../src/supervision/port.js';
import { SupervisionService, type SupervisionDeps } from '../../src/supervision/service.js';
import type { Db } from '../../src/db/database.js';
import type { StoredSupervision, SupervisionStore } from '../../src/supervision/repository.js';
import { setup } from '../support/session-harness.js';
import { eventually } from '../support/wait.js';
import { toneLevel, ulawDecode, ulawEncode } from '../support/rtp.js';

describe('the supervision feature code and modes', () => {
  it('*55 and a number from an extension is supervision; anything else after *55 is not', () => {
    const anna = { kind: 'extension', number: '1001' } as const;
    expect(decideRoute(anna, '*552001', () => false)).toEqual({ kind: 'supervise', number: '2001', extension: '1001' });
    expect(decideRoute(anna, '*551002', (n) => n === '1002')).toEqual({ kind: 'supervise', number: '1002', extension: '1001' });
    expect(decideRoute({ kind: 'other', endpoint: 'x' }, '*552001', () => false)).toEqual({ kind: 'refuse', reason: 'not-permitted' });
    expect(decideRoute({ kind: 'trunk', name: 'c' }, '*552001', () => false)).toEqual({ kind: 'inbound', did: '*552001' });
    expect(supervisedNumber('*55')).toBeNull();
    expect(supervisedNumber('*551')).toBeNull();
    expect(supervisedNumber('*55#1002')).toBeNull();
    expect(supervisedNumber('*5512345678901234567')).toBeNull();
  });

  it('listen spies both ways and whispers nothing; whisper speaks to the agent only; barge to both', () => {
    expect(snoopDirections('listen')).toEqual({ spy: 'both', whisper: 'none' });
    expect(snoopDirections('whisper')).toEqual({ spy: 'both', whisper: 'out' });
    expect(snoopDirections('barge')).toEqual({ spy: 'both', whisper: 'both' });
    expect(['4', '5', '6', '1', '#'].map(modeOfKey)).toEqual(['listen', 'whisper', 'barge', null, null]);
  });
});

const ON_CALL: TargetLookup = { found: 'on-call', channelId: 'agent-chan', callId: 'call-9', extension: '1002', agent: null };

/** A port that allows 1001, finds `lookup`, and logs what it is told. */
function fakePort(log: string[], lookup: TargetLookup = ON_CALL, allowed = true) {
  let handle: SupervisionHandle | null = null;
  const port: SupervisionPort = {
    mayDial: async () => allowed,
    find: async () => lookup,
    snoop: async (o) => void log.push(`snoop ${o.targetChannelId} ${o.snoopId} whisper=${o.directions.whisper}`),
    claim: () => null,
    opened: (info: SupervisionInfo, h) => {
      handle = h;
      log.push(`opened ${info.mode} ${info.callId}`);
    },
    changed: (_id, from, to, by) => void log.push(`changed ${from}->${to} by ${by.label}`),
    closed: (_id, reason) => void log.push(`closed ${reason}`),
    refused: (_by, ext, _t, why) => void log.push(`refused ${ext} ${why}`),
    channelGone: () => undefined,
  };
  return { port, handle: () => handle };
}

const until = (check: () => boolean, what: string) => eventually(async () => (check() ? true : undefined), 5_000, what, 1);

describe('the supervisor\'s call', () => {
  it('joins in listen; 5 makes a whisper snoop, which replaces the listen one once up; the supervisor hanging up tidies all', async () => {
    const log: string[] = [];
    const { port } = fakePort(log);
    const s = setup({ route: { kind: 'supervise', number: '1002', extension: '1001' }, supervision: port, dialed: '*551002' });
    await s.session.enqueue({ type: 'stasis-start' });
    expect(s.calls.filter((c) => /^(answer|createBridge|addToBridge)/.test(c))).toEqual(['answer chan-a', 'createBridge supervision-call-1', 'addToBridge supervision-call-1 ["chan-a"]']);
    expect(log).toEqual(['opened listen call-9', 'snoop agent-chan call-1-snoop-1 whisper=none']);
    expect(s.legs.has('call-1-snoop-1')).toBe(true);

    await s.session.enqueue({ type: 'b-answered', legId: 'call-1-snoop-1' });
    expect(s.calls.at(-1)).toBe('addToBridge supervision-call-1 ["call-1-snoop-1"]');

    await s.session.enqueue({ type: 'dtmf', digit: '5' });
    expect(log.slice(2)).toEqual(['changed listen->whisper by extension:1001', 'snoop agent-chan call-1-snoop-2 whisper=out']);
    // The listen snoop stays until the whisper one is in the bridge: no gap in what the supervisor hears.
    expect(s.calls.some((c) => c.startsWith('hangup call-1-snoop-1'))).toBe(false);
    await s.session.enqueue({ type: 'b-answered', legId: 'call-1-snoop-2' });
    expect(s.calls.slice(-2)).toEqual(['addToBridge supervision-call-1 ["call-1-snoop-2"]', 'hangup call-1-snoop-1']);
    expect(s.legs.has('call-1-snoop-1')).toBe(false);
    // The old snoop's end is not the session's end.
    await s.session.enqueue({ type: 'b-ended', legId: 'call-1-snoop-1', cause: 16 });
    // Pressing the mode it is in, or another key, changes nothing.
    await s.session.enqueue({ type: 'dtmf', digit: '5' });
    await s.session.enqueue({ type: 'dtmf', digit: '9' });
    expect(log).toHaveLength(4);

    await s.session.enqueue({ type: 'destroyed', cause: 16, causeText: 'Normal Clearing' });
    expect(s.calls.slice(-2)).toEqual(['hangup call-1-snoop-2', 'destroyBridge supervision-call-1']);
    expect(log.at(-1)).toBe('closed supervisor-hangup');
    // The supervisor's own call has its CDR; the supervised call's is not touched here.
    expect(s.cdrs.map((c) => c.call_id)).toEqual(['call-1']);
  });

  it('the snooped channel going away (the agent or customer hung up) hangs up the supervisor: call-ended', async () => {
    const log: string[] = [];
    const { port, handle } = fakePort(log);
    const s = setup({ route: { kind: 'supervise', number: '1002', extension: '1001' }, supervision: port, dialed: '*551002' });
    await s.session.enqueue({ type: 'stasis-start' });
    await s.session.enqueue({ type: 'b-answered', legId: 'call-1-snoop-1' });
    handle()!.targetGone();
    await until(() => s.calls.some((c) => c.startsWith('hangup chan-a')), 'the supervisor hung up');
    await s.session.enqueue({ type: 'destroyed', cause: 16, causeText: null });
    expect(log.at(-1)).toBe('closed call-ended');
  });

  it('a switch asked for while a snoop is being made waits for it, then is made', async () => {
    const log: string[] = [];
    const { port } = fakePort(log);
    const s = setup({ route: { kind: 'supervise', number: '1002', extension: '1001' }, supervision: port, dialed: '*551002' });
    await s.session.enqueue({ type: 'stasis-start' });
    await s.session.enqueue({ type: 'dtmf', digit: '6' }); // the listen snoop is not up yet
    expect(log.filter((l) => l.startsWith('snoop'))).toHaveLength(1);
    await s.session.enqueue({ type: 'b-answered', legId: 'call-1-snoop-1' });
    expect(log.filter((l) => l.startsWith('snoop')).at(-1)).toBe('snoop agent-chan call-1-snoop-2 whisper=both');
  });

  it.each([
    ['not allowed', ON_CALL, false, 'not-permitted', 'sound:beeperr,sound:ss-noservice'],
    ['unknown agent or extension', { found: 'unknown' } as const, true, 'unknown', 'sound:beeperr,sound:invalid,sound:vm-goodbye'],
    ['not on a call', { found: 'not-on-call' } as const, true, 'not-on-call', 'sound:beeperr,sound:vm-isunavail,sound:vm-goodbye'],
  ])('%s: a prompt, then hung up; no snoop, no bridge, no session', async (_what, lookup, allowed, why, prompt) => {
    const log: string[] = [];
    const { port } = fakePort(log, lookup, allowed);
    const s = setup({ route: { kind: 'supervise', number: '1002', extension: '1001' }, supervision: port, dialed: '*551002' });
    await s.session.enqueue({ type: 'stasis-start' });
    expect(log).toEqual([`refused 1001 ${why}`]);
    const play = s.calls.find((c) => c.startsWith('play'))!;
    expect(play).toContain(JSON.stringify(prompt.split(',')));
    await s.session.enqueue({ type: 'playback-finished', playbackId: 'call-1-supervision-refused' });
    expect(s.calls.at(-1)).toMatch(/^hangup chan-a/);
    expect(s.calls.some((c) => /^(createBridge|snoop)/.test(c))).toBe(false);
  });
});

/** supervision_sessions in memory (the real one: test/integration/supervision-sessions.test.ts). */
function memoryStore(rows = new Map<string, StoredSupervision>()): SupervisionStore & { rows: Map<string, StoredSupervision> } {
  return {
    rows,
    insertRinging: async (request, ringUntil) => void rows.set(request.id, { state: 'ringing', request, ringUntil }),
    upsertActive: async (info) => void rows.set(info.id, { state: 'active', info }),
    updateMode: async (id, mode) => {
      const row = rows.get(id);
      if (row?.state === 'active') rows.set(id, { state: 'active', info: { ...row.info, mode } });
    },
    delete: async (id) => void rows.delete(id),
    list: async () => [...rows.values()],
  };
}

describe('the supervision service', () => {
  function service(
    o: {
      agents?: Record<string, string | null>;
      extensions?: Record<string, boolean>;
      party?: { channelId: string; callId: string; extension: string | null } | null;
      store?: ReturnType<typeof memoryStore>;
      channels?: { id: string; state: string }[];
      now?: () => Date;
    } = {},
  ) {
    const rung: string[] = [];
    const monitored: string[] = [];
    const hungUp: string[] = [];
    const store = o.store ?? memoryStore();
    const deps: SupervisionDeps = {
      db: {} as Db, // audit rows: recordAudit fails on this stand-in and is logged, never thrown
      log: pino({ level: 'silent' }),
      canSupervise: async (n) => o.extensions?.[n] ?? null,
      agent: async (n) => (o.agents && n in o.agents ? { extension: o.agents[n]! } : null),
      calls: {
        callParty: async () => o.party ?? null,
        ringSupervisor: async (id, ext) => void rung.push(`${id} ${ext}`),
        hangup: async (id) => void hungUp.push(id),
        channels: async () => o.channels ?? [],
        destroyBridge: async (id) => void hungUp.push(`bridge ${id}`),
        noteMonitored: (callId) => void monitored.push(callId),
      },
      snoop: async () => undefined,
      store,
      ...(o.now ? { now: o.now } : {}),
    };
    return { svc: new SupervisionService(deps), rung, monitored, hungUp, store };
  }
  const party = { channelId: 'c1', callId: 'call-1', extension: '1002' };
  const actor = { userId: 'u1', tokenId: 't1', label: 'user:sue', requestId: 'r1' };

  it('a number after *55 is an agent when there is one (their extension), else an extension', async () => {
    const { svc } = service({ agents: { '2001': '1002', '2002': null }, extensions: { '1002': false }, party });
    expect(await svc.find({ kind: 'number', number: '2001' })).toMatchObject({ found: 'on-call', agent: '2001', extension: '1002' });
    expect(await svc.find({ kind: 'number', number: '2002' })).toEqual({ found: 'not-on-call' }); // logged out
    expect(await svc.find({ kind: 'number', number: '1002' })).toMatchObject({ found: 'on-call', agent: null });
    expect(await svc.find({ kind: 'number', number: '1999' })).toEqual({ found: 'unknown' });
    expect(await svc.find({ kind: 'agent', number: '1002' })).toEqual({ found: 'unknown' });
  });

  it('API: 404 for an unknown supervisor, agent or call; 409 when not on a call; a ringing session otherwise', async () => {
    await expect(service({ extensions: {} }).svc.request({ supervisorExtension: '1001', target: { kind: 'extension', number: '1002' }, mode: 'listen' }, actor)).rejects.toMatchObject({ status: 404, code: 'extension-not-found' });
    const idle = service({ extensions: { '1001': false, '1002': false }, agents: { '2001': '1002' }, party: null });
    await expect(idle.svc.request({ supervisorExtension: '1001', target: { kind: 'agent', number: '2999' }, mode: 'listen' }, actor)).rejects.toMatchObject({ status: 404, code: 'agent-not-found' });
    await expect(idle.svc.request({ supervisorExtension: '1001', target: { kind: 'call', callId: 'x' }, mode: 'listen' }, actor)).rejects.toMatchObject({ status: 404, code: 'call-not-found' });
    await expect(idle.svc.request({ supervisorExtension: '1001', target: { kind: 'agent', number: '2001' }, mode: 'listen' }, actor)).rejects.toMatchObject({ status: 409, code: 'supervision-not-on-call' });
    expect(idle.rung).toEqual([]);
    const busy = service({ extensions: { '1001': false, '1002': false }, party });
    const view = await busy.svc.request({ supervisorExtension: '1001', target: { kind: 'extension', number: '1002' }, mode: 'whisper' }, actor);
    expect(view).toMatchObject({ state: 'ringing', mode: 'whisper', callId: 'call-1' });
    expect(busy.rung).toEqual([`${view.id} 1001`]);
    expect(busy.svc.list().map((v) => v.id)).toEqual([view.id]);
    expect(busy.store.rows.get(view.id)).toMatchObject({ state: 'ringing' }); // stored before it rang
    // Answered: the call claims the request once.
    expect(busy.svc.claim(view.id)).toMatchObject({ mode: 'whisper', supervisorExtension: '1001' });
    expect(busy.svc.claim(view.id)).toBeNull();
    expect(() => busy.svc.get(view.id)).toThrow(/not found/);
    await eventually(async () => (busy.store.rows.size === 0 ? true : undefined), 1000, 'the claimed row gone');
  });

  it("a restarted daemon: the request whose phone still rings is waited for again; one whose phone is gone is hung up; a session in progress is ended; the daemon's own rows are not touched", async () => {
    const now = new Date('2026-12-08T10:00:00Z');
    const soon = new Date(now.getTime() + 20_000);
    const store = memoryStore();
    const request = (id: string) => ({ id, supervisorExtension: '1001', target: { kind: 'agent', number: '2001' } as const, mode: 'listen' as const, actor });
    await store.insertRinging(request('sv-ringing'), soon);
    await store.insertRinging(request('sv-gone'), soon);
    await store.insertRinging(request('sv-late'), new Date(now.getTime() - 1000));
    await store.insertRinging(request('sv-answered'), soon);
    await store.upsertActive({ ...request('call-9'), callId: 'call-1', channelId: 'c1', extension: '1002', agent: '2001', mode: 'whisper', startedAt: new Date(now.getTime() - 65_000) });
    const { svc, hungUp, monitored } = service({
      store, now: () => now,
      channels: [{ id: 'sv-ringing', state: 'Ringing' }, { id: 'sv-late', state: 'Ringing' }, { id: 'sv-answered', state: 'Up' }, { id: 'call-9', state: 'Up' }],
    });
    const out = await svc.recover();
    expect(out).toEqual({ waiting: ['sv-ringing'], cancelled: ['sv-gone', 'sv-late', 'sv-answered'], ended: ['call-9'] });
    expect(hungUp).toEqual(['sv-gone', 'sv-late', 'sv-answered', 'call-9', 'bridge supervision-call-9']);
    expect([...store.rows.keys()]).toEqual(['sv-ringing']);
    expect(monitored).toEqual(['call-1']); // the call supervised goes on, still noted as monitored
    // The request waited for again is claimed by its answer as any other.
    expect(svc.get('sv-ringing')).toMatchObject({ state: 'ringing' });
    expect(svc.claim('sv-ringing')).toMatchObject({ mode: 'listen', supervisorExtension: '1001' });
    // Run again (an ARI reconnect): nothing of this daemon's is touched.
    svc.opened({ ...request('s-live'), callId: 'call-2', channelId: 'c2', extension: '1002', agent: null, startedAt: now }, { switchTo: () => undefined, end: () => undefined, targetGone: () => undefined });
    await eventually(async () => (store.rows.has('s-live') ? true : undefined), 1000, 'the session stored');
    expect(await svc.recover()).toEqual({ waiting: [], cancelled: [], ended: [] });
    expect(store.rows.get('s-live')).toMatchObject({ state: 'active' });
  });

  it("a session this daemon ended whose row could not be deleted is not taken for the old daemon's", async () => {
    const store = memoryStore();
    const { svc, hungUp } = service({ store, channels: [] });
    const info: SupervisionInfo = { id: 's-mine', supervisorExtension: '1001', target: { kind: 'extension', number: '1002' }, callId: 'call-1', channelId: 'c1', extension: '1002', agent: null, mode: 'listen', startedAt: new Date(), actor };
    svc.opened(info, { switchTo: () => undefined, end: () => undefined, targetGone: () => undefined });
    await eventually(async () => (store.rows.has('s-mine') ? true : undefined), 1000, 'the session stored');
    store.delete = async () => {
      throw new Error('database unreachable');
    };
    svc.closed('s-mine', 'supervisor-hangup');
    expect(await svc.recover()).toEqual({ waiting: [], cancelled: [], ended: [] });
    expect(hungUp).toEqual([]);
  });

  it('a destroyed channel ends the sessions snooping on it, only those; an opened session marks its call monitored', () => {
    const { svc, monitored } = service();
    const told: string[] = [];
    const info = (id: string, channelId: string): SupervisionInfo => ({
      id, supervisorExtension: '1001', target: { kind: 'extension', number: '1002' }, callId: 'call-1', channelId, extension: '1002', agent: null, mode: 'listen', startedAt: new Date(), actor,
    });
    svc.opened(info('s1', 'c1'), { switchTo: () => undefined, end: () => undefined, targetGone: () => void told.push('s1') });
    svc.opened(info('s2', 'c2'), { switchTo: () => undefined, end: () => undefined, targetGone: () => void told.push('s2') });
    svc.channelGone('c2');
    expect(told).toEqual(['s2']);
    expect(monitored).toEqual(['call-1', 'call-1']);
    svc.changeMode('s1', 'barge', actor);
    expect(() => svc.changeMode('nope', 'barge', actor)).toThrow(/no active supervision/);
  });
});

describe('the e2e audio measure (test/support/rtp.ts)', () => {
  it('u-law round trip is close; a 1000 Hz tone measures its amplitude at 1000 Hz and almost nothing at 600 or 1450', () => {
    for (const v of [0, 100, -100, 1000, -5000, 20000, -32000]) expect(Math.abs(ulawDecode(ulawEncode(v)) - v)).toBeLessThanOrEqual(Math.max(8, Math.abs(v) * 0.04));
    const samples = Array.from({ length: 8000 }, (_, i) => ulawDecode(ulawEncode(Math.round(6000 * Math.sin((2 * Math.PI * 1000 * i) / 8000)))));
    expect(toneLevel(samples, 1000)).toBeGreaterThan(5500);
    expect(toneLevel(samples, 600)).toBeLessThan(100);
    expect(toneLevel(samples, 1450)).toBeLessThan(100);
    expect(toneLevel([], 1000)).toBe(0);
  });
});
