/**
 * The bearer-token check of every /api/v1 route. It runs as the route's `onRequest` hook, before
 * the body is read: a request without a valid token costs no body parsing and no schema validation,
 * and a token without the role gets its 403 just as early. The server knows only the small interface
 * below; src/auth/service.ts implements it (tokens, users and roles live there).
 */
import type { FastifyRequest, onRequestAsyncHookHandler, RouteOptions } from 'fastify';
import { isAppError } from '../errors.js';
import { logAuthFailure } from '../shared/auth-failure-log.js';

/** Who sent a request, as its bearer token says. */
export interface Principal {
  readonly userId: string;
  readonly tokenId: string;
  readonly username: string;
  readonly role: string;
}

/** What the server needs from whoever issues tokens. */
export interface BearerAuth<Role extends string> {
  /** The principal behind an `Authorization` header; an AppError 401 when it names none. */
  authenticate(authorization: string | undefined): Promise<Principal>;
  /** An AppError 403 unless the principal's role reaches `need`. */
  requireRole(principal: Principal, need: Role): void;
}

declare module 'fastify' {
  interface FastifyRequest {
    principal: Principal | null;
  }
}

/** Marks the hooks requireRole makes, so the server can check every route uses one, and early. */
const BEARER_CHECK = Symbol('pbx.bearer-check');

/**
 * The route's `onRequest` hook: bearer token required, and at least role `need`. A 401 is logged
 * for fail2ban and counted against the source (src/http/auth-failures.ts: 429 once over the limit).
 * `credential`: what is handed to `auth.authenticate` (default: the Authorization header); a route
 * a browser's EventSource reaches, which cannot set headers, may read another credential (a
 * one-time ticket) with the same checks, logging and limits.
 */
export function requireRole<Role extends string>(
  auth: BearerAuth<Role>,
  need: NoInfer<Role>,
  credential: (request: FastifyRequest) => string | undefined = (request) => request.headers.authorization,
): onRequestAsyncHookHandler {
  const check: onRequestAsyncHookHandler = async (request, reply) => {
    let principal: Principal;
    try {
      principal = await auth.authenticate(credential(request));
    } catch (err) {
      if (!isAppError(err) || err.status !== 401) throw err;
      // One stable line per failed authentication (401s only) for fail2ban (deploy/fail2ban).
      logAuthFailure(request.log, request.ip, 'api', err.code);
      throw await request.server.authFailed(request, reply, err);
    }
    auth.requireRole(principal, need);
    request.principal = principal;
    request.log = request.log.child({ user: principal.username });
  };
  return Object.assign(check, { [BEARER_CHECK]: need });
}

const isBearerCheck = (hook: unknown): boolean => typeof hook === 'function' && BEARER_CHECK in hook;
const hooks = (hook: unknown): unknown[] => (hook === undefined ? [] : [hook].flat());

/**
 * Refuses (at start-up) a route whose bearer check would run after the body is parsed, or whose
 * OpenAPI `security` and bearer check disagree. Installed as an `onRoute` hook by src/http/plugin.ts.
 */
export function checkBearerRoute(route: RouteOptions): void {
  const where = `${String(route.method)} ${route.url}`;
  const late = [route.preParsing, route.preValidation, route.preHandler].flatMap(hooks).some(isBearerCheck);
  if (late) throw new Error(`${where}: requireRole must be an onRequest hook, so no body is read before authentication`);
  const declared = (route.schema?.security ?? []).some((s) => 'bearer' in s);
  const checked = hooks(route.onRequest).some(isBearerCheck);
  if (declared && !checked) throw new Error(`${where}: declares bearer security but has no requireRole onRequest hook`);
  if (checked && !declared) throw new Error(`${where}: checks a bearer token but does not declare security: [{ bearer: [] }]`);
}
