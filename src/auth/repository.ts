import type { DbOrTx } from '../db/database.js';
import type { ApiTokenRow, NewApiToken, NewUser, Role, UserRow } from './tables.js';

export async function insertUser(db: DbOrTx, user: NewUser): Promise<UserRow> {
  return db.insertInto('users').values(user).returningAll().executeTakeFirstOrThrow();
}

export async function findUserByName(db: DbOrTx, username: string): Promise<UserRow | undefined> {
  return db.selectFrom('users').selectAll().where('username', '=', username).executeTakeFirst();
}

export async function findUserById(db: DbOrTx, id: string): Promise<UserRow | undefined> {
  return db.selectFrom('users').selectAll().where('id', '=', id).executeTakeFirst();
}

export async function listUsers(db: DbOrTx): Promise<UserRow[]> {
  return db.selectFrom('users').selectAll().orderBy('id').execute();
}

export async function insertToken(db: DbOrTx, token: NewApiToken): Promise<ApiTokenRow> {
  return db.insertInto('api_tokens').values(token).returningAll().executeTakeFirstOrThrow();
}

export interface TokenWithUser {
  readonly tokenId: string;
  readonly userId: string;
  readonly username: string;
  readonly role: Role;
  readonly disabled: boolean;
  readonly expiresAt: Date | null;
  readonly revokedAt: Date | null;
  readonly lastUsedAt: Date | null;
}

export async function findTokenByHash(db: DbOrTx, hash: string): Promise<TokenWithUser | undefined> {
  const row = await db
    .selectFrom('api_tokens as t')
    .innerJoin('users as u', 'u.id', 't.user_id')
    .select([
      't.id as tokenId',
      'u.id as userId',
      'u.username',
      'u.role',
      'u.disabled',
      't.expires_at as expiresAt',
      't.revoked_at as revokedAt',
      't.last_used_at as lastUsedAt',
    ])
    .where('t.token_hash', '=', hash)
    .executeTakeFirst();
  return row;
}

export async function touchToken(db: DbOrTx, tokenId: string, at: Date): Promise<void> {
  await db.updateTable('api_tokens').set({ last_used_at: at }).where('id', '=', tokenId).execute();
}

export async function listTokens(db: DbOrTx): Promise<(Omit<ApiTokenRow, 'token_hash'> & { username: string; role: Role })[]> {
  return db
    .selectFrom('api_tokens as t')
    .innerJoin('users as u', 'u.id', 't.user_id')
    .select(['t.id', 't.user_id', 'u.username', 'u.role', 't.name', 't.prefix', 't.expires_at', 't.revoked_at', 't.last_used_at', 't.created_at'])
    .orderBy('t.id')
    .execute();
}

export async function revokeToken(db: DbOrTx, tokenId: string, at: Date): Promise<boolean> {
  const res = await db
    .updateTable('api_tokens')
    .set({ revoked_at: at })
    .where('id', '=', tokenId)
    .where('revoked_at', 'is', null)
    .executeTakeFirst();
  return res.numUpdatedRows > 0n;
}

export async function tokenExists(db: DbOrTx, tokenId: string): Promise<boolean> {
  return (await db.selectFrom('api_tokens').select('id').where('id', '=', tokenId).executeTakeFirst()) !== undefined;
}
