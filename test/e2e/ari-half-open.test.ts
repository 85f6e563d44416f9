/**
 * A half-open ARI socket (issue #22): the path to Asterisk drops packets both ways, and neither
 * side sees a FIN or an RST. The built daemon reaches the world's Asterisk (ARI's REST and event
 * WebSocket) through a TCP gate (test/support/tcp-gate.ts) that this test freezes. The daemon pings
 * the event socket every 10 s and drops it when the pong of the previous ping has not come
 * (src/telephony/ari.ts): /health/ready goes 503 (checks.asterisk.ari false) within two ping
 * intervals of the freeze. Once the path is back, the daemon reconnects (its ARI REST probe answered,
 * a new event socket) within the reconnect backoff's cap (PBX_RECONNECT_MAX_MS, 2 s in e2e) and
 * ready is 200 again. docs/operations.md has the figures.
 */
import { afterAll, describe, expect, inject, it } from 'vitest';
import { Daemon, eventually } from '../support/daemon.js';
import { tcpGate } from '../support/tcp-gate.js';

const world = inject('e2e');
/** src/telephony/ari.ts PING_INTERVAL_MS: a ping each interval, the socket dropped at the next tick without its pong. */
const PING_INTERVAL_MS = 10_000;
const gate = tcpGate({ host: '127.0.0.1', port: Number(world.daemonEnv['PBX_ARI_PORT']) });
let daemon: Daemon | null = null;

interface Readiness {
  status: string;
  checks: { asterisk: { ari: boolean; ami: boolean } };
}

async function readiness(): Promise<{ status: number; body: Readiness } | undefined> {
  try {
    const res = await fetch(`http://127.0.0.1:${world.daemonEnv['PBX_HTTP_PORT']}/health/ready`, { signal: AbortSignal.timeout(3_000) });
    return { status: res.status, body: (await res.json()) as Readiness };
  } catch {
    return undefined;
  }
}

afterAll(async () => {
  await daemon?.stop();
  await gate.close();
});

describe('ARI socket half-open', () => {
  it('is noticed by a missed pong (ready 503) and the daemon reconnects once the path is back (ready 200)', async () => {
    await gate.open();
    daemon = Daemon.start({ ...world.daemonEnv, PBX_ARI_PORT: String(gate.port) });
    await eventually(async () => ((await readiness())?.status === 200 ? true : undefined), 30_000, 'daemon ready through the gate');
    const connected = () => daemon!.logs.filter((l) => l.msg === 'ARI event socket connected').length;
    expect(connected()).toBe(1);

    gate.freeze();
    const frozenAt = Date.now();
    const down = await eventually(async () => {
      const r = await readiness();
      return r?.status === 503 ? r : undefined;
    }, 2 * PING_INTERVAL_MS + 5_000, 'ready 503 after the missed pong', 100);
    const noticedMs = Date.now() - frozenAt;
    expect(down.body.checks.asterisk).toMatchObject({ ari: false, ami: true });
    expect(daemon.logs.some((l) => l.msg === 'ARI socket missed a pong; dropping it')).toBe(true);

    gate.thaw();
    const thawedAt = Date.now();
    await eventually(async () => ((await readiness())?.status === 200 ? true : undefined), 8_000, 'ready 200 once the path is back', 100);
    const backMs = Date.now() - thawedAt;
    expect(connected()).toBe(2);
    process.stderr.write(`[ari-half-open] noticed ${(noticedMs / 1000).toFixed(1)} s after the freeze; ready again ${(backMs / 1000).toFixed(1)} s after the thaw\n`);
  }, 60_000);
});
