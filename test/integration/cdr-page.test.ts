/**
 * The CDR list's compiled query shapes (cdrPageReader, src/db/prepared.ts): the same rows, order
 * and columns as searchCdrs (Kysely building the query each time) for every filter, the cursor and
 * limits, across shapes used again with new values; a shape of only a range and the cursor runs as
 * a named statement in Postgres (Kysely handing pg's query config through), one with an equality
 * filter does not.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { inject } from 'vitest';
import { sql } from 'kysely';
import { cdrPageReader, searchCdrs, type CdrPageRow, type CdrQuery } from '../../src/calls/repository.js';
import type { Db } from '../../src/db/database.js';
import { createDb, createPool } from '../../src/db/database.js';
import { createTestDatabase, dropTestDatabase } from '../support/db.js';
import { runId } from '../support/env.js';
import { generateCdrs, type CdrHistory } from '../support/history.js';

const dbSettings = { ...inject('db'), name: `pbx_it_cdrpage_${runId()}` };
const history: CdrHistory = { rows: 500, from: new Date('2026-01-01T00:00:00Z'), stepMs: 60_000, prefix: 'pg-' };
let db: Db;

beforeAll(async () => {
  await createTestDatabase(dbSettings);
  // One connection: the named statements of this test's reads are all on the session it asks.
  db = createDb(createPool({ ...dbSettings }, 1));
  await generateCdrs(db, history);
  // Two calls in the same microsecond-less millisecond as another row: the cursor keeps them apart.
  await sql`UPDATE cdrs SET started_at = (SELECT started_at FROM cdrs WHERE call_id = 'pg-100') WHERE call_id IN ('pg-101', 'pg-102')`.execute(db);
}, 120_000);

afterAll(async () => {
  await db?.destroy();
  await dropTestDatabase(dbSettings);
});

/** Every page of a query, newest first, through `read`, the cursor taken from each page's last row. */
async function allPages(read: (q: CdrQuery) => Promise<CdrPageRow[]>, q: CdrQuery): Promise<CdrPageRow[]> {
  const out: CdrPageRow[] = [];
  let after: CdrQuery['after'];
  for (;;) {
    const rows = await read({ ...q, after });
    out.push(...rows);
    const last = rows[rows.length - 1];
    if (rows.length < q.limit || !last) return out;
    after = { at: last.cursor_at, id: last.id };
  }
}

describe('cdrPageReader', () => {
  const filters: CdrQuery[] = [
    { limit: 21 },
    { limit: 7, from: new Date('2026-01-01T02:00:00Z'), to: new Date('2026-01-01T05:00:00Z') },
    { limit: 5, from: new Date('2026-01-01T03:00:00Z') },
    { limit: 5, to: new Date('2026-01-01T01:00:00Z') },
    { limit: 9, dialed: '110', disposition: 'ANSWERED' },
    { limit: 3, caller: '+493000000042' },
    { limit: 4, direction: 'internal', from: new Date('2026-01-01T01:00:00Z') },
    { limit: 2, callId: 'pg-77' },
    { limit: 50, disposition: 'NO ANSWER' },
  ];

  it.each(filters)('pages %j as searchCdrs does', async (q) => {
    const read = cdrPageReader(db);
    const expected = await allPages((x) => searchCdrs(db, x), q);
    expect(expected.length).toBeGreaterThan(0);
    // Twice: the second run takes the shape compiled by the first, with new values (the cursor's).
    expect(await allPages(read, q)).toEqual(expected);
    expect(await allPages(read, q)).toEqual(expected);
  });

  it('takes new values into a shape it compiled', async () => {
    const read = cdrPageReader(db);
    const a = await read({ limit: 3, dialed: '101' });
    const b = await read({ limit: 3, dialed: '102' });
    expect(a.map((r) => r.dialed_number)).toEqual(['101', '101', '101']);
    expect(b.map((r) => r.dialed_number)).toEqual(['102', '102', '102']);
    expect(b).toEqual(await searchCdrs(db, { limit: 3, dialed: '102' }));
  });

  it('names only the shapes of a range and the cursor in Postgres', async () => {
    const read = cdrPageReader(db);
    // This session's named statements of limit 11 (no other test here uses that limit).
    const named = async () =>
      (await sql<{ name: string; statement: string }>`SELECT name, statement FROM pg_prepared_statements WHERE name LIKE 'pbx_cdrs_%' AND statement LIKE '%limit 11'`.execute(db)).rows;
    expect(await named()).toEqual([]);
    await read({ limit: 11 });
    await read({ limit: 11, from: new Date('2026-01-01T01:00:00Z'), after: { at: '2026-01-01T05:00:00.000000Z', id: '300' } });
    expect(await named()).toHaveLength(2);
    await read({ limit: 11, caller: '+493000000042' });
    await read({ limit: 11, from: new Date('2026-01-01T02:00:00Z') });
    expect(await named()).toHaveLength(3);
  });
});
