/**
 * Roles by route, over the whole OpenAPI document (GET /docs/json of the real app, real Postgres).
 * ROUTE_ROLES below is the one place that says who may call what: every route the spec lists must
 * be in it (a new route must be classified here and in docs/api.md) and it lists nothing else.
 * For every route, four callers: no token (401), then a viewer, a supervisor and an admin token:
 * 403 `forbidden` naming the route's role when the caller's role is below it, and anything but
 * 401/403 (and not route-not-found) when it is enough. The token is checked before the body is
 * read, so the requests carry an empty body and a placeholder for path parameters: nothing is
 * changed, the answers that pass auth are 400s and 404s.
 * Health and phone provisioning carry no bearer check at all, and that is asserted too.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { App } from '../../src/app.js';
import { AuthService, CLI_ACTOR } from '../../src/auth/service.js';
import { ROLES, type Role } from '../../src/auth/tables.js';
import { startTestApp } from '../support/app.js';

/** 'public': no token needed (health); 'device': the phone's own HTTP Basic credentials or an allowed IP, never a bearer token. */
type Need = Role | 'public' | 'device';

/** Method and path as the OpenAPI document spells them -> the lowest role that may call it. docs/api.md "Routes" says the same. */
const ROUTE_ROLES: Readonly<Record<string, Need>> = {
  'GET /health/live': 'public',
  'GET /health/ready': 'public',
  // The wallboard page's own files; the page asks for a token and sends it with each API call (docs/wallboard.md).
  'GET /wallboard': 'public',
  'GET /wallboard/wallboard.js': 'public',
  'GET /wallboard/wallboard.css': 'public',
  // Prometheus (docs/metrics.md#access); with PBX_METRICS_ACCESS=loopback no token, from loopback only (unit metrics.test.ts).
  'GET /metrics': 'viewer',
  'GET /provision/{file}': 'device',

  'GET /api/v1/me': 'viewer',
  // The live event stream: viewers get agent states and queue events without caller numbers (docs/events.md#roles).
  'GET /api/v1/events': 'viewer',
  'POST /api/v1/events/tickets': 'viewer',
  'GET /api/v1/users': 'admin',
  'POST /api/v1/users': 'admin',
  'GET /api/v1/tokens': 'admin',
  'POST /api/v1/tokens': 'admin',
  'DELETE /api/v1/tokens/{id}': 'admin',
  'GET /api/v1/audit': 'admin',

  'GET /api/v1/calls/live': 'viewer',
  'GET /api/v1/cdrs': 'viewer',
  'GET /api/v1/cdrs/{id}': 'viewer',

  // Call recordings are what callers said: finding, listening and legal hold are a supervisor's;
  // erasure (a data-subject request) is an admin's.
  'GET /api/v1/recordings': 'supervisor',
  'GET /api/v1/recordings/{id}': 'supervisor',
  'GET /api/v1/recordings/{id}/audio': 'supervisor',
  'PATCH /api/v1/recordings/{id}': 'supervisor',
  'POST /api/v1/recordings/erasure': 'admin',
  'POST /api/v1/recordings/{id}/compress': 'admin',
  // Recording a live call (PCI pause by a CRM included): supervisors.
  'POST /api/v1/calls/{callId}/recording/start': 'supervisor',
  'POST /api/v1/calls/{callId}/recording/stop': 'supervisor',
  'POST /api/v1/calls/{callId}/recording/pause': 'supervisor',
  'POST /api/v1/calls/{callId}/recording/resume': 'supervisor',

  // PBX plumbing: viewers read, admins change.
  'GET /api/v1/extensions': 'viewer',
  'POST /api/v1/extensions': 'admin',
  'GET /api/v1/extensions/{number}': 'viewer',
  'PATCH /api/v1/extensions/{number}': 'admin',
  'DELETE /api/v1/extensions/{number}': 'admin',
  'POST /api/v1/extensions/{number}/rotate-password': 'admin',
  'GET /api/v1/trunks': 'viewer',
  'POST /api/v1/trunks': 'admin',
  'GET /api/v1/trunks/{id}': 'viewer',
  'PATCH /api/v1/trunks/{id}': 'admin',
  'DELETE /api/v1/trunks/{id}': 'admin',
  'GET /api/v1/outbound-routes': 'viewer',
  'POST /api/v1/outbound-routes': 'admin',
  'GET /api/v1/outbound-routes/{id}': 'viewer',
  'PATCH /api/v1/outbound-routes/{id}': 'admin',
  'DELETE /api/v1/outbound-routes/{id}': 'admin',
  'GET /api/v1/inbound-routes': 'viewer',
  'POST /api/v1/inbound-routes': 'admin',
  'GET /api/v1/inbound-routes/{id}': 'viewer',
  'PATCH /api/v1/inbound-routes/{id}': 'admin',
  'DELETE /api/v1/inbound-routes/{id}': 'admin',
  'GET /api/v1/emergency-numbers': 'viewer',
  'PUT /api/v1/emergency-numbers': 'admin',
  'GET /api/v1/devices': 'viewer',
  'POST /api/v1/devices': 'admin',
  'GET /api/v1/devices/{id}': 'viewer',
  'PATCH /api/v1/devices/{id}': 'admin',
  'DELETE /api/v1/devices/{id}': 'admin',
  'POST /api/v1/devices/{id}/rotate-credentials': 'admin',

  // Voicemail: the list is what a CDR shows; the audio (what the caller said) is supervisor's.
  'GET /api/v1/extensions/{number}/voicemail': 'viewer',
  'GET /api/v1/extensions/{number}/voicemail/{id}': 'viewer',
  'GET /api/v1/extensions/{number}/voicemail/{id}/audio': 'supervisor',
  'PATCH /api/v1/extensions/{number}/voicemail/{id}': 'admin',
  'DELETE /api/v1/extensions/{number}/voicemail/{id}': 'admin',

  // IVR: flows decide where outside callers go (transfers to outside numbers, HTTP lookups), so admin; prompts with them.
  'GET /api/v1/prompts': 'viewer',
  'POST /api/v1/prompts': 'admin',
  'POST /api/v1/prompts/tts': 'admin',
  'GET /api/v1/prompts/{id}': 'viewer',
  'DELETE /api/v1/prompts/{id}': 'admin',
  'GET /api/v1/prompts/{id}/audio': 'viewer',
  'GET /api/v1/flows': 'viewer',
  'POST /api/v1/flows': 'admin',
  'GET /api/v1/flows/{name}': 'viewer',
  'DELETE /api/v1/flows/{name}': 'admin',
  'PUT /api/v1/flows/{name}/draft': 'admin',
  'POST /api/v1/flows/{name}/publish': 'admin',
  'POST /api/v1/flows/{name}/rollback': 'admin',
  'GET /api/v1/flows/{name}/versions': 'viewer',
  'GET /api/v1/flows/{name}/versions/{version}': 'viewer',

  // The contact center, run day to day by supervisors.
  'GET /api/v1/agents': 'viewer',
  'POST /api/v1/agents': 'supervisor',
  'GET /api/v1/agents/live': 'viewer',
  'GET /api/v1/agents/{number}': 'viewer',
  'PATCH /api/v1/agents/{number}': 'supervisor',
  'DELETE /api/v1/agents/{number}': 'supervisor',
  'POST /api/v1/agents/{number}/state': 'supervisor',
  'GET /api/v1/agents/{number}/log': 'viewer',
  // Preview mode (docs/campaigns.md#preview-mode): a CRM answers for its agent.
  'GET /api/v1/agents/{number}/preview': 'supervisor',
  'POST /api/v1/agents/{number}/preview/accept': 'supervisor',
  'POST /api/v1/agents/{number}/preview/skip': 'supervisor',
  'GET /api/v1/queues': 'viewer',
  'POST /api/v1/queues': 'supervisor',
  'GET /api/v1/queues/{name}': 'viewer',
  'PATCH /api/v1/queues/{name}': 'supervisor',
  'DELETE /api/v1/queues/{name}': 'supervisor',
  'GET /api/v1/queues/{name}/live': 'viewer',
  'GET /api/v1/queues/{name}/members': 'viewer',
  'PUT /api/v1/queues/{name}/members': 'supervisor',
  'DELETE /api/v1/queues/{name}/members/{agent}': 'supervisor',
  'GET /api/v1/pause-reasons': 'viewer',
  'POST /api/v1/pause-reasons': 'supervisor',
  'DELETE /api/v1/pause-reasons/{code}': 'supervisor',
  // Staffing arithmetic and forecast: they change nothing, so viewers too.
  'POST /api/v1/staffing/erlang': 'viewer',
  'POST /api/v1/staffing/forecast': 'viewer',
  // Reports: queue figures are aggregates (a wallboard's, like the queue live view); agent figures are each person's performance.
  'GET /api/v1/reports/queues': 'viewer',
  'GET /api/v1/reports/queues/live': 'viewer',
  'GET /api/v1/reports/agents': 'supervisor',
  // Live supervision: joining a call is a supervisor's.
  'GET /api/v1/supervision': 'supervisor',
  'POST /api/v1/supervision': 'supervisor',
  'GET /api/v1/supervision/{id}': 'supervisor',
  'PATCH /api/v1/supervision/{id}': 'supervisor',
  'DELETE /api/v1/supervision/{id}': 'supervisor',
  // Webhooks: a URL that receives caller numbers, and its secret: admin's (docs/webhooks.md).
  'GET /api/v1/webhooks': 'admin',
  'POST /api/v1/webhooks': 'admin',
  'GET /api/v1/webhooks/{id}': 'admin',
  'PATCH /api/v1/webhooks/{id}': 'admin',
  'DELETE /api/v1/webhooks/{id}': 'admin',
  'POST /api/v1/webhooks/{id}/rotate-secret': 'admin',
  'GET /api/v1/webhooks/{id}/deliveries': 'admin',
  'POST /api/v1/webhooks/{id}/deliveries/{deliveryId}/redeliver': 'admin',
  'POST /api/v1/webhooks/{id}/ping': 'admin',
  // Outbound campaigns (docs/campaigns.md#roles): settings are an admin's; running them (start, pause,
  // resume, stop), their attempts, dispositions and compliance a supervisor's.
  'GET /api/v1/campaigns': 'supervisor',
  'POST /api/v1/campaigns': 'admin',
  'GET /api/v1/campaigns/{id}': 'supervisor',
  'PATCH /api/v1/campaigns/{id}': 'admin',
  'DELETE /api/v1/campaigns/{id}': 'admin',
  'POST /api/v1/campaigns/{id}/start': 'supervisor',
  'POST /api/v1/campaigns/{id}/pause': 'supervisor',
  'POST /api/v1/campaigns/{id}/resume': 'supervisor',
  'POST /api/v1/campaigns/{id}/stop': 'supervisor',
  'GET /api/v1/campaigns/{id}/attempts': 'supervisor',
  'POST /api/v1/campaigns/{id}/attempts/{attemptId}/disposition': 'supervisor',
  'GET /api/v1/campaigns/{id}/compliance': 'supervisor',
  // Campaign figures are aggregates (like queue figures); per-agent figures are each person's performance.
  'GET /api/v1/reports/campaigns': 'viewer',
  'GET /api/v1/reports/campaigns/agents': 'supervisor',
  // Contact and do-not-call lists (docs/campaigns.md#contact-lists-and-time-zones): the numbers are personal data, supervisors and up.
  'POST /api/v1/campaigns/{id}/imports': 'supervisor',
  'GET /api/v1/campaigns/{id}/imports': 'supervisor',
  'GET /api/v1/campaigns/{id}/imports/{importId}': 'supervisor',
  'GET /api/v1/campaigns/{id}/imports/{importId}/rejects': 'supervisor',
  'GET /api/v1/campaigns/{id}/contacts': 'supervisor',
  'POST /api/v1/dnc': 'supervisor',
  'GET /api/v1/dnc': 'supervisor',
  'DELETE /api/v1/dnc/{id}': 'supervisor',
  'POST /api/v1/dnc/imports': 'supervisor',
  'GET /api/v1/dnc/imports/{importId}': 'supervisor',
  'GET /api/v1/dnc/imports/{importId}/rejects': 'supervisor',
};

