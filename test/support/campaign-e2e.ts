/**
 * What the campaign e2e files with a real dialer share (campaign-modes, campaign-faults): the SIPp
 * carrier that plays every contact of a campaign by its number's last digit
 * (test/e2e/sipp/campaign-contacts.xml), what it saw (each INVITE, answer and BYE per number, with
 * its time), a CSV list imported through the API, and the campaign's attempts and contacts.
 */
import { readFile, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { expect } from 'vitest';
import { REPO } from './asterisk.js';
import { freePort } from './ports.js';
import { runSipp } from './sipp.js';
import { eventually } from './wait.js';
import type { apiClient } from './pbx.js';

type Admin = ReturnType<typeof apiClient>;

export interface CarrierEvent {
  readonly what: 'dialed' | 'answered' | 'bye' | 'hangs-up' | 'cancelled';
  readonly number: string;
  /** epoch ms */
  readonly at: number;
}

export interface ContactsCarrier {
  readonly port: number;
  readonly events: () => Promise<CarrierEvent[]>;
  /** INVITEs received for `number` (E.164 as dialed). */
  readonly timesDialed: (number: string) => Promise<number>;
  readonly kill: () => void;
}

/**
 * The carrier on `ip` (a free port) for a whole file. `greetingPcap`: what a machine (last digit 5)
 * plays on answer; `lateMedia`: where a late answerer (last digit 6) asks for the call's audio
 * (an RtpPhone on 127.0.0.1). Resolves once SIPp listens.
 */
export async function startContactsCarrier(ip: string, name: string, o: { greetingPcap?: string; lateMediaPort?: number } = {}): Promise<ContactsCarrier> {
  const port = await freePort(true);
  const log = path.join(tmpdir(), `pbx-e2e-${name}-carrier-${Date.now().toString(36)}.log`);
  let xml = await readFile(path.join(REPO, 'test/e2e/sipp/campaign-contacts.xml'), 'utf8');
  if (o.greetingPcap) xml = xml.replace('<!--GREETING-->', `<nop><action><exec play_pcap_audio="${o.greetingPcap}"/></action></nop>`);
  if (o.lateMediaPort) {
    const [from, to] = [xml.indexOf('<label id="late"/>'), xml.indexOf('<label id="late-end"/>')];
    if (from < 0 || to < from) throw new Error('campaign-contacts.xml changed: no late / late-end labels');
    const late = xml.slice(from, to).replace('IN IP[media_ip_type] [media_ip]', 'IN IP4 127.0.0.1').replace('m=audio [media_port]', `m=audio ${o.lateMediaPort}`);
    xml = xml.slice(0, from) + late + xml.slice(to);
  }
  const scenario = `${log}.xml`;
  await writeFile(scenario, xml);
  const sipp = runSipp(['-sf', scenario, '-i', ip, '-p', String(port), '-mp', String(await freePort(true)), '-nostdin', '-trace_logs', '-log_file', log]);
  const hex = `${ip.split('.').reverse().map((b) => Number(b).toString(16).padStart(2, '0')).join('')}:${port.toString(16).padStart(4, '0')}`.toUpperCase();
  await eventually(async () => ((await readFile('/proc/net/udp', 'utf8')).includes(hex) ? true : undefined), 10_000, `carrier listening on ${ip}:${port}`, 20);
  const events = async (): Promise<CarrierEvent[]> => {
    const text = await readFile(log, 'utf8').catch(() => '');
    // <log message="dialed [$dialed] [timestamp]"/>: [timestamp] is "date<TAB>time<TAB>epoch.usec"
    return [...text.matchAll(/^(dialed|answered|bye|hangs-up|cancelled) (\+?\d+) \S+\t\S+\t(\d+\.\d+)/gm)].map((m) => ({
      what: m[1] as CarrierEvent['what'],
      number: m[2]!,
      at: Math.round(Number(m[3]) * 1000),
    }));
  };
  return {
    port,
    events,
    timesDialed: async (n) => (await events()).filter((e) => e.what === 'dialed' && e.number === n).length,
    kill: sipp.kill,
  };
}

/** Import `csv` into the campaign over the API and wait until it is done; the import. */
export async function importCsv(env: Record<string, string>, token: string, admin: Admin, campaignId: string, csv: string): Promise<Record<string, unknown>> {
  const res = await fetch(`http://127.0.0.1:${env['PBX_HTTP_PORT']}/api/v1/campaigns/${campaignId}/imports?fileName=e2e.csv`, {
    method: 'POST', headers: { authorization: `Bearer ${token}`, 'content-type': 'text/csv' }, body: csv,
  });
  expect(res.status, await res.clone().text()).toBe(202);
  const imp = (await res.json()) as Record<string, unknown>;
  return eventually(async () => {
    const r = await admin('GET', `/api/v1/campaigns/${campaignId}/imports/${String(imp.id)}`);
    return r.body.state === 'done' ? (r.body as Record<string, unknown>) : undefined;
  }, 20_000, 'import done');
}

export type Row = Record<string, unknown>;

/** The campaign's attempts (newest first) and contacts, over the API. */
export function campaignViews(admin: Admin, campaignId: string) {
  const attempts = async (): Promise<Row[]> => (await admin('GET', `/api/v1/campaigns/${campaignId}/attempts?limit=200`)).body.items as Row[];
  const contacts = async (): Promise<Row[]> => (await admin('GET', `/api/v1/campaigns/${campaignId}/contacts?limit=200`)).body.items as Row[];
  return {
    attempts,
    contacts,
    contact: async (n: string): Promise<Row> => (await contacts()).find((c) => c.number === n)!,
    attemptsOf: async (n: string): Promise<Row[]> => (await attempts()).filter((a) => a.number === n),
    today: async (): Promise<Row> => {
      const r = await admin('GET', `/api/v1/campaigns/${campaignId}/compliance`);
      expect(r.status, JSON.stringify(r.body)).toBe(200);
      return (r.body.items as Row[]).at(-1)!;
    },
  };
}

/** Create and publish an IVR flow for a campaign: by default a message (hello-world), then hang up. */
export async function publishFlow(admin: Admin, name: string, start = 'hello', nodes: Record<string, unknown> = { hello: { kind: 'play', prompt: { sound: 'hello-world' }, next: 'bye' }, bye: { kind: 'hangup' } }): Promise<void> {
  const flow = await admin('POST', '/api/v1/flows', { name, definition: { language: 'en', start, nodes } });
  expect(flow.status, JSON.stringify(flow.body)).toBe(201);
  expect((await admin('POST', `/api/v1/flows/${name}/publish`)).status).toBe(200);
}
