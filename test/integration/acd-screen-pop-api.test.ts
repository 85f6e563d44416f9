/**
 * Screen pop on the handset, the API side, through the wired daemon against real Postgres: a
 * queue's callerIdTemplate and alertInfo (stored, shown, cleared with null, 400 naming the field
 * for a bad one, a PATCH of another field keeps them) and an agent's autoAnswer.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { randomUUID } from 'node:crypto';
import type { App } from '../../src/app.js';
import { AuthService, CLI_ACTOR } from '../../src/auth/service.js';
import { startTestApp } from '../support/app.js';

let app: App;
let admin: string;

type Method = 'GET' | 'POST' | 'PATCH' | 'DELETE';
const req = (method: Method, url: string, body?: unknown) =>
  app.http.inject({ method, url: `/api/v1${url}`, headers: { authorization: `Bearer ${admin}` }, ...(body === undefined ? {} : { payload: body as object }) });

const run = randomUUID().slice(0, 6);
const QUEUE = `it-pop-${run}`;
const AGENT = `78${Math.floor(Math.random() * 9000 + 1000)}`;

beforeAll(async () => {
  app = await startTestApp();
  admin = (await new AuthService(app.db).createToken(CLI_ACTOR, { username: 'it-pop-admin', name: 'it', ttlDays: 1, ensureRole: 'admin' })).token;
});

afterAll(async () => {
  await req('DELETE', `/queues/${QUEUE}`);
  await req('DELETE', `/agents/${AGENT}`);
  await app?.stop();
});

describe('screen pop settings', () => {
  it('a queue: template and Alert-Info stored and shown, kept by another PATCH, cleared with null', async () => {
    const created = await req('POST', '/queues', { name: QUEUE, callerIdTemplate: 'SALES:{caller} #{account}', alertInfo: '<http://127.0.0.1>;info=ring2' });
    expect(created.statusCode, created.body).toBe(201);
    expect(created.json()).toMatchObject({ callerIdTemplate: 'SALES:{caller} #{account}', alertInfo: '<http://127.0.0.1>;info=ring2' });
    expect((await req('PATCH', `/queues/${QUEUE}`, { wrapUpSeconds: 5 })).json()).toMatchObject({ callerIdTemplate: 'SALES:{caller} #{account}', alertInfo: '<http://127.0.0.1>;info=ring2' });
    const cleared = await req('PATCH', `/queues/${QUEUE}`, { callerIdTemplate: null, alertInfo: null });
    expect(cleared.json()).toMatchObject({ callerIdTemplate: null, alertInfo: null });
    expect((await req('GET', `/queues/${QUEUE}`)).json()).toMatchObject({ callerIdTemplate: null, alertInfo: null });
  });

  it.each([
    ['callerIdTemplate', 'SALES:'],
    ['callerIdTemplate', '{caller} {a} {b}'],
    ['callerIdTemplate', '"VIP" {caller}'],
    ['callerIdTemplate', 'x'.repeat(65)],
    ['alertInfo', 'info=ring2\r\nX-Evil: 1'],
    ['alertInfo', 'ring 2'],
  ])('a bad %s (%j) is 400 naming the field', async (field, value) => {
    const res = await req('PATCH', `/queues/${QUEUE}`, { [field]: value });
    expect(res.statusCode, res.body).toBe(400);
    expect(JSON.stringify(res.json())).toContain(`body.${field}`);
  });

  it("an agent's autoAnswer: false by default, set and cleared", async () => {
    const created = await req('POST', '/agents', { number: AGENT, name: 'Pop Agent', pin: '7391' });
    expect(created.statusCode, created.body).toBe(201);
    expect(created.json()).toMatchObject({ autoAnswer: false });
    expect((await req('PATCH', `/agents/${AGENT}`, { autoAnswer: true })).json()).toMatchObject({ autoAnswer: true });
    expect((await req('GET', `/agents/${AGENT}`)).json()).toMatchObject({ autoAnswer: true });
    expect((await req('PATCH', `/agents/${AGENT}`, { autoAnswer: 'yes' })).statusCode).toBe(400);
  });
});
