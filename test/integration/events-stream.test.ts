/**
 * The live event stream (src/events, docs/events.md) on the real server (real Postgres; Asterisk
 * is down): Server-Sent Events over a socket, the bearer token or a one-time ticket, 400/401/403,
 * an agent.state event from a supervisor's change through the API, resume with Last-Event-ID,
 * resync outside the window, a viewer's redaction, and one client that stops reading while 50
 * others keep up (the stalled one is dropped with the reason, the others get every event).
 */
import { request as httpRequest, type IncomingMessage } from 'node:http';
import { connect } from 'node:net';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { App } from '../../src/app.js';
import { AuthService, CLI_ACTOR } from '../../src/auth/service.js';
import { applyAgentEvent, findAgentByNumber } from '../../src/acd/call-repository.js';
import type { EventInput } from '../../src/events/model.js';
import { pino } from 'pino';
import { CdrWriter } from '../../src/calls/cdr-writer.js';
import { buildCdr } from '../../src/calls/cdr.js';
import { startTestApp } from '../support/app.js';
import { eventually, withTimeout } from '../support/wait.js';

interface Frame {
  readonly id: string | null;
  readonly event: string;
  readonly data: Record<string, unknown>;
}

let app: App;
let port: number;
const tokens: Record<'viewer' | 'supervisor' | 'admin', string> = { viewer: '', supervisor: '', admin: '' };
const AGENT = `84${String(Date.now() % 10_000).padStart(4, '0')}`;

/** One SSE connection: its status, and its frames as they arrive. */
class Stream {
  readonly frames: Frame[] = [];
  private buffer = '';
  private waiters: (() => void)[] = [];
  ended = false;

  constructor(readonly res: IncomingMessage) {
    res.setEncoding('utf8');
    res.on('data', (chunk: string) => {
      this.buffer += chunk;
      let cut: number;
      while ((cut = this.buffer.indexOf('\n\n')) >= 0) {
        const block = this.buffer.slice(0, cut);
        this.buffer = this.buffer.slice(cut + 2);
        const lines = block.split('\n').filter((l) => !l.startsWith(':'));
        if (!lines.length) continue;
        const field = (name: string) => lines.find((l) => l.startsWith(`${name}: `))?.slice(name.length + 2) ?? null;
        this.frames.push({ id: field('id'), event: field('event') ?? 'message', data: JSON.parse(field('data') ?? '{}') as Record<string, unknown> });
      }
      this.waiters.splice(0).forEach((w) => w());
    });
    res.on('end', () => {
      this.ended = true;
      this.waiters.splice(0).forEach((w) => w());
    });
  }

  /** The first frame (from `from` on) that matches. */
  async next(match: (f: Frame) => boolean, from = 0, ms = 10_000): Promise<Frame> {
    const deadline = Date.now() + ms;
    for (;;) {
      const found = this.frames.slice(from).find(match);
      if (found) return found;
      if (this.ended || Date.now() > deadline) throw new Error(`no matching frame; got ${JSON.stringify(this.frames.slice(-3))}`);
      await withTimeout(new Promise<void>((r) => this.waiters.push(r)), deadline - Date.now(), 'frame').catch(() => undefined);
    }
  }

  close(): void {
    this.res.destroy();
  }
}

/** A client that keeps up, cheaply: the ids of the queue.joined frames it got, and the last callId. */
class Counter {
  readonly ids: number[] = [];
  lastCallId = '';
  private tail = '';
  constructor(readonly res: IncomingMessage) {
    res.setEncoding('utf8');
    res.on('data', (chunk: string) => {
      const text = this.tail + chunk;
      const cut = text.lastIndexOf('\n\n');
      this.tail = text.slice(cut + 2);
      for (const m of text.slice(0, cut).matchAll(/^id: (\d+)\nevent: queue\.joined\ndata: \{"type":"queue\.joined","callId":"([^"]+)"/gm)) {
        this.ids.push(Number(m[1]));
        this.lastCallId = m[2]!;
      }
    });
  }
}

function open(path: string, headers: Record<string, string> = {}): Promise<{ status: number; stream: Stream; body: () => Promise<string> }> {
  return new Promise((resolve, reject) => {
    const req = httpRequest({ host: '127.0.0.1', port, path: `/api/v1${path}`, headers }, (res) => {
      if (res.statusCode !== 200) {
        let text = '';
        res.setEncoding('utf8');
        res.on('data', (c: string) => (text += c));
        const done = new Promise<string>((r) => res.on('end', () => r(text)));
        resolve({ status: res.statusCode ?? 0, stream: new Stream(res), body: () => done });
        return;
      }
      resolve({ status: 200, stream: new Stream(res), body: async () => '' });
    });
    req.on('error', reject);
    req.end();
  });
}