/** Routes that answer a stream that never ends: asked with a filter that does not exist, so an allowed role gets a 400, not a stream. */
const STREAMS = new Set(['GET /api/v1/events']);

/** Lowest first. */
const RANK: readonly Role[] = ['viewer', 'supervisor', 'admin'];
const METHODS = ['get', 'post', 'put', 'patch', 'delete'] as const;
type Method = Uppercase<(typeof METHODS)[number]>;

interface Operation {
  readonly security?: readonly Record<string, unknown>[];
}
interface OpenApi {
  readonly paths: Record<string, Partial<Record<(typeof METHODS)[number], Operation>>>;
}

let app: App;
let spec: OpenApi;
const tokens = {} as Record<Role, string>;

beforeAll(async () => {
  app = await startTestApp();
  const auth = new AuthService(app.db);
  for (const role of RANK) {
    tokens[role] = (await auth.createToken(CLI_ACTOR, { username: `it-roles-${role}`, name: 'roles test', ttlDays: 1, ensureRole: role })).token;
  }
  const res = await app.http.inject({ method: 'GET', url: '/docs/json' });
  expect(res.statusCode).toBe(200);
  spec = res.json();
});

afterAll(async () => {
  await app?.stop();
});

const specRoutes = (): string[] =>
  Object.entries(spec.paths).flatMap(([path, ops]) => METHODS.filter((m) => ops[m] !== undefined).map((m) => `${m.toUpperCase()} ${path}`));

