import type { FastifyRequest, preHandlerAsyncHookHandler } from 'fastify';
import type { Role } from '../auth/tables.js';
import { actorOf, type AuthService, type Principal } from '../auth/service.js';
import type { Actor } from '../audit/repository.js';
import { AppError, isAppError } from '../errors.js';
import { logAuthFailure } from '../shared/auth-failure-log.js';

declare module 'fastify' {
  interface FastifyRequest {
    principal: Principal | null;
  }
}

/** preHandler for a route: bearer token required, and at least role `need`. */
export function requireRole(auth: AuthService, need: Role): preHandlerAsyncHookHandler {
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

export function actorFor(request: FastifyRequest): Actor {
  if (!request.principal) throw new AppError('unauthorized', 401, 'not authenticated');
  return actorOf(request.principal, String(request.id));
}
