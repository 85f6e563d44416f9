import type { FastifyRequest, preHandlerAsyncHookHandler } from 'fastify';
import type { Role } from '../db/tables/auth.js';
import { actorOf, type AuthService, type Principal } from '../auth/service.js';
import type { Actor } from '../audit/repository.js';
import { AppError } from '../errors.js';

declare module 'fastify' {
  interface FastifyRequest {
    principal: Principal | null;
  }
}

/** preHandler for a route: bearer token required, and at least role `need`. */
export function requireRole(auth: AuthService, need: Role): preHandlerAsyncHookHandler {
  return async (request) => {
    const principal = await auth.authenticate(request.headers.authorization);
    auth.requireRole(principal, need);
    request.principal = principal;
    request.log = request.log.child({ user: principal.username });
  };
}

export function actorFor(request: FastifyRequest): Actor {
  if (!request.principal) throw new AppError('unauthorized', 401, 'not authenticated');
  return actorOf(request.principal, String(request.id));
}
