/**
 * Faults with real parts: the daemon SIGKILLed mid-call, Asterisk restarted under a running
 * daemon, and callers arriving while no daemon is connected (they get a prompt, and a CDR later).
 */
import { afterAll, describe, expect, inject, it } from 'vitest';
import { Daemon, eventually } from '../support/daemon.js';
import { holdFor } from '../support/wait.js';
import { Api, cliToken, type Cdr } from '../support/api.js';
import { sippCall } from '../support/sipp.js';
import { asteriskInstance } from '../support/asterisk.js';
import { openDb } from '../support/db.js';
import { sql } from 'kysely';

const world = inject('e2e');
let daemon: Daemon | null = null;
let api: Api;

const call = (scenario: Parameters<typeof sippCall>[0]['scenario'], dialed: string, set?: Record<string, string>) =>
  sippCall({ scenario, dialed, sipPort: world.sipPort, user: world.phone.id, password: world.phone.password, set });

async function startDaemon(): Promise<Daemon> {
  const d = Daemon.start(world.daemonEnv);
  api ??= Api.for(world.daemonEnv, await cliToken(world.daemonEnv, 'admin'));
  await eventually(async () => ((await api.ready()) === 200 ? true : undefined), 30_000, 'daemon ready');
  return d;
}

async function cdrsFor(dialed: string): Promise<Cdr[]> {
  return api.cdrs(`dialed=${dialed}`);
}

async function waitLive(dialed: string): Promise<void> {
  await eventually(async () => {
    const res = await api.get<{ items: { dialedNumber: string; answeredAt: string | null }[] }>('/api/v1/calls/live');
    return res.body.items.find((c) => c.dialedNumber === dialed && c.answeredAt) ? true : undefined;
  }, 15_000, `live call ${dialed}`);
}

afterAll(async () => {
  await daemon?.stop();
});