const bearer = (role: keyof typeof tokens) => ({ authorization: `Bearer ${tokens[role]}` });

async function connected(path: string, headers: Record<string, string>): Promise<Stream> {
  const { status, stream, body } = await open(path, headers);
  if (status !== 200) throw new Error(`stream answered ${status}: ${await body()}`);
  return stream;
}

const api = (method: 'GET' | 'POST', url: string, role: keyof typeof tokens, payload?: object) =>
  app.http.inject({ method, url: `/api/v1${url}`, headers: bearer(role), ...(payload ? { payload } : {}) });

const joined = (n: number, callerNumber = '+4930555000'): EventInput => ({
  type: 'queue.joined', callId: `it-events-${n}`, queue: 'it-events-q', callerNumber, callerName: 'Ada', priority: 0,
});

beforeAll(async () => {
  app = await startTestApp();
  port = (app.http.server.address() as AddressInfo).port;
  const auth = new AuthService(app.db);
  for (const role of ['viewer', 'supervisor', 'admin'] as const) {
    tokens[role] = (await auth.createToken(CLI_ACTOR, { username: `it-events-${role}`, name: 'events test', ttlDays: 1, ensureRole: role })).token;
  }
  const created = await api('POST', '/agents', 'admin', { number: AGENT, name: 'Stream Agent', pin: '4826' });
  expect(created.statusCode, created.body).toBe(201);
  const agent = await findAgentByNumber(app.db, AGENT);
  expect((await applyAgentEvent(app.db, agent!.id, { type: 'login' }))?.ok).toBe(true);
});

afterAll(async () => {
  await app?.stop();
});

describe('authentication and bad input', () => {
  it('no token, a bad token or a bad ticket: 401; a viewer asking for caller events: 403; an unknown type: 400', async () => {
    const none = await open('/events');
    expect(none.status).toBe(401);
    expect(JSON.parse(await none.body()).error.code).toBe('unauthorized');
    const bad = await open('/events', { authorization: 'Bearer pbx_not-a-token' });
    expect(bad.status).toBe(401);
    expect(JSON.parse(await bad.body()).error.code).toBe('token-invalid');
    const ticket = await open('/events?ticket=evt_made-up');
    expect(ticket.status).toBe(401);
    expect(JSON.parse(await ticket.body()).error.code).toBe('token-invalid');

    const viewer = await open('/events?types=agent.offered', bearer('viewer'));
    expect(viewer.status).toBe(403);
    expect(JSON.parse(await viewer.body()).error).toMatchObject({ code: 'forbidden', details: { type: 'agent.offered', need: 'supervisor' } });
    const unknown = await open('/events?types=agent.state,call.sneezed', bearer('admin'));
    expect(unknown.status).toBe(400);
    expect(JSON.parse(await unknown.body()).error).toMatchObject({ code: 'validation-failed', details: { field: 'querystring.types' } });
    const param = await open('/events?colour=red', bearer('admin'));
    expect(param.status).toBe(400);
    const lastId = await open('/events', { ...bearer('admin'), 'last-event-id': 'yesterday' });
    expect(lastId.status).toBe(400);
    expect(JSON.parse(await lastId.body()).error.details.field).toBe('headers.last-event-id');
  });
});

