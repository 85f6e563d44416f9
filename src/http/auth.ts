/**
 * The bearer-token check every /api/v1 route runs as a preHandler. The server knows only the small
 * interface below; src/auth/service.ts implements it (tokens, users and roles live there).
 */
import type { preHandlerAsyncHookHandler } from 'fastify';
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

/** preHandler for a route: bearer token required, and at least role `need`. */
export function requireRole<Role extends string>(auth: BearerAuth<Role>, need: NoInfer<Role>): preHandlerAsyncHookHandler {
  return async (request) => {
    let principal: Principal;
    try {
      principal = await auth.authenticate(request.headers.authorization);
    } catch (err) {
      // One stable line per failed authentication (401s only) for fail2ban (deploy/fail2ban).
      if (isAppError(err) && err.status === 401) logAuthFailure(request.log, request.ip, 'api', err.code);
      throw err;
    }
    auth.requireRole(principal, need);
    request.principal = principal;
    request.log = request.log.child({ user: principal.username });
  };
}
