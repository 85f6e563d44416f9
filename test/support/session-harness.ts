/**
 * A call session against a fake Asterisk (CallControl): every ARI call is recorded as a line
 * ("originate {...}", "hangup chan-a busy"), CDRs and live rows are collected, time is manual.
 * Extensions 10xx exist (1002 and 1005 may call national numbers; 1005 and 1006 forward always to
 * 0301234567); outside numbers (0...) are found only for a national caller context.
 */
import { pino } from 'pino';
import { CallSession, type SessionDeps } from '../../src/calls/session.js';
import type { CallControl } from '../../src/telephony/ari-types.js';
import type { DialTarget } from '../../src/calls/dial-flow.js';
import type { NewCdr } from '../../src/calls/tables.js';
import type { RoutedCall } from '../../src/calls/directory.js';
import type { CallFacts } from '../../src/calls/cdr.js';
import type { IvrPort } from '../../src/ivr/port.js';
import type { AcdEngine, QueueCallPort } from '../../src/acd/engine.js';
import type { SupervisionPort } from '../../src/supervision/port.js';
import type { RecordingDeps } from '../../src/calls/call-recording.js';
import type { RecordingPolicy } from '../../src/calls/recording-policy.js';

export const target = (number: string): DialTarget => ({
  number,
  endpoint: `PJSIP/${number}`,
  dnd: false,
  forwardAlways: null,
  forwardBusy: null,
  forwardNoAnswer: null,
  ringTimeoutSeconds: 20,
});

export interface Shared {
  calls: string[];
  cdrs: NewCdr[];
  legs: Map<string, CallSession>;
  anchors: Map<string, CallSession>;
  rows: string[];
}

export function setup(o: { anchor?: string; callId?: string; caller?: [string, string]; dialed?: string; facts?: Partial<CallFacts>; lookup?: SessionDeps['lookupTarget']; shared?: Shared; route?: RoutedCall['route']; ivr?: IvrPort; acd?: AcdEngine; supervision?: SupervisionPort; store?: SessionDeps['store']; control?: Partial<CallControl>; recording?: SessionDeps['recording']; channelName?: string; surveys?: SessionDeps['surveys']; campaign?: SessionDeps['campaign']; agentOffered?: SessionDeps['agentOffered'] } = {}) {
  const shared: Shared = o.shared ?? { calls: [], cdrs: [], legs: new Map(), anchors: new Map(), rows: [] };
  const { calls, cdrs, legs, anchors, rows } = shared;
  const record =
    (name: string) =>
    async (...args: unknown[]): Promise<void> => {
      calls.push(`${name} ${args.map((a) => (typeof a === 'object' ? JSON.stringify(a) : String(a))).join(' ')}`);
    };
  // Every call recorded; one in `o.control` is recorded, then runs (a slow or failing answer, say).
  const control = new Proxy({} as CallControl, {
    get: (_t, name: string) => {
      const own = o.control?.[name as keyof CallControl] as ((...args: unknown[]) => Promise<unknown>) | undefined;
      return own ? (...args: unknown[]) => (void record(name)(...args), own(...args)) : record(name);
    },
  });
  let t = Date.parse('2026-01-01T10:00:00Z');
  let leg = 0;
  const deps: SessionDeps = {
    control,
    store: o.store ?? { insert: async (f) => void rows.push(f.callId), update: async () => undefined },
    writeCdr: (cdr) => cdrs.push(cdr),
    settings: { greeting: 'hello', digitTimeoutMs: 5000, maxDigits: 10 },
    log: pino({ level: 'silent' }),
    now: () => new Date(t),
    route: async () => ({ route: o.route ?? { kind: 'extension', number: o.dialed ?? '1002' }, caller: { callerClass: null, callerIdNumber: null }, direction: 'internal' }),
    // Extensions: 1002 may call national numbers, the others only internal ones. Outside numbers
    // (0...) are found only for a national caller context.
    lookupTarget: o.lookup ?? (async (n, ctx) =>
      n.startsWith('10')
        ? {
            ...target(n),
            forwardAlways: n === '1005' || n === '1006' ? '0301234567' : null,
            owner: { callerClass: n === '1002' || n === '1005' ? 'national' : 'internal', callerIdNumber: null },
          }
        : n.startsWith('0') && ctx.callerClass === 'national'
          ? { ...target(n), endpoint: `PJSIP/${n}@trunk-main` }
          : null),
    legs: {
      register: (id, s) => legs.set(id, s),
      release: (id) => legs.delete(id),
      reanchor: (from, to, s) => {
        anchors.delete(from);
        anchors.set(to, s);
      },
    },
    onEnded: (s) => anchors.delete(s.channelId),
    voicemail: { mailboxFor: async () => null } as unknown as SessionDeps['voicemail'],
    ivr: o.ivr ?? ({} as IvrPort),
    acd: o.acd ?? ({} as AcdEngine),
    supervision: o.supervision ?? ({} as SupervisionPort),
    ...(o.recording ? { recording: o.recording } : {}),
    ...(o.surveys ? { surveys: o.surveys } : {}),
    ...(o.campaign ? { campaign: o.campaign } : {}),
    ...(o.agentOffered ? { agentOffered: o.agentOffered } : {}),
  };
  const [callerNumber, callerName] = o.caller ?? ['1001', 'Anna Berg'];
  const anchor = o.anchor ?? 'chan-a';
  const session = new CallSession(
    anchor,
    o.channelName ?? `PJSIP/${callerNumber}-00000001`,
    { callId: o.callId ?? 'call-1', direction: 'inbound', callerNumber, callerName, dialedNumber: o.dialed ?? '1002', startedAt: new Date(t), answeredAt: null, digits: '', ...o.facts },
    deps,
  );
  anchors.set(anchor, session);
  const known = legs.size;
  const nextLeg = () => [...legs.keys()][known + leg++]!;
  return { session, calls, cdrs, legs, anchors, rows, advance: (ms: number) => (t += ms), nextLeg };
}