describe('agent state, resume and resync', () => {
  it("a supervisor's change through the API arrives as agent.state; a reconnect with Last-Event-ID gets what it missed", async () => {
    const stream = await connected(`/events?types=agent.state&agent=${AGENT}`, bearer('supervisor'));
    const reasons = await api('GET', '/pause-reasons', 'supervisor');
    const code = (reasons.json().items as { code: number }[]).find((r) => r.code >= 1)!.code;

    const paused = await api('POST', `/agents/${AGENT}/state`, 'supervisor', { state: 'paused', pauseCode: code });
    expect(paused.statusCode, paused.body).toBe(200);
    const first = await stream.next((f) => f.event === 'agent.state' && f.data['state'] === 'paused');
    expect(first.data).toMatchObject({ type: 'agent.state', agent: AGENT, from: 'ready', cause: 'force', pause: { code } });
    expect(Number(first.id)).toBe(first.data['id']);
    stream.close();

    // Missed while disconnected:
    expect((await api('POST', `/agents/${AGENT}/state`, 'supervisor', { state: 'ready' })).statusCode).toBe(200);
    const resumed = await connected(`/events?types=agent.state&agent=${AGENT}`, { ...bearer('supervisor'), 'last-event-id': String(first.id) });
    const missed = await resumed.next((f) => f.event === 'agent.state');
    expect(missed.data).toMatchObject({ agent: AGENT, state: 'ready', from: 'paused' });
    expect(Number(missed.id)).toBeGreaterThan(Number(first.id));
    resumed.close();

    // A new EventSource resumes with ?lastEventId= (it cannot send the header).
    const again = await connected(`/events?types=agent.state&agent=${AGENT}&lastEventId=${first.id}`, bearer('supervisor'));
    expect((await again.next((f) => f.event === 'agent.state')).id).toBe(missed.id);
    again.close();
  });

  it('an id older than the window (10,000 events) or from another run gets a resync first, then live events', async () => {
    const probe = await connected('/events?types=queue.joined', bearer('admin'));
    app.events.bus.publish(joined(0));
    const oldest = await probe.next((f) => f.data['callId'] === 'it-events-0');
    // 10,001 more: the window keeps 10,000, so the one after `oldest` has left it too.
    for (let n = 1; n <= 10_001; n++) app.events.bus.publish(joined(n));
    await probe.next((f) => f.data['callId'] === 'it-events-10001', 0, 30_000);
    probe.close();

    const late = await connected('/events?types=queue.joined', { ...bearer('admin'), 'last-event-id': String(oldest.id) });
    const resync = await late.next(() => true);
    expect(resync).toMatchObject({ id: null, event: 'resync', data: { type: 'resync', reason: 'too-old' } });
    expect(resync.data['oldestId']).toBeGreaterThan(Number(oldest.id) + 1);
    app.events.bus.publish(joined(10_002));
    expect((await late.next((f) => f.event === 'queue.joined')).data['callId']).toBe('it-events-10002');
    late.close();

    const beforeRestart = await connected('/events', { ...bearer('admin'), 'last-event-id': '5' });
    expect((await beforeRestart.next(() => true)).data).toMatchObject({ type: 'resync', reason: 'too-old' });
    beforeRestart.close();
  });
});

describe('call.ended', () => {
  it("the CDR writer tells the new CDR's id once it is written, and nothing for a CDR written before", async () => {
    const told: [string, string][] = [];
    const writer = new CdrWriter(app.db, { baseMs: 50, maxMs: 200 }, pino({ level: 'silent' }), (cdr, id) => void told.push([cdr.call_id, id]));
    const startedAt = new Date();
    const callId = `it-events-cdr-${Date.now()}`;
    const cdr = buildCdr(
      { callId, direction: 'inbound', callerNumber: '+4930555333', callerName: null, dialedNumber: '4930555399', startedAt, answeredAt: startedAt, digits: '' },
      { endedAt: new Date(startedAt.getTime() + 2000), cause: 16, causeText: null, endedBy: 'caller', reconciled: false },
    );
    writer.write(cdr);
    expect(await writer.flush(10_000)).toBe(true);
    writer.write(cdr);
    expect(await writer.flush(10_000)).toBe(true);
    writer.stop();
    const row = await app.db.selectFrom('cdrs').select('id').where('call_id', '=', callId).executeTakeFirstOrThrow();
    expect(told).toEqual([[callId, String(row.id)]]);
  });
});

describe('roles', () => {
  it('a viewer connects with a one-time ticket, gets queue events without the caller and no screen pops; a supervisor gets both', async () => {
    const issued = await api('POST', '/events/tickets', 'viewer');
    expect(issued.statusCode, issued.body).toBe(200);
    const { ticket } = issued.json() as { ticket: string };
    const viewer = await connected(`/events?ticket=${ticket}`, {});
    expect((await open(`/events?ticket=${ticket}`)).status).toBe(401); // once only
    const supervisor = await connected('/events?queue=it-events-q', bearer('supervisor'));

    app.events.bus.publish({ type: 'agent.offered', callId: 'it-events-pop', queue: 'it-events-q', agent: AGENT, extension: '2001', callerNumber: '+4930555111', callerName: 'Bea', variables: { account: '1234' } });
    app.events.bus.publish(joined(20_000, '+4930555222'));

    const pop = await supervisor.next((f) => f.event === 'agent.offered');
    expect(pop.data).toMatchObject({ callerNumber: '+4930555111', variables: { account: '1234' } });
    expect((await supervisor.next((f) => f.event === 'queue.joined')).data).toMatchObject({ callerNumber: '+4930555222', callerName: 'Ada' });
    const seen = await viewer.next((f) => f.event === 'queue.joined' && f.data['callId'] === 'it-events-20000');
    expect(seen.data).toMatchObject({ callerNumber: null, callerName: null, queue: 'it-events-q' });
    expect(viewer.frames.some((f) => f.event === 'agent.offered')).toBe(false);
    viewer.close();
    supervisor.close();
  });
});

