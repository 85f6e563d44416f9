/**
 * Users, roles and API tokens. Each use case: load -> check preconditions (typed errors)
 * -> change + audit row in one transaction.
 */
import type { Db } from '../db/database.js';
import type { Role, UserRow } from './tables.js';
import { AppError, notFound } from '../errors.js';
import { recordAudit, type Actor } from '../audit/repository.js';
import { bearerFrom, hashToken, issueToken, roleAllows } from './tokens.js';
import * as repo from './repository.js';
import type { TokenWithUser } from './repository.js';
import { TokenCache } from './token-cache.js';

export interface Principal {
  readonly userId: string;
  readonly tokenId: string;
  readonly username: string;
  readonly role: Role;
}

const TOUCH_EVERY_MS = 60_000;
const DAY_MS = 86_400_000;

export class AuthService {
  /** Valid tokens recently read (src/auth/token-cache.ts): revoked here, forgotten at once. */
  private readonly tokens = new TokenCache<TokenWithUser>();

  constructor(
    private readonly db: Db,
    private readonly now: () => Date = () => new Date(),
  ) {}

  async authenticate(authorization: string | undefined): Promise<Principal> {
    const secret = bearerFrom(authorization);
    if (!secret) throw new AppError('unauthorized', 401, 'missing bearer token: send "Authorization: Bearer <token>"');
    const hash = hashToken(secret);
    let found = this.tokens.get(hash, this.now().getTime());
    if (!found) {
      const readAt = this.tokens.generation;
      found = await repo.findTokenByHash(this.db, hash);
      if (!found || found.revokedAt || found.disabled) throw new AppError('token-invalid', 401, 'token is not valid');
      this.tokens.keep(hash, found, readAt, this.now().getTime());
    }
    const now = this.now();
    if (found.expiresAt && found.expiresAt.getTime() <= now.getTime()) {
      throw new AppError('token-expired', 401, `token expired at ${found.expiresAt.toISOString()}`);
    }
    if (!found.lastUsedAt || now.getTime() - found.lastUsedAt.getTime() > TOUCH_EVERY_MS) {
      await repo.touchToken(this.db, found.tokenId, now);
      this.tokens.update(hash, { ...found, lastUsedAt: now });
    }
    return { userId: found.userId, tokenId: found.tokenId, username: found.username, role: found.role };
  }

  requireRole(principal: Principal, need: Role): void {
    if (!roleAllows(principal.role, need)) {
      throw new AppError('forbidden', 403, `this needs the ${need} role; your token has ${principal.role}`, { need, have: principal.role });
    }
  }

  async createUser(actor: Actor, username: string, role: Role): Promise<UserRow> {
    return this.db.transaction().execute(async (tx) => {
      if (await repo.findUserByName(tx, username)) {
        throw new AppError('user-exists', 409, `user ${username} already exists`, { field: 'username' });
      }
      const user = await repo.insertUser(tx, { username, role });
      await recordAudit(tx, actor, { action: 'user.create', entity: 'user', entityId: user.id, details: { username, role } });
      return user;
    });
  }

  /** Creates the token (and the user, if `ensureUser` and missing). The secret is returned once. */
  async createToken(
    actor: Actor,
    input: { username: string; name: string; ttlDays: number | null; ensureRole?: Role },
  ): Promise<{ id: string; token: string; username: string; role: Role; name: string; prefix: string; expiresAt: Date | null; createdAt: Date }> {
    return this.db.transaction().execute(async (tx) => {
      let user = await repo.findUserByName(tx, input.username);
      if (!user && input.ensureRole) {
        user = await repo.insertUser(tx, { username: input.username, role: input.ensureRole });
        await recordAudit(tx, actor, {
          action: 'user.create',
          entity: 'user',
          entityId: user.id,
          details: { username: user.username, role: user.role },
        });
      }
      if (!user) throw notFound('user-not-found', 'user', input.username);
      if (input.ensureRole && user.role !== input.ensureRole) {
        throw new AppError('conflict', 409, `user ${user.username} has role ${user.role}, not ${input.ensureRole}`, { field: 'role' });
      }
      const issued = issueToken();
      const expiresAt = input.ttlDays === null ? null : new Date(this.now().getTime() + input.ttlDays * DAY_MS);
      const row = await repo.insertToken(tx, {
        user_id: user.id,
        name: input.name,
        token_hash: issued.hash,
        prefix: issued.prefix,
        expires_at: expiresAt,
      });
      await recordAudit(tx, actor, {
        action: 'token.create',
        entity: 'api_token',
        entityId: row.id,
        details: { username: user.username, name: input.name, expiresAt: expiresAt?.toISOString() ?? null },
      });
      return { id: row.id, token: issued.secret, username: user.username, role: user.role, name: row.name, prefix: row.prefix, expiresAt, createdAt: row.created_at };
    });
  }

  async revokeToken(actor: Actor, tokenId: string): Promise<void> {
    await this.db.transaction().execute(async (tx) => {
      if (!(await repo.tokenExists(tx, tokenId))) throw notFound('token-not-found', 'token', tokenId);
      const changed = await repo.revokeToken(tx, tokenId, this.now());
      if (changed) await recordAudit(tx, actor, { action: 'token.revoke', entity: 'api_token', entityId: tokenId });
    });
    // After the commit: a lookup that read the row before it cannot keep it (TokenCache.generation).
    this.tokens.forget(tokenId);
  }
}

export const CLI_ACTOR: Actor = { userId: null, tokenId: null, label: 'cli', requestId: null };
