import type { ColumnType, Generated, Kysely, Selectable, Transaction } from 'kysely';
import type { Database, Db, DbOrTx } from '../db/database.js';
import type { Vendor } from './render.js';

/** A desk phone (migrations/2026-11-23T03-00-00_devices.ts). */
export interface DeviceTable {
  id: Generated<string>;
  mac: string;
  vendor: Vendor;
  model: ColumnType<string, string | undefined, string>;
  extension_number: string;
  label: string | null;
  /** jsonb array of extension numbers; written as JSON text */
  blf_keys: ColumnType<string[], string, string>;
  prov_password_hash: string | null;
  prov_allowed_networks: ColumnType<string[], string, string>;
  last_provisioned_at: ColumnType<Date | null, never, Date>;
  last_provisioned_ip: ColumnType<string | null, never, string>;
  created_at: Generated<Date>;
  updated_at: ColumnType<Date, Date | undefined, Date>;
}
export type DeviceRow = Selectable<DeviceTable>;

/** The columns of other features' tables that provisioning reads (never writes). */
type ExtensionColumns = {
  number: string;
  display_name: string;
};
type PsAuthColumns = {
  id: string;
  password: string | null;
};

// A type alias, not an interface: Kysely's withTables needs an indexable record type.
export type ProvisioningTables = {
  devices: DeviceTable;
  extensions: ExtensionColumns;
  ps_auths: PsAuthColumns;
};

export type ProvisioningDatabase = Database & ProvisioningTables;
export type ProvDb = Kysely<ProvisioningDatabase>;
export type ProvDbOrTx = ProvDb | Transaction<ProvisioningDatabase>;

/** The app's Kysely instance, typed with the tables this feature uses (same pool, no copy). */
export function provisioningDb(db: Db): ProvDb {
  return db.withTables<ProvisioningTables>();
}

/**
 * The same connection or transaction seen with only the core tables, for shared helpers such as
 * recordAudit (same transaction). Safe: ProvisioningDatabase is a superset of Database.
 */
export function coreTables(db: ProvDbOrTx): DbOrTx {
  return db as unknown as DbOrTx;
}
