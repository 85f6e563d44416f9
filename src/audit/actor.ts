/** The actor an audit row names for an API request: the user behind its bearer token. */
import type { FastifyRequest } from 'fastify';
import { AppError } from '../errors.js';
import type { Principal } from '../http/auth.js';
import type { Actor } from './repository.js';

export function actorOf(p: Principal, requestId: string | null): Actor {
  return { userId: p.userId, tokenId: p.tokenId, label: `user:${p.username}`, requestId };
}

export function actorFor(request: FastifyRequest): Actor {
  if (!request.principal) throw new AppError('unauthorized', 401, 'not authenticated');
  return actorOf(request.principal, String(request.id));
}
