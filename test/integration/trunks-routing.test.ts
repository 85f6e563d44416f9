/**
 * Outbound routes, inbound routes and emergency numbers against a real Postgres, and the loaders
 * the call core uses (loadOutboundRoutes -> planOutbound -> trunkDialTarget, loadInboundRules ->
 * resolveInbound). Mounted like trunks-api.test.ts, under /it-routing/api/v1.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { sql } from 'kysely';
import { createApp, type App } from '../../src/app.js';
import { createLogger } from '../../src/logger.js';
import { AuthService, CLI_ACTOR } from '../../src/auth/service.js';
import { trunkRoutes } from '../../src/trunks/routes.js';
import { TrunkService } from '../../src/trunks/service.js';
import { RouteService } from '../../src/trunks/route-service.js';
import { Registrar } from '../../src/trunks/registrar.js';
import {
  inboundRoutesUsingExtension, loadEmergencyNumbers, loadInboundRules, loadOutboundRoutes, loadTrunk, trunkDialTarget,
} from '../../src/trunks/repository.js';
import { planOutbound } from '../../src/routing/outbound.js';
import { resolveInbound } from '../../src/routing/inbound.js';
import { testConfig } from '../support/app.js';

let app: App;
let admin: string;
let viewer: string;
const BASE = '/it-routing/api/v1';
const req = (method: 'GET' | 'POST' | 'PATCH' | 'PUT' | 'DELETE', url: string, body?: unknown, token = admin) =>
  app.http.inject({ method, url: BASE + url, headers: { authorization: `Bearer ${token}` }, ...(body === undefined ? {} : { payload: body as object }) });
const fieldsOf = (res: { json(): { error: { details?: { problems?: { field: string }[] } } } }) =>
  (res.json().error.details?.problems ?? []).map((p) => p.field);

let main: { id: string };
let backup: { id: string };
// Extension numbers of this file only (the extensions table is shared with other test files).
const EXT_A = '7701';
const EXT_B = '7702';

beforeAll(async () => {
  const config = testConfig();
  app = await createApp(config, createLogger(config.log.level));
  const trunks = new TrunkService(app.db, new Registrar(null, createLogger('silent')));
  await app.http.register(async (api) => api.register(trunkRoutes({ db: app.db, auth: new AuthService(app.db), trunks, routing: new RouteService(app.db) })), { prefix: BASE });
  await app.start();
  const auth = new AuthService(app.db);
  admin = (await auth.createToken(CLI_ACTOR, { username: 'it-routing-admin', name: 'it', ttlDays: 1, ensureRole: 'admin' })).token;
  viewer = (await auth.createToken(CLI_ACTOR, { username: 'it-routing-viewer', name: 'it', ttlDays: 1, ensureRole: 'viewer' })).token;
  main = (await req('POST', '/trunks', { name: 'rt-main', kind: 'ip', host: '192.0.2.10' })).json();
  backup = (await req('POST', '/trunks', { name: 'rt-backup', kind: 'ip', host: '192.0.2.11', enabled: false })).json();
  for (const n of [EXT_A, EXT_B]) await sql`insert into extensions (number, display_name) values (${n}, ${`IT ${n}`})`.execute(app.db);
});

afterAll(async () => {
  if (app) {
    await sql`delete from inbound_routes where target_extension in (${EXT_A}, ${EXT_B})`.execute(app.db);
    await sql`delete from extensions where number in (${EXT_A}, ${EXT_B})`.execute(app.db);
    await app.stop();
  }
});

describe('outbound routes', () => {
  it.each([
    ['_9.1', 'wildcard-not-last', /must be the last character/],
    ['_9[12', 'unclosed-class', /never closed/],
    ['_[]9', 'empty-class', /empty/],
    ['_[9-1]', 'bad-range', /range/],
    ['9X1', 'bad-char', /start with '_'/],
    ['_9;Dial', 'bad-char', /not allowed/],
  ])('a pattern that does not compile (%s) is 400 naming body.pattern', async (pattern, code, message) => {
    const res = await req('POST', '/outbound-routes', { name: `bad-${pattern}`, pattern, trunkId: main.id });
    expect(res.statusCode).toBe(400);
    const err = res.json().error;
    expect(err).toMatchObject({ code: 'validation-failed', details: { field: 'body.pattern', pattern: { code } } });
    expect(err.message).toMatch(/^body\.pattern: /);
    expect(err.message).toMatch(message);
    expect(fieldsOf(res)).toEqual(['body.pattern']);
  });

  it('a route to an unknown trunk is 400 naming body.trunkId', async () => {
    const res = await req('POST', '/outbound-routes', { name: 'nowhere', pattern: '_X.', trunkId: '999999' });
    expect(res.statusCode).toBe(400);
    expect(res.json().error.message).toBe('body.trunkId: trunk 999999 does not exist');
    expect(fieldsOf(res)).toEqual(['body.trunkId']);
    expect(fieldsOf(await req('POST', '/outbound-routes', { name: 'nowhere', pattern: '_X.', trunkId: 'abc' }))).toContain('body.trunkId');
  });

  it.each([
    [{ strip: 33 }, 'body.strip'],
    [{ prepend: '+49;' }, 'body.prepend'],
    [{ requiredClass: 'internal' }, 'body.requiredClass'],
    [{ priority: -1 }, 'body.priority'],
    [{ color: 'red' }, 'body.color'],
  ])('POST %j -> 400 naming %s', async (change, field) => {
    const res = await req('POST', '/outbound-routes', { name: 'badfield', pattern: '_X.', trunkId: main.id, ...change });
    expect(res.statusCode).toBe(400);
    expect(fieldsOf(res)).toContain(field);
  });

  it('refuses a strip that leaves nothing to dial on a fixed-length pattern', async () => {
    const res = await req('POST', '/outbound-routes', { name: 'allgone', pattern: '_11X', strip: 3, trunkId: main.id });
    expect(fieldsOf(res)).toEqual(['body.strip']);
    expect((await req('POST', '/outbound-routes', { name: 'allgone', pattern: '_11X', strip: 3, prepend: '0', trunkId: main.id })).statusCode).toBe(201);
  });

  it('CRUD, ordering, duplicate names, audit, and the call core path to a dial string', async () => {
    const national = await req('POST', '/outbound-routes', { name: 'national', pattern: '_0Z.', strip: 1, prepend: '+49', trunkId: main.id, priority: 10 });
    expect(national.statusCode).toBe(201);
    expect(national.json()).toMatchObject({ name: 'national', pattern: '_0Z.', strip: 1, prepend: '+49', trunkId: main.id, trunkName: 'rt-main', priority: 10, requiredClass: 'national' });
    const intl = (await req('POST', '/outbound-routes', { name: 'international', pattern: '_00.', strip: 2, prepend: '+', trunkId: main.id, priority: 5, requiredClass: 'international' })).json();
    const viaBackup = (await req('POST', '/outbound-routes', { name: 'via-backup', pattern: '_X.', trunkId: backup.id, priority: 1 })).json();
    const emergency = (await req('POST', '/outbound-routes', { name: 'emergency', pattern: '_11X', trunkId: main.id, priority: 0 })).json();

    const dup = await req('POST', '/outbound-routes', { name: 'national', pattern: '_1.', trunkId: main.id });
    expect(dup.statusCode).toBe(409);
    expect(dup.json().error).toMatchObject({ code: 'outbound-route-exists', details: { field: 'body.name' } });

    const list = (await req('GET', '/outbound-routes', undefined, viewer)).json().items.map((r: { name: string }) => r.name);
    expect(list.indexOf('emergency')).toBeLessThan(list.indexOf('via-backup'));
    expect(list.indexOf('international')).toBeLessThan(list.indexOf('national'));

    // the call core: routes of enabled trunks only (rt-backup is disabled)
    const routes = await loadOutboundRoutes(app.db);
    expect(routes.find((r) => r.id === viaBackup.id)).toBeUndefined();
    expect(routes.find((r) => r.id === national.json().id)).toMatchObject({ trunkName: 'rt-main', maxChannels: 30, requiredClass: 'national' });
    const emergencyNumbers = await loadEmergencyNumbers(app.db);
    const plan = planOutbound({ dialed: '0301234567', callerClass: 'national', routes, emergencyNumbers });
    expect(plan).toMatchObject({ kind: 'route', trunkId: main.id, number: '+49301234567' });
    if (plan.kind !== 'route') throw new Error('no plan');
    const trunk = await loadTrunk(app.db, plan.trunkId);
    expect(trunkDialTarget(trunk!, plan.number)).toBe('PJSIP/+49301234567@trunk-rt-main');
    expect(await loadTrunk(app.db, backup.id)).toBeUndefined();
    expect(planOutbound({ dialed: '112', callerClass: 'internal', routes, emergencyNumbers })).toMatchObject({ kind: 'route', routeId: emergency.id, number: '112', emergency: true });
    expect(planOutbound({ dialed: '0044123', callerClass: 'national', routes, emergencyNumbers })).toEqual({ kind: 'refused', reason: 'not-permitted' });

    const patched = await req('PATCH', `/outbound-routes/${intl.id}`, { pattern: '_00Z.', priority: 50 });
    expect(patched.json()).toMatchObject({ pattern: '_00Z.', priority: 50, strip: 2 });
    expect(fieldsOf(await req('PATCH', `/outbound-routes/${intl.id}`, { pattern: '_00[' }))).toEqual(['body.pattern']);
    expect(fieldsOf(await req('PATCH', `/outbound-routes/${intl.id}`, { trunkId: '999999' }))).toEqual(['body.trunkId']);
    expect((await req('PATCH', '/outbound-routes/999999', { priority: 1 })).json().error.code).toBe('outbound-route-not-found');
    expect((await req('GET', `/outbound-routes/${intl.id}`, undefined, viewer)).json().pattern).toBe('_00Z.');

    expect((await req('DELETE', `/outbound-routes/${viaBackup.id}`)).statusCode).toBe(204);
    expect((await req('DELETE', `/outbound-routes/${viaBackup.id}`)).json().error.code).toBe('outbound-route-not-found');
    const audit = (await sql<{ action: string }>`select action from audit_log where entity = 'outbound_route' and entity_id = ${viaBackup.id} order by id`.execute(app.db)).rows;
    expect(audit.map((a) => a.action)).toEqual(['outbound-route.create', 'outbound-route.delete']);
  });
});

describe('inbound routes', () => {
  it('validates patterns and the target extension, naming the field', async () => {
    const badDid = await req('POST', '/inbound-routes', { name: 'bad-did', didPattern: '_49.X', target: { kind: 'hangup' } });
    expect(fieldsOf(badDid)).toEqual(['body.didPattern']);
    const badCaller = await req('POST', '/inbound-routes', { name: 'bad-caller', callerPattern: '+49 30', target: { kind: 'hangup' } });
    expect(fieldsOf(badCaller)).toEqual(['body.callerPattern']);
    const noExt = await req('POST', '/inbound-routes', { name: 'no-ext', didPattern: '4930100', target: { kind: 'extension', number: '7799' } });
    expect(noExt.statusCode).toBe(400);
    expect(noExt.json().error.message).toBe('body.target.number: extension 7799 does not exist');
    expect(fieldsOf(await req('POST', '/inbound-routes', { name: 'odd', didPattern: '1', target: { kind: 'voicemail' } }))[0]).toMatch(/^body\.target/);
  });

  it('CRUD, one default only, and the call core resolves in the documented order', async () => {
    const exact = await req('POST', '/inbound-routes', { name: 'sales-did', didPattern: '4930100', target: { kind: 'extension', number: EXT_B } });
    expect(exact.statusCode).toBe(201);
    expect(exact.json()).toMatchObject({ didPattern: '4930100', callerPattern: null, target: { kind: 'extension', number: EXT_B }, isDefault: false });
    await req('POST', '/inbound-routes', { name: 'did-block', didPattern: '_49301XX', priority: 1, target: { kind: 'extension', number: EXT_A } });
    await req('POST', '/inbound-routes', { name: 'spam', callerPattern: '_+49900.', target: { kind: 'hangup' } });
    const def = await req('POST', '/inbound-routes', { name: 'default', target: { kind: 'extension', number: EXT_A } });
    expect(def.json()).toMatchObject({ isDefault: true });
    const second = await req('POST', '/inbound-routes', { name: 'default-2', didPattern: null, target: { kind: 'hangup' } });
    expect(second.statusCode).toBe(409);
    expect(second.json().error).toMatchObject({ code: 'inbound-route-exists', details: { id: def.json().id } });
    const dupName = await req('POST', '/inbound-routes', { name: 'spam', didPattern: '1', target: { kind: 'hangup' } });
    expect(dupName.json().error).toMatchObject({ code: 'inbound-route-exists', details: { field: 'body.name' } });

    const { rules, defaultTarget } = await loadInboundRules(app.db);
    expect(defaultTarget).toEqual({ kind: 'extension', number: EXT_A });
    expect(resolveInbound('4930100', '+4930555', rules, defaultTarget)).toEqual({ kind: 'extension', number: EXT_B }); // exact beats pattern
    expect(resolveInbound('4930100', '+4990012', rules, defaultTarget)).toEqual({ kind: 'hangup' }); // caller rule first
    expect(resolveInbound('4930123', null, rules, defaultTarget)).toEqual({ kind: 'extension', number: EXT_A });
    expect(resolveInbound('5550000', null, rules, defaultTarget)).toEqual({ kind: 'extension', number: EXT_A });

    // extension deletion is refused while a route sends calls there (via ExtensionService usages, and the FK)
    expect(await inboundRoutesUsingExtension(app.db, EXT_B)).toEqual(['inbound route sales-did']);
    await expect(sql`delete from extensions where number = ${EXT_B}`.execute(app.db)).rejects.toMatchObject({ code: '23503' });

    const id = exact.json().id;
    const moved = await req('PATCH', `/inbound-routes/${id}`, { target: { kind: 'hangup' }, priority: 7 });
    expect(moved.json()).toMatchObject({ target: { kind: 'hangup' }, priority: 7, didPattern: '4930100' });
    expect((await req('PATCH', `/inbound-routes/${id}`, { didPattern: null })).statusCode).toBe(409); // would be a second default
    expect((await req('GET', `/inbound-routes/${id}`, undefined, viewer)).json().target).toEqual({ kind: 'hangup' });
    expect((await req('DELETE', `/inbound-routes/${id}`)).statusCode).toBe(204);
    expect((await req('GET', `/inbound-routes/${id}`)).json().error.code).toBe('inbound-route-not-found');
    expect((await req('GET', '/inbound-routes', undefined, viewer)).json().items.some((r: { id: string }) => r.id === id)).toBe(false);
  });
});

describe('emergency numbers', () => {
  it('starts with 112 and 911, is replaced as a whole, validated and audited', async () => {
    expect((await req('GET', '/emergency-numbers', undefined, viewer)).json()).toEqual({ numbers: ['112', '911'] });
    expect(fieldsOf(await req('PUT', '/emergency-numbers', { numbers: ['112', '11;2'] }))).toContain('body.numbers.1');
    expect(fieldsOf(await req('PUT', '/emergency-numbers', { numbers: [] }))).toContain('body.numbers');
    expect((await req('PUT', '/emergency-numbers', { numbers: ['112', '112'] })).statusCode).toBe(400);
    const put = await req('PUT', '/emergency-numbers', { numbers: ['999', '112', '110'] });
    expect(put.json()).toEqual({ numbers: ['110', '112', '999'] });
    expect(await loadEmergencyNumbers(app.db)).toEqual(['110', '112', '999']);
    const audit = (await sql<{ details: unknown }>`select details from audit_log where action = 'emergency-numbers.update' order by id desc limit 1`.execute(app.db)).rows;
    expect(audit[0]!.details).toEqual({ before: ['112', '911'], after: ['110', '112', '999'] });
    await req('PUT', '/emergency-numbers', { numbers: ['112', '911'] });
  });
});
