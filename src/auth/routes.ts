import { Type, type Static } from '@sinclair/typebox';
import type { FastifyInstance } from 'fastify';
import type { Db } from '../db/database.js';
import type { Role, UserRow } from './tables.js';
import { actorFor } from '../audit/actor.js';
import { requireRole } from '../http/auth.js';
import { IdParams, NullableTimestamp, Secret, Timestamp, withErrors } from '../http/schemas.js';
import { ListOf, list } from '../http/paging.js';
import type { AuthService } from './service.js';
import { listTokens, listUsers } from './repository.js';

const RoleSchema = Type.Union([Type.Literal('admin'), Type.Literal('supervisor'), Type.Literal('viewer')]);
const Username = Type.String({ minLength: 2, maxLength: 64, pattern: '^[a-z0-9][a-z0-9._-]*$', description: 'lower-case letters, digits, . _ -' });

const User = Type.Object({ id: Type.String(), username: Type.String(), role: RoleSchema, disabled: Type.Boolean(), createdAt: Timestamp });
const CreateUser = Type.Object({ username: Username, role: RoleSchema }, { additionalProperties: false });
const CreateToken = Type.Object(
  {
    username: Username,
    name: Type.String({ minLength: 1, maxLength: 100, description: 'what the token is for' }),
    ttlDays: Type.Optional(Type.Union([Type.Integer({ minimum: 1, maximum: 3650 }), Type.Null()], { description: 'days until expiry; null = never; default 90' })),
  },
  { additionalProperties: false },
);
const Token = Type.Object(
  {
    id: Type.String(),
    username: Type.String(),
    role: RoleSchema,
    name: Type.String(),
    prefix: Type.String(),
    expiresAt: NullableTimestamp,
    revokedAt: NullableTimestamp,
    lastUsedAt: NullableTimestamp,
    createdAt: Timestamp,
    secret: Secret,
  },
  { description: "an API token; secret: the token itself (pbx_...), only in the answer of POST /tokens (only its hash is stored)" },
);

const userJson = (u: UserRow) => ({ id: u.id, username: u.username, role: u.role, disabled: u.disabled, createdAt: u.created_at.toISOString() });
const iso = (d: Date | null) => d?.toISOString() ?? null;

interface TokenFacts {
  id: string;
  username: string;
  role: Role;
  name: string;
  prefix: string;
  expiresAt: Date | null;
  revokedAt: Date | null;
  lastUsedAt: Date | null;
  createdAt: Date;
}

const tokenJson = (t: TokenFacts, secret?: string): Static<typeof Token> => ({
  id: t.id,
  username: t.username,
  role: t.role,
  name: t.name,
  prefix: t.prefix,
  expiresAt: iso(t.expiresAt),
  revokedAt: iso(t.revokedAt),
  lastUsedAt: iso(t.lastUsedAt),
  createdAt: t.createdAt.toISOString(),
  ...(secret === undefined ? {} : { secret }),
});

export interface AuthRouteDeps {
  db: Db;
  auth: AuthService;
}

export function authRoutes(deps: AuthRouteDeps) {
  const viewer = requireRole(deps.auth, 'viewer');
  const admin = requireRole(deps.auth, 'admin');
  const sec = [{ bearer: [] }];
  return async (app: FastifyInstance): Promise<void> => {
    app.get(
      '/me',
      {
        onRequest: viewer,
        schema: {
          tags: ['auth'],
          summary: 'Who this token belongs to',
          security: sec,
          response: withErrors({ 200: Type.Object({ username: Type.String(), role: RoleSchema, tokenId: Type.String() }) }),
        },
      },
      async (request) => ({ username: request.principal!.username, role: request.principal!.role, tokenId: request.principal!.tokenId }),
    );

    app.get(
      '/users',
      { onRequest: admin, schema: { tags: ['auth'], summary: 'List users', security: sec, response: withErrors({ 200: ListOf(User) }) } },
      async () => list((await listUsers(deps.db)).map(userJson)),
    );

    app.post<{ Body: Static<typeof CreateUser> }>(
      '/users',
      {
        onRequest: admin,
        schema: { tags: ['auth'], summary: 'Create a user', security: sec, body: CreateUser, response: withErrors({ 201: User, 409: Type.Ref('ErrorResponse') }) },
      },
      async (request, reply) => {
        const user = await deps.auth.createUser(actorFor(request), request.body.username, request.body.role as Role);
        return reply.status(201).send(userJson(user));
      },
    );

    app.get(
      '/tokens',
      { onRequest: admin, schema: { tags: ['auth'], summary: 'List API tokens (never their secrets)', security: sec, response: withErrors({ 200: ListOf(Token) }) } },
      async () => list(
        (await listTokens(deps.db)).map((t) =>
          tokenJson({ ...t, expiresAt: t.expires_at, revokedAt: t.revoked_at, lastUsedAt: t.last_used_at, createdAt: t.created_at })),
      ),
    );

    app.post<{ Body: Static<typeof CreateToken> }>(
      '/tokens',
      {
        onRequest: admin,
        schema: {
          tags: ['auth'],
          summary: 'Create an API token for a user; the token itself is in `secret`, in this response only',
          security: sec,
          body: CreateToken,
          response: withErrors({ 201: Token }),
        },
      },
      async (request, reply) => {
        const { username, name, ttlDays } = request.body;
        const created = await deps.auth.createToken(actorFor(request), { username, name, ttlDays: ttlDays === undefined ? 90 : ttlDays });
        return reply.status(201).send(tokenJson({ ...created, revokedAt: null, lastUsedAt: null }, created.token));
      },
    );

    app.delete<{ Params: { id: string } }>(
      '/tokens/:id',
      { onRequest: admin, schema: { tags: ['auth'], summary: 'Revoke a token', security: sec, params: IdParams, response: withErrors({ 204: Type.Null() }) } },
      async (request, reply) => {
        await deps.auth.revokeToken(actorFor(request), request.params.id);
        return reply.status(204).send();
      },
    );
  };
}