export async function connected(o: Parameters<typeof setup>[0] = {}) {
  const s = setup(o);
  await s.session.enqueue({ type: 'stasis-start' });
  const legB = s.nextLeg();
  s.advance(2000);
  await s.session.enqueue({ type: 'b-answered', legId: legB });
  s.advance(10_000);
  return { ...s, legB };
}

/** An ACD that lets the caller join one queue and, on `offer()`, offers agent 7001 at extension 2001 (15 s). */
export function fakeQueueAcd(): { acd: AcdEngine; offer: () => ReturnType<QueueCallPort['offer']> } {
  let port: QueueCallPort | null = null;
  const acd = {
    join: async (_call: unknown, p: QueueCallPort) => {
      port = p;
      return { kind: 'joined', queue: { callbackAfterSeconds: null }, offered: Promise.resolve(false) };
    },
    offerAnswered: async () => true,
    offerFailed: async () => undefined,
    callEnded: async () => undefined,
    callerLeft: async () => undefined,
  } as unknown as AcdEngine;
  return { acd, offer: () => port!.offer([{ id: 'a-1', number: '7001', extension: '2001' }], 15) };
}

/**
 * Recording deps for a session whose extension level says `policy` (site: on-demand): what it
 * asked Asterisk goes into `asked` ("start chan-a", "mute chan-a true", "stop chan-a"), the rows it
 * wrote into `rows` (inserts with their id, updates as {update: id, ...}).
 */
export function fakeRecordingDeps(policy: RecordingPolicy | null, asked: string[] = [], rows: Record<string, unknown>[] = []): RecordingDeps {
  return {
    recorder: {
      start: async (channel) => void asked.push(`start ${channel}`),
      mute: async (channel, on) => void asked.push(`mute ${channel} ${on}`),
      stop: async (channel) => void asked.push(`stop ${channel}`),
    },
    rows: {
      insert: async (id, row) => void rows.push({ id, ...row }),
      update: async (id, patch) => void rows.push({ update: id, ...patch }),
      remove: async () => undefined,
      runningOn: async () => undefined,
    },
    finisher: { finish: async () => undefined },
    hasRoom: async () => true,
    site: { policy: 'on-demand', recordQueueWait: true, mono: false, announcement: null },
    routeSources: async () => ({ extension: policy }),
    queue: async () => null,
    announcementMedia: async () => [],
  };
}
