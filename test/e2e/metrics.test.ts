/**
 * GET /metrics (docs/metrics.md) on the built daemon beside a real Asterisk: the ARI and AMI
 * connections are up and counted, a real call through the *99 test service moves the call
 * counters once it has its CDR, and the daemon's ARI requests are timed by resource.
 */
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { Daemon, eventually } from '../support/daemon.js';
import { Api, cliToken } from '../support/api.js';
import { sippCall } from '../support/sipp.js';

const world = inject('e2e');
let daemon: Daemon;
let api: Api;
let token = '';
const base = `http://127.0.0.1:${world.daemonEnv['PBX_HTTP_PORT']}`;

async function scrape(): Promise<string> {
  const res = await fetch(`${base}/metrics`, { headers: { authorization: `Bearer ${token}` }, signal: AbortSignal.timeout(5_000) });
  expect(res.status).toBe(200);
  return res.text();
}

/** The sum of every sample of `name` whose labels include `labels` (e.g. 'resource="channels"'). */
function sum(text: string, name: string, ...labels: string[]): number {
  let total = 0;
  for (const line of text.split('\n')) {
    const m = /^([a-z_]+)(\{[^}]*\})? (\S+)$/.exec(line);
    if (m?.[1] === name && labels.every((l) => (m[2] ?? '').includes(l))) total += Number(m[3]);
  }
  return total;
}

beforeAll(async () => {
  daemon = Daemon.start(world.daemonEnv);
  token = await cliToken(world.daemonEnv, 'viewer');
  api = Api.for(world.daemonEnv, token);
  await eventually(async () => ((await api.ready()) === 200 ? true : undefined), 30_000, 'daemon ready');
});

afterAll(async () => {
  expect(await daemon?.stop()).toBe(0);
});

describe('metrics with a real Asterisk', () => {
  it('shows ARI and AMI connected, counts a real call, and times the ARI requests', async () => {
    const before = await scrape();
    expect(sum(before, 'pbx_asterisk_connected', 'interface="ari"')).toBe(1);
    expect(sum(before, 'pbx_asterisk_connected', 'interface="ami"')).toBe(1);
    expect(sum(before, 'pbx_asterisk_connections_total', 'interface="ari"')).toBeGreaterThanOrEqual(1);
    expect(sum(before, 'pbx_asterisk_connections_total', 'interface="ami"')).toBeGreaterThanOrEqual(1);
    const started = sum(before, 'pbx_calls_started_total');
    const answered = sum(before, 'pbx_calls_ended_total', 'disposition="ANSWERED"');
    const channelRequests = sum(before, 'pbx_ari_request_duration_seconds_count', 'resource="channels"', 'outcome="ok"');

    const sipp = await sippCall({ scenario: 'uac-dtmf-wait-bye', dialed: '*99500', sipPort: world.sipPort, user: world.phone.id, password: world.phone.password });
    expect(sipp.code, sipp.output).toBe(0);

    await eventually(async () => {
      const after = await scrape();
      expect(sum(after, 'pbx_calls_started_total')).toBe(started + 1);
      expect(sum(after, 'pbx_calls_ended_total', 'disposition="ANSWERED"')).toBe(answered + 1);
      expect(sum(after, 'pbx_calls_in_progress')).toBe(0);
      // The call was answered, played to and hung up over ARI's /channels.
      expect(sum(after, 'pbx_ari_request_duration_seconds_count', 'resource="channels"', 'outcome="ok"')).toBeGreaterThan(channelRequests);
      return true;
    }, 15_000, 'the call in the metrics');
  });
});