describe('faults', () => {
  it('daemon killed mid-call: the next daemon adopts the call, ends it, and writes exactly one CDR', async () => {
    daemon = await startDaemon();
    const running = call('uac-long-call', '*99600');
    await waitLive('*99600');
    await daemon.kill();
    const killedAt = Date.now();

    daemon = await startDaemon();
    await daemon.waitForLog((l) => l.msg === 'reconciled live calls with Asterisk' && Number(l['adopted']) >= 1);
    // The adopted call waits for digits again; with none, the digit timer hangs up and SIPp gets BYE.
    const sipp = await running;
    expect(sipp.code, sipp.output).toBe(0);
    const cdrs = await eventually(async () => ((await cdrsFor('*99600')).length ? cdrsFor('*99600') : undefined), 15_000, 'CDR *99600');
    await holdFor(1000, 'room for a second CDR of the adopted call to show');
    expect(await cdrsFor('*99600')).toHaveLength(1);
    const [cdr] = cdrs;
    expect(cdr).toMatchObject({ disposition: 'ANSWERED', endedBy: 'system', reconciled: false, callerNumber: world.phone.number });
    expect(Date.parse(cdr!.startedAt)).toBeLessThan(killedAt);
    expect(cdr!.billableSeconds).toBeGreaterThanOrEqual(3);
  });

  it('caller hangs up while the daemon is dead: the CDR is reconciled after restart', async () => {
    const running = call('uac-hangup-first', '*99601', { hold_ms: '3000' });
    await waitLive('*99601');
    await daemon!.kill();
    daemon = null;
    const sipp = await running;
    expect(sipp.code, sipp.output).toBe(0);
    expect(await cdrsFor('*99601').catch(() => [])).toHaveLength(0); // nobody is running to see it

    daemon = await startDaemon();
    const cdr = await eventually(async () => (await cdrsFor('*99601'))[0], 15_000, 'CDR 601');
    expect(cdr).toMatchObject({ disposition: 'ANSWERED', reconciled: true, endedBy: 'unknown' });
  });

  it('while no daemon is connected, callers are answered with the unavailable prompt, not dropped', async () => {
    expect(await daemon!.stop()).toBe(0); // graceful SIGTERM exits 0
    daemon = null;
    // The dialplan fallback answers, plays "all circuits are busy" and hangs up: SIPp gets a BYE,
    // also when Postgres refuses Asterisk's write of the call (a trigger raising, for this number:
    // as if Postgres were down too). That call goes to Asterisk's spool file instead.
    const conn = openDb(world.db);
    try {
      await sql`create function pbx_test_refuse() returns trigger language plpgsql as $$ begin raise exception 'refused for the test'; end $$`.execute(conn);
      await sql`create trigger pbx_test_refuse before insert on unserved_calls for each row when (new.dialed = '*99605') execute function pbx_test_refuse()`.execute(conn);
      const refused = await call('uac-dtmf-wait-bye', '*99605');
      expect(refused.code, refused.output).toBe(0);
    } finally {
      await sql`drop trigger if exists pbx_test_refuse on unserved_calls`.execute(conn);
      await sql`drop function if exists pbx_test_refuse()`.execute(conn);
      await conn.destroy();
    }
    const sipp = await call('uac-dtmf-wait-bye', '*99602');
    expect(sipp.code, sipp.output).toBe(0);
    // Nothing is lost: Asterisk wrote the call to unserved_calls, and the next daemon makes its CDR.
    daemon = await startDaemon();
    const cdr = await eventually(async () => (await cdrsFor('*99602'))[0], 20_000, 'CDR of the unserved call');
    // The test phone is an endpoint but not an extension: inbound, as the router counts its calls.
    expect(cdr).toMatchObject({
      direction: 'inbound',
      callerNumber: world.phone.number,
      disposition: 'FAILED',
      answeredAt: null,
      hangupCause: 41,
      endedBy: 'system',
      reconciled: true,
    });
    expect(cdr!.durationSeconds).toBeGreaterThanOrEqual(2); // the prompt played before the hangup
    // The call whose row Postgres refused: Asterisk wrote it to its spool file, which the daemon read.
    const spooled = await eventually(async () => (await cdrsFor('*99605'))[0], 20_000, 'CDR of the call Postgres refused');
    expect(spooled).toMatchObject({ callerNumber: world.phone.number, disposition: 'FAILED', hangupCause: 41, endedBy: 'system', reconciled: true });
    expect(spooled!.durationSeconds).toBeGreaterThanOrEqual(2);
    await holdFor(500, 'room for a second CDR of either unserved call to show');
    expect(await cdrsFor('*99602')).toHaveLength(1);
    expect(await cdrsFor('*99605')).toHaveLength(1);
  });

  it('Asterisk restart: ready goes 503, the daemon reconnects, ready is 200 again and calls work', async () => {
    daemon ??= await startDaemon();
    const running = call('uac-long-call', '*99603');
    await waitLive('*99603');

    await asteriskInstance('stop', world.asteriskEnv);
    await eventually(async () => ((await api.ready()) === 503 ? true : undefined), 10_000, 'ready 503');
    const during = await api.get<{ checks: { asterisk: { ok: boolean }; postgres: { ok: boolean } } }>('/health/ready');
    expect(during.body.checks.asterisk.ok).toBe(false);
    expect(during.body.checks.postgres.ok).toBe(true);
    await running; // the call died with Asterisk

    await asteriskInstance('start', world.asteriskEnv);
    try {
      await eventually(async () => ((await api.ready()) === 200 ? true : undefined), 30_000, 'ready 200 after restart');
    } catch (err) {
      // Say why: the readiness report and what the daemon logged while reconnecting.
      const ready = await api.get('/health/ready').catch((e: Error) => ({ status: 0, body: e.message }));
      const tail = daemon!.logs.slice(-25).map((l) => JSON.stringify(l)).join('\n');
      throw new Error(`${(err as Error).message}\nready: ${JSON.stringify(ready)}\ndaemon log tail:\n${tail}`);
    }
    // The call that died with Asterisk has its one CDR (from its last events or from reconciliation).
    await eventually(async () => (await cdrsFor('*99603'))[0], 15_000, 'CDR 603');
    expect(await cdrsFor('*99603')).toHaveLength(1);

    const sipp = await call('uac-dtmf-wait-bye', '*99604');
    expect(sipp.code, sipp.output).toBe(0);
    const cdr = await eventually(async () => (await cdrsFor('*99604'))[0], 15_000, 'CDR 604');
    expect(cdr).toMatchObject({ digits: '123', disposition: 'ANSWERED', reconciled: false });
  });
});