const operation = (route: string): Operation => {
  const [method, path] = route.split(' ') as [string, string];
  return spec.paths[path]![method.toLowerCase() as (typeof METHODS)[number]]!;
};

/**
 * One request as `role` would send it: an empty JSON body where the method takes one, and path
 * parameters filled with a placeholder that names nothing (`/provision/{file}`: a Yealink file of
 * a MAC no device has).
 */
function call(route: string, role: Role | null) {
  const [method, path] = route.split(' ') as [Method, string];
  const url = path === '/provision/{file}' ? '/provision/00000000a13a.cfg' : path.replace(/\{[^}]+\}/g, 'no-such-thing') + (STREAMS.has(route) ? '?types=no-such-type' : '');
  const withBody = method === 'POST' || method === 'PUT' || method === 'PATCH';
  return app.http.inject({
    method,
    url,
    headers: role ? { authorization: `Bearer ${tokens[role]}` } : {},
    ...(withBody ? { payload: {} } : {}),
  });
}

describe('the role table and the OpenAPI document', () => {
  it('the roles tested are the roles there are', () => {
    expect([...ROLES].sort()).toEqual([...RANK].sort());
  });

  it('lists exactly the routes the spec has: a new route must be given its role here', () => {
    const inSpec = specRoutes();
    const inTable = Object.keys(ROUTE_ROLES);
    expect({
      unclassified: inSpec.filter((r) => !(r in ROUTE_ROLES)),
      notInSpec: inTable.filter((r) => !inSpec.includes(r)),
    }).toEqual({ unclassified: [], notInSpec: [] });
  });

  it('the spec declares bearer security on exactly the routes that need a role', () => {
    const wrong = specRoutes().filter((r) => r in ROUTE_ROLES).filter((r) => {
      const declared = (operation(r).security ?? []).some((s) => 'bearer' in s);
      const protectedRoute = RANK.includes(ROUTE_ROLES[r] as Role);
      return declared !== protectedRoute;
    });
    expect(wrong).toEqual([]);
  });
});