describe('a slow consumer', () => {
  const CLIENTS = 50;
  const BATCH = 500;

  /** Publish in batches (a turn of the event loop between them) until `done`; per-event publish times in µs. */
  async function publishUntil(done: () => boolean, max: number): Promise<{ published: number; lastCallId: string; micros: number[] }> {
    const micros: number[] = [];
    let n = 0;
    while (!done() && n < max) {
      const start = process.hrtime.bigint();
      for (let i = 0; i < BATCH; i++) app.events.bus.publish(joined(100_000 + n++));
      micros.push(Number(process.hrtime.bigint() - start) / 1000 / BATCH);
      await new Promise((r) => setImmediate(r));
    }
    return { published: n, lastCallId: `it-events-${100_000 + n - 1}`, micros };
  }
  const pct = (xs: number[], p: number) => [...xs].sort((a, b) => a - b)[Math.min(xs.length - 1, Math.floor(xs.length * p))]!;

  it('one client that stops reading is dropped with the reason; 50 others get every event; publishing never waits', async () => {
    const others = (await Promise.all(Array.from({ length: CLIENTS }, () => connected('/events?types=queue.joined', bearer('admin'))))).map((s) => {
      s.res.removeAllListeners('data');
      return new Counter(s.res);
    });
    const dropsBefore = app.events.stats.closed['slow-consumer'] ?? 0;

    // The stalled client: a raw socket that sends its request and then reads nothing.
    const stalled = connect(port, '127.0.0.1');
    await new Promise<void>((r) => stalled.once('connect', () => r()));
    stalled.write(`GET /api/v1/events?types=queue.joined HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer ${tokens.admin}\r\n\r\n`);
    await eventually(async () => (app.events.stats.clients >= CLIENTS + 1 ? true : undefined), 10_000, 'stalled client connected', 20);
    stalled.pause();

    const run = await publishUntil(() => (app.events.stats.closed['slow-consumer'] ?? 0) > dropsBefore, 1_000_000);
    expect(app.events.stats.closed['slow-consumer']).toBe(dropsBefore + 1);

    // The others keep up: every event, in order, through the last one.
    await eventually(async () => (others.every((s) => s.lastCallId === run.lastCallId) ? true : undefined), 60_000, 'every client got the last event', 50);
    for (const s of others) {
      expect(s.ids.length).toBe(run.published);
      expect(s.ids.every((id, k) => k === 0 || id === s.ids[k - 1]! + 1)).toBe(true);
    }

    // The stalled client, reading again (within the grace before it is cut), finds the reason at the end.
    let text = '';
    stalled.setEncoding('utf8');
    stalled.on('data', (c: string) => (text += c));
    stalled.resume();
    await withTimeout(new Promise<void>((r) => stalled.once('close', () => r())), 20_000, 'stalled connection closed');
    const last = text.slice(text.lastIndexOf('event: close'));
    expect(last).toMatch(/^event: close\ndata: \{"type":"close","reason":"slow-consumer",/);
    expect(last).not.toContain('id: ');

    // With the stalled client gone, the same publishing again: the figures for docs/events.md.
    const calm = await publishUntil(() => false, run.published);
    await eventually(async () => (others.every((s) => s.lastCallId === calm.lastCallId) ? true : undefined), 60_000, 'every client got the last event', 50);
    console.log(
      `slow consumer: ${CLIENTS} clients + 1 stalled, dropped after ${run.published} events; publish per event (µs, per ${BATCH}-event batch) ` +
        `with the stalled client p50 ${pct(run.micros, 0.5).toFixed(1)} p99 ${pct(run.micros, 0.99).toFixed(1)} max ${Math.max(...run.micros).toFixed(1)}; ` +
        `without p50 ${pct(calm.micros, 0.5).toFixed(1)} p99 ${pct(calm.micros, 0.99).toFixed(1)} max ${Math.max(...calm.micros).toFixed(1)}`,
    );
    for (const s of others) s.res.destroy();
  }, 180_000);
});

describe('shutdown', () => {
  it('stopping the daemon ends every stream with reason shutdown (the server does not wait for them)', async () => {
    const stream = await connected('/events', bearer('admin'));
    await withTimeout(app.stop(), 15_000, 'app.stop with a stream open');
    const last = await stream.next((f) => f.event === 'close');
    expect(last.data).toMatchObject({ type: 'close', reason: 'shutdown' });
  });
});
