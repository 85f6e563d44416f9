import { Kysely, PostgresDialect, type Transaction } from 'kysely';
import pg from 'pg';
import type { Config } from '../config.js';
import type { LiveCallTable, UnservedCallTable, UnservedFileReadTable } from './tables/calls.js';
import type { CdrTable } from './tables/cdrs.js';
import type { ApiTokenTable, UserTable } from './tables/auth.js';
import type { AuditLogTable } from './tables/audit.js';
import type { ExtensionTable, PsAorTable, PsAuthTable, PsContactTable, PsEndpointTable } from './tables/extensions.js';

export interface Database {
  live_calls: LiveCallTable;
  unserved_calls: UnservedCallTable;
  unserved_file_reads: UnservedFileReadTable;
  cdrs: CdrTable;
  users: UserTable;
  api_tokens: ApiTokenTable;
  audit_log: AuditLogTable;
  extensions: ExtensionTable;
  ps_endpoints: PsEndpointTable;
  ps_auths: PsAuthTable;
  ps_aors: PsAorTable;
  ps_contacts: PsContactTable;
}

export type Db = Kysely<Database>;
export type DbOrTx = Kysely<Database> | Transaction<Database>;

// bigint ids come back as strings; keep them as strings (ids are opaque).
export function createPool(db: Config['db'], max = 10): pg.Pool {
  const pool = new pg.Pool({
    host: db.host,
    port: db.port,
    database: db.name,
    user: db.user,
    password: db.password,
    max,
    connectionTimeoutMillis: 5_000,
    idleTimeoutMillis: 30_000,
    application_name: 'pbx',
  });
  // A pool error on an idle client (e.g. Postgres restarted) must not crash the daemon.
  pool.on('error', () => undefined);
  return pool;
}

export function createDb(pool: pg.Pool): Db {
  return new Kysely<Database>({ dialect: new PostgresDialect({ pool }) });
}
