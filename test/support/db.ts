import pg from 'pg';
import { createDb, createPool, type Db } from '../../src/db/database.js';
import { migrateToLatest } from '../../src/db/migrate.js';
import type { DbSettings } from './env.js';

async function admin<T>(s: Omit<DbSettings, 'name'>, fn: (c: pg.Client) => Promise<T>): Promise<T> {
  const client = new pg.Client({ ...s, database: 'postgres' });
  await client.connect();
  try {
    return await fn(client);
  } finally {
    await client.end();
  }
}

/** A fresh, migrated database for one test run. */
export async function createTestDatabase(s: DbSettings): Promise<void> {
  if (!/^[a-z0-9_]+$/.test(s.name)) throw new Error(`bad test database name ${s.name}`);
  await admin(s, (c) => c.query(`CREATE DATABASE ${s.name}`));
  const db = openDb(s);
  try {
    const { error } = await migrateToLatest(db);
    if (error) throw error;
  } finally {
    await db.destroy();
  }
}

export async function dropTestDatabase(s: DbSettings): Promise<void> {
  await admin(s, (c) => c.query(`DROP DATABASE IF EXISTS ${s.name} WITH (FORCE)`));
}

export function openDb(s: DbSettings): Db {
  return createDb(createPool({ host: s.host, port: s.port, user: s.user, password: s.password, name: s.name }, 4));
}
