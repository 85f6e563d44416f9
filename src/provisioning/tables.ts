import type { ColumnType, Generated, Selectable } from 'kysely';

export type Vendor = 'yealink' | 'polycom' | 'grandstream';

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
