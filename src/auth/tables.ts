import type { ColumnType, Generated, Insertable, Selectable } from 'kysely';

export type Role = 'admin' | 'supervisor' | 'viewer';
export const ROLES: readonly Role[] = ['admin', 'supervisor', 'viewer'];

export interface UserTable {
  id: Generated<string>;
  username: string;
  role: Role;
  disabled: Generated<boolean>;
  created_at: Generated<Date>;
}
export type UserRow = Selectable<UserTable>;
export type NewUser = Insertable<UserTable>;

/** Bearer API tokens; only the SHA-256 of the secret is stored. */
export interface ApiTokenTable {
  id: Generated<string>;
  user_id: string;
  name: string;
  token_hash: string;
  prefix: string;
  expires_at: ColumnType<Date | null, Date | string | null, Date | string | null>;
  revoked_at: ColumnType<Date | null, never, Date | string | null>;
  last_used_at: ColumnType<Date | null, never, Date | string | null>;
  created_at: Generated<Date>;
}
export type ApiTokenRow = Selectable<ApiTokenTable>;
export type NewApiToken = Insertable<ApiTokenTable>;
