/**
 * /staffing (docs/staffing.md), real app and Postgres: the Erlang calculator's answers and its 400s
 * naming the field; the forecast from queue_events rows inserted here (a queue of this file's own,
 * a day when clocks went back in Europe/Berlin among the history days) checked against figures
 * computed by hand; and docs/staffing.md's "Example" block run as it stands with the README's
 * `api` helper against this daemon.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { spawn } from 'node:child_process';
import { readFile } from 'node:fs/promises';
import type { AddressInfo } from 'node:net';
import path from 'node:path';
import type { App } from '../../src/app.js';
import { AuthService, CLI_ACTOR } from '../../src/auth/service.js';
import { evaluate } from '../../src/staffing/erlang.js';
import { shellBlocks } from '../support/doc-blocks.js';
import { startTestApp } from '../support/app.js';

const REPO = path.resolve(import.meta.dirname, '../..');
let app: App;
let viewer = '';
let supervisor = '';
const post = (url: string, body: unknown, token = viewer) =>
  app.http.inject({ method: 'POST', url: `/api/v1/staffing${url}`, headers: { authorization: `Bearer ${token}` }, payload: body as object });

beforeAll(async () => {
  app = await startTestApp();
  const auth = new AuthService(app.db);
  viewer = (await auth.createToken(CLI_ACTOR, { username: 'it-staffing-viewer', name: 'staffing test', ttlDays: 1, ensureRole: 'viewer' })).token;
  supervisor = (await auth.createToken(CLI_ACTOR, { username: 'it-staffing-sup', name: 'staffing test', ttlDays: 1, ensureRole: 'supervisor' })).token;
});

afterAll(async () => {
  await app?.stop();
});

const classic = { callsPerInterval: 100, intervalMinutes: 30, ahtSeconds: 180, targetAnswerSeconds: 20, targetServiceLevel: 0.8 };

describe('POST /staffing/erlang', () => {
  it('a viewer gets the fewest agents: 100 calls / 30 min, AHT 180 s, 80/20 -> 14 agents, 20 with 30 % shrinkage', async () => {
    const res = await post('/erlang', { ...classic, shrinkage: 0.3 });
    expect(res.statusCode, res.body).toBe(200);
    const body = res.json();
    expect(body).toMatchObject({ model: 'erlang-c', offeredLoadErlangs: 10, agents: 14, agentsWithShrinkage: 20, abandonRate: null, meetsTargets: true, unmetTarget: null });
    expect(body.serviceLevel).toBeCloseTo(0.88835, 5);
    expect(body.probabilityWait).toBeCloseTo(0.17413, 5);
    expect(body.asaSeconds).toBeCloseTo(7.8359, 4);
    expect(body.occupancy).toBeCloseTo(10 / 14, 12);
  });

  it('evaluates given agents (Erlang A with patience) and says which target they miss', async () => {
    const res = await post('/erlang', { ...classic, patienceSeconds: 120, agents: 11 });
    expect(res.statusCode, res.body).toBe(200);
    const want = evaluate({ callsPerSecond: 100 / 1800, ahtSeconds: 180, patienceSeconds: 120 }, 11, 20);
    expect(res.json()).toMatchObject({ model: 'erlang-a', agents: 11, agentsWithShrinkage: 11, meetsTargets: want.serviceLevel >= 0.8, abandonRate: want.abandonRate });
    const few = await post('/erlang', { ...classic, agents: 10 });
    expect(few.json()).toMatchObject({ agents: 10, serviceLevel: 0, probabilityWait: 1, asaSeconds: null, meetsTargets: false, unmetTarget: 'body.targetServiceLevel' });
  });

  it('500 Erlangs: a finite answer between the load and 600 agents', async () => {
    const res = await post('/erlang', { callsPerInterval: 5000, intervalMinutes: 30, ahtSeconds: 180, targetAnswerSeconds: 20, targetServiceLevel: 0.8, patienceSeconds: 300 });
    expect(res.statusCode, res.body).toBe(200);
    expect(res.json().offeredLoadErlangs).toBe(500);
    expect(res.json().agents).toBeGreaterThan(400);
    expect(res.json().agents).toBeLessThan(600);
  });

  it('impossible inputs are 400 validation-failed naming the field', async () => {
    const cases: [Record<string, unknown>, string][] = [
      [{ ...classic, ahtSeconds: 0 }, 'body.ahtSeconds'],
      [{ ...classic, targetServiceLevel: 1.5 }, 'body.targetServiceLevel'],
      [{ ...classic, callsPerInterval: -1 }, 'body.callsPerInterval'],
      [{ ...classic, shrinkage: 1 }, 'body.shrinkage'],
      [{ ...classic, maxOccupancy: 0 }, 'body.maxOccupancy'],
      [{ ...classic, patienceSeconds: 0 }, 'body.patienceSeconds'],
      [{ ...classic, targetAnswerSeconds: undefined }, 'body.targetAnswerSeconds'],
      [{ callsPerInterval: 100, intervalMinutes: 30, ahtSeconds: 180 }, 'body.targetServiceLevel'],
      [{ ...classic, callsPerInterval: 1_000_000, intervalMinutes: 1, ahtSeconds: 60 }, 'body.callsPerInterval'], // 1 000 000 E
      [{ ...classic, callsPerInterval: 100_000, intervalMinutes: 60, ahtSeconds: 300, patienceSeconds: 86_400 }, 'body.patienceSeconds'],
    ];
    for (const [body, field] of cases) {
      const res = await post('/erlang', body);
      expect(res.statusCode, `${field}: ${res.body}`).toBe(400);
      expect(res.json().error.code).toBe('validation-failed');
      expect(res.json().error.details.field ?? res.json().error.details.problems[0].field, res.body).toBe(field);
    }
  });
});

describe('POST /staffing/forecast', () => {
  let queueId = '';
  const zone = 'Europe/Berlin';
  beforeAll(async () => {
    const q = await app.http.inject({ method: 'POST', url: '/api/v1/queues', headers: { authorization: `Bearer ${supervisor}` }, payload: { name: 'it-staffing-forecast' } });
    expect(q.statusCode, q.body).toBe(201);
    queueId = q.json().id;
    // Sunday 2030-11-03 from Sundays 2030-10-27 (clocks back at 03:00 CEST -> 02:00 CET) and 2030-10-20.
    const rows: { at: string; type: 'join' | 'end'; talk?: number; hold?: number; wrap?: number; queue?: string }[] = [];
    const joins = (at: string, n: number, queue?: string) => { for (let i = 0; i < n; i++) rows.push({ at, type: 'join', ...(queue ? { queue } : {}) }); };
    joins('2030-10-27T00:10:00Z', 6); // 02:10 CEST, the first 02:00-02:30
    joins('2030-10-27T01:10:00Z', 4); // 02:10 CET, the second
    joins('2030-10-20T00:10:00Z', 2); // 02:10 CEST
    joins('2030-10-27T08:10:00Z', 30); // 09:10 CET
    rows.push({ at: '2030-10-27T08:20:00Z', type: 'end', talk: 150_000, hold: 20_000, wrap: 30_000 }); // 200 s
    rows.push({ at: '2030-10-27T08:21:00Z', type: 'end', talk: 250_000 }); // 250 s, hold and wrap-up null
    rows.push({ at: '2030-10-27T08:22:00Z', type: 'end', talk: 100_000, hold: 0, wrap: 50_000 }); // 150 s
    joins('2030-10-20T07:10:00Z', 15); // 09:10 CEST
    rows.push({ at: '2030-10-20T07:20:00Z', type: 'end', talk: 120_000 });
    rows.push({ at: '2030-10-20T07:25:00Z', type: 'end', talk: 150_000, wrap: 30_000 });
    // Not counted: another weekday, a week beyond `weeks`, another queue.
    joins('2030-10-28T08:10:00Z', 50);
    joins('2030-10-13T07:10:00Z', 50);
    joins('2030-10-27T08:10:00Z', 50, '999999001');
    await app.db
      .insertInto('queue_events')
      .values(rows.map((r, i) => ({
        at: new Date(r.at), queue_id: r.queue ?? queueId, call_id: `it-staffing-${i}`, type: r.type,
        agent_id: null, caller_number: null, wait_ms: null, talk_ms: r.talk ?? null, hold_ms: r.hold ?? null, wrap_up_ms: r.wrap ?? null,
      })))
      .execute();
  });

  const forecast = (body: Record<string, unknown>) =>
    post('/forecast', { queue: 'it-staffing-forecast', date: '2030-11-03', weeks: 2, timezone: zone, targetAnswerSeconds: 20, targetServiceLevel: 0.8, ...body });

  it('calls and AHT per interval are the weighted averages computed by hand, each interval staffed', async () => {
    const res = await forecast({ shrinkage: 0.25 });
    expect(res.statusCode, res.body).toBe(200);
    const f = res.json();
    expect(f).toMatchObject({ date: '2030-11-03', queue: 'it-staffing-forecast', timezone: zone, model: 'erlang-c', historyDates: ['2030-10-27', '2030-10-20'], weights: [2, 1] });
    expect(f.intervals).toHaveLength(48); // 2030-11-03 is a plain day
    const at = (t: string) => f.intervals.find((i: { localTime: string }) => i.localTime === t);
    // 09:00: (2 x 30 + 1 x 15) / 3 = 25 calls; AHT (2 x 600 s + 1 x 300 s) / (2 x 3 + 1 x 2) = 187.5 s.
    const nine = at('09:00');
    expect(nine).toMatchObject({ start: '2030-11-03T08:00:00.000Z', end: '2030-11-03T08:30:00.000Z', historyWeeks: 2 });
    expect(nine.calls).toBeCloseTo(25, 12);
    expect(nine.ahtSeconds).toBeCloseTo(187.5, 12);
    expect(nine.offeredLoadErlangs).toBeCloseTo((25 * 187.5) / 1800, 12);
    // Erlang C by its textbook sum at A = 25 x 187.5 / 1800: 4 agents miss 80/20, 5 meet it.
    const A = (25 * 187.5) / 1800;
    const sl = (n: number) => {
      let sum = 0;
      let term = 1;
      for (let k = 0; k < n; k++) { sum += term; term *= A / (k + 1); }
      const top = (term * n) / (n - A);
      return 1 - (top / (sum + top)) * Math.exp((-(n - A) * 20) / 187.5);
    };
    expect(sl(4)).toBeLessThan(0.8);
    expect(sl(5)).toBeGreaterThanOrEqual(0.8);
    expect(nine).toMatchObject({ agents: 5, agentsWithShrinkage: 7 }); // ceil(5 / 0.75)
    expect(nine.serviceLevel).toBeCloseTo(sl(5), 12);
    // 02:00: on 2030-10-27 it happened twice, 10 calls = 5 per real interval; (2 x 5 + 1 x 2) / 3 = 4.
    // No call ended in it: the whole history's AHT, the same 187.5 s.
    const two = at('02:00');
    expect(two.calls).toBeCloseTo(4, 12);
    expect(two.ahtSeconds).toBeCloseTo(187.5, 12);
    expect(at('12:00')).toMatchObject({ calls: 0, agents: 0, agentsWithShrinkage: 0 });
  });

  it('a forecast for the day clocks went back has its 25 hours: 50 half hours, 02:00 twice', async () => {
    const res = await forecast({ date: '2030-10-27', weeks: 1 });
    expect(res.statusCode, res.body).toBe(200);
    expect(res.json().intervals).toHaveLength(50);
    expect(res.json().intervals.filter((i: { localTime: string }) => i.localTime === '02:00')).toHaveLength(2);
  });

  it('Erlang A and the AHT given; 404 for an unknown queue; 400 naming a bad time zone or date', async () => {
    const a = await forecast({ patienceSeconds: 90, ahtSeconds: 240 });
    expect(a.statusCode, a.body).toBe(200);
    expect(a.json().model).toBe('erlang-a');
    expect(a.json().intervals.find((i: { localTime: string }) => i.localTime === '09:00')).toMatchObject({ ahtSeconds: 240 });
    const unknown = await forecast({ queue: 'it-staffing-no-such-queue' });
    expect(unknown.statusCode).toBe(404);
    expect(unknown.json().error.code).toBe('queue-not-found');
    for (const [body, field] of [[{ timezone: 'Mars/Olympus' }, 'body.timezone'], [{ date: '2030-13-01' }, 'body.date'], [{ weeks: 0 }, 'body.weeks']] as const) {
      const res = await forecast(body);
      expect(res.statusCode, res.body).toBe(400);
      expect(res.json().error.details.field ?? res.json().error.details.problems[0].field).toBe(field);
    }
  });
});

/** Run `script` with bash; its exit code, stdout and stderr. */
function bash(script: string, env: Record<string, string>): Promise<{ code: number | null; out: string; err: string }> {
  return new Promise((resolve) => {
    const proc = spawn('bash', ['-c', script], { cwd: REPO, env, stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    let err = '';
    proc.stdout.on('data', (c: Buffer) => (out += c.toString()));
    proc.stderr.on('data', (c: Buffer) => (err += c.toString()));
    proc.once('exit', (code) => resolve({ code, out, err }));
  });
}

describe("docs/staffing.md's example", () => {
  it('runs as written with the README api helper and answers what the page says', async () => {
    const readme = await readFile(path.join(REPO, 'README.md'), 'utf8');
    const helper = /^api\(\) \{[\s\S]*?\}\n/m.exec(shellBlocks(readme, 'First steps')[0]!.code);
    expect(helper, "README's api() helper").not.toBeNull();
    const blocks = shellBlocks(await readFile(path.join(REPO, 'docs/staffing.md'), 'utf8'), 'Example');
    expect(blocks).toHaveLength(1);
    const port = (app.http.server.address() as AddressInfo).port;
    const res = await bash(['set -eo pipefail', helper![0], blocks[0]!.code].join('\n'), { PATH: process.env['PATH'] ?? '', TOKEN: viewer, PBX_HTTP_PORT: String(port) });
    expect(res.code, res.err + res.out).toBe(0);
    const [first, second, third] = res.out.trim().split('\n').map((l) => JSON.parse(l));
    expect(first).toMatchObject({ model: 'erlang-c', offeredLoadErlangs: 10, agents: 14, agentsWithShrinkage: 20, abandonRate: null });
    expect(first.probabilityWait.toFixed(3)).toBe('0.174');
    expect(first.serviceLevel.toFixed(3)).toBe('0.888');
    expect(second).toMatchObject({ model: 'erlang-a', agents: 12 });
    expect(third.intervals).toHaveLength(48);
  });
});