describe('who may call each route', () => {
  const bearerRoutes = Object.entries(ROUTE_ROLES).filter((e): e is [string, Role] => RANK.includes(e[1] as Role));

  it.each(bearerRoutes)('%s: no token 401, below %s 403, from it on allowed', async (route, need) => {
    const anonymous = await call(route, null);
    expect(anonymous.statusCode, `${route} without a token`).toBe(401);
    expect(anonymous.json().error.code).toBe('unauthorized');

    for (const role of RANK) {
      const res = await call(route, role);
      const error = res.statusCode >= 400 ? res.json().error : undefined;
      if (RANK.indexOf(role) < RANK.indexOf(need)) {
        expect(res.statusCode, `${route} as ${role}`).toBe(403);
        expect(error, `${route} as ${role}`).toMatchObject({ code: 'forbidden', details: { need, have: role } });
      } else {
        expect([401, 403, 429], `${route} as ${role} got ${res.statusCode} ${error?.code ?? ''}`).not.toContain(res.statusCode);
        expect(error?.code, `${route} as ${role} reached a route`).not.toBe('route-not-found');
      }
    }
  });

  it.each(Object.entries(ROUTE_ROLES).filter(([, need]) => need === 'public'))('%s needs no token, and a token changes nothing', async (route) => {
    const anonymous = await call(route, null);
    expect([200, 503]).toContain(anonymous.statusCode);
    for (const role of RANK) expect((await call(route, role)).statusCode, `${route} as ${role}`).toBe(anonymous.statusCode);
  });

  it.each(Object.entries(ROUTE_ROLES).filter(([, need]) => need === 'device'))('%s takes the device credentials, never a bearer token', async (route) => {
    const anonymous = await call(route, null);
    expect(anonymous.statusCode).toBe(401);
    expect(anonymous.headers['www-authenticate']).toMatch(/^Basic /);
    for (const role of RANK) {
      // An admin's API token is not a phone's credential: the same Basic challenge, not a bearer answer.
      const res = await call(route, role);
      expect(res.statusCode, `${route} as ${role}`).toBe(401);
      expect(res.headers['www-authenticate']).toBe(anonymous.headers['www-authenticate']);
      expect(res.json().error.code).toBe(anonymous.json().error.code);
    }
  });
});
