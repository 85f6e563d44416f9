/**
 * The warm DID rules (src/trunks/inbound-view.ts) against a real Postgres: read once, then from
 * memory; a change to a rule, or to the name of the flow it targets, is seen without a restart;
 * with the LISTEN connection gone every call reads Postgres again. Reads are counted by a Kysely
 * plugin on the view's own handle. Other test files write routes, flows and queues in the same
 * database meanwhile, so "served from memory" is asserted as "a quiet moment with no read comes".
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { inject } from 'vitest';
import { sql, type KyselyPlugin } from 'kysely';
import type { Db } from '../../src/db/database.js';
import { createLogger } from '../../src/logger.js';
import { inboundRulesView, type InboundRulesView } from '../../src/trunks/inbound-view.js';
import { openDb } from '../support/db.js';
import { eventually } from '../support/wait.js';
import { testConfig } from '../support/app.js';

let db: Db;
let reads = 0;
let view: InboundRulesView;
const counting: KyselyPlugin = {
  transformQuery: (args) => {
    reads++;
    return args.node;
  },
  transformResult: async (args) => args.result,
};

const DID = '4939977';

beforeAll(() => {
  db = openDb(inject('db'));
  const config = testConfig();
  view = inboundRulesView(db.withPlugin(counting), { db: config.db, backoff: { baseMs: 50, maxMs: 200 } }, createLogger('silent'));
});

afterAll(async () => {
  await view.stop();
  await sql`delete from inbound_routes where did_pattern = ${DID}`.execute(db);
  await sql`delete from flows where name like 'it-inbound-view-%'`.execute(db);
  await db.destroy();
});

/** True once two calls in a row read nothing from Postgres (tried every 50 ms, for up to 5 s). */
async function servedFromMemory(): Promise<boolean> {
  return eventually(async () => {
    await view.rules();
    const before = reads;
    await view.rules();
    await view.rules();
    return reads === before ? true : undefined;
  }, 5_000, 'two calls in a row served from memory', 50).catch(() => false);
}

/** Poll `check` until it holds (5 s at most). */
const seen = (check: () => Promise<boolean>, what: string) => eventually(async () => ((await check()) ? true : undefined), 5_000, what);

const ruleFor = async () => (await view.rules()).rules.find((r) => r.didPattern === DID);

describe('warm DID rules', () => {
  it('are served from memory while listening and follow changes to rules and target names', async () => {
    view.start();
    expect(await servedFromMemory()).toBe(true);

    const flow = await sql<{ id: string }>`insert into flows (name) values ('it-inbound-view-a') returning id`.execute(db);
    const flowId = flow.rows[0]!.id;
    await sql`insert into inbound_routes (name, did_pattern, target_kind, target_flow) values ('it-inbound-view', ${DID}, 'flow', ${flowId})`.execute(db);
    await seen(async () => (await ruleFor())?.target.kind === 'flow', 'new rule');
    expect((await ruleFor())?.target).toEqual({ kind: 'flow', flow: 'it-inbound-view-a' });
    expect(await servedFromMemory()).toBe(true);

    // The rule shows its target's name: a renamed flow is a changed rule.
    await sql`update flows set name = 'it-inbound-view-b' where id = ${flowId}`.execute(db);
    await seen(async () => {
      const target = (await ruleFor())?.target;
      return target?.kind === 'flow' && target.flow === 'it-inbound-view-b';
    }, 'renamed flow');

    await sql`delete from inbound_routes where did_pattern = ${DID}`.execute(db);
    await seen(async () => (await ruleFor()) === undefined, 'rule gone');
  });

  it('keep other values read from the same tables (a flow by name) warm, dropped when a change is announced', async () => {
    await sql`insert into flows (name) values ('it-inbound-view-c')`.execute(db);
    const named = view.keepEach(async (name) => (await sql<{ id: string }>`select id from flows where name = ${name}`.execute(db)).rows[0]?.id ?? null);
    const idOf = async (): Promise<string | null> => {
      reads++; // the read above bypasses the counting handle: count it here, as the view calls it
      return (await sql<{ id: string }>`select id from flows where name = 'it-inbound-view-c'`.execute(db)).rows[0]?.id ?? null;
    };
    const counted = view.keep(idOf);
    const first = await named('it-inbound-view-c');
    expect(first).not.toBeNull();
    expect(await servedFromMemory()).toBe(true);
    const quiet = await eventually(async () => {
      await counted();
      const before = reads;
      await counted();
      return reads === before ? true : undefined;
    }, 5_000, 'a kept value served from memory', 50).catch(() => false);
    expect(quiet).toBe(true);

    await sql`delete from flows where name = 'it-inbound-view-c'`.execute(db);
    await seen(async () => (await named('it-inbound-view-c')) === null, 'kept value follows the deleted flow');
    await seen(async () => (await counted()) === null, 'kept value follows the deleted flow');
  });

  it('are read from Postgres for every call while the LISTEN connection is gone', async () => {
    await view.stop();
    const before = reads;
    await view.rules();
    await view.rules();
    expect(reads).toBe(before + 2);
  });
});
