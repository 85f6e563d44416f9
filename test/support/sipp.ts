import { spawn } from 'node:child_process';
import { readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { REPO } from './asterisk.js';
import { freePort } from './ports.js';
import { eventually } from './wait.js';

export interface SippResult {
  code: number | null;
  output: string;
}

export interface SippCall {
  scenario: 'uac-dtmf-wait-bye' | 'uac-hangup-first' | 'uac-long-call' | 'uac-refused' | 'uac-unavailable' | 'uac-cancel' | 'xfer-consult';
  sipPort: number;
  dialed: string;
  user: string;
  password: string;
  set?: Record<string, string>;
  timeoutS?: number;
  /** Source address; 127.0.0.2 plays a carrier's host (IP-identified trunk). */
  localIp?: string;
  /** Keep SIPp's <log> lines (and errors) in this file. */
  logFile?: string;
  /** A scenario file of its own (e.g. from dtmfScenario()) instead of `scenario`. */
  scenarioFile?: string;
}

/** One real SIP call from SIPp (RFC 4733 DTMF from sip-tester's pcaps). Resolves when SIPp exits. */
export async function sippCall(call: SippCall): Promise<SippResult> {
  const [localPort, mediaPort] = [await freePort(true), await freePort(true)];
  const args = [
    `127.0.0.1:${call.sipPort}`,
    '-sf', call.scenarioFile ?? path.join(REPO, 'test/e2e/sipp', `${call.scenario}.xml`),
    '-s', call.dialed,
    '-key', 'caller', call.user,
    '-au', call.user,
    '-ap', call.password,
    '-m', '1', '-l', '1',
    '-p', String(localPort),
    '-mp', String(mediaPort),
    '-i', call.localIp ?? '127.0.0.1',
    '-timeout', `${call.timeoutS ?? 60}s`,
    '-timeout_error',
    '-nostdin',
  ];
  for (const [k, v] of Object.entries(call.set ?? {})) args.push('-set', k, v);
  if (call.logFile) args.push('-trace_logs', '-log_file', call.logFile, '-trace_err', '-error_file', `${call.logFile}.err`);
  return new Promise((resolve) => {
    const proc = spawn('sipp', args, { stdio: ['ignore', 'pipe', 'pipe'] });
    let output = '';
    proc.stdout.on('data', (c: Buffer) => (output += c.toString()));
    proc.stderr.on('data', (c: Buffer) => (output += c.toString()));
    proc.once('exit', (code) => resolve({ code, output: output.slice(-4000) }));
  });
}

/** SIPp with these arguments: its exit (code, the end of its output) and a way to kill it. */
export function runSipp(args: string[]): { done: Promise<SippResult>; kill: () => void } {
  const proc = spawn('sipp', args, { stdio: ['ignore', 'pipe', 'pipe'] });
  let output = '';
  proc.stdout.on('data', (c: Buffer) => (output += c.toString()));
  proc.stderr.on('data', (c: Buffer) => (output += c.toString()));
  const done = new Promise<SippResult>((resolve) => proc.once('exit', (code) => resolve({ code, output: output.slice(-4000) })));
  return { done, kill: () => proc.kill('SIGKILL') };
}

/** A desk phone registers to its extension (REGISTER with digest auth) from `port`. */
export async function registerPhone(o: { sipPort: number; ext: string; password: string; port: number; expires?: number }): Promise<SippResult> {
  return runSipp([
    `127.0.0.1:${o.sipPort}`, '-sf', path.join(REPO, 'test/e2e/sipp/register.xml'),
    '-key', 'caller', o.ext, '-au', o.ext, '-ap', o.password, '-key', 'expires', String(o.expires ?? 300),
    '-p', String(o.port), '-m', '1', '-l', '1', '-i', '127.0.0.1', '-timeout', '15s', '-timeout_error', '-nostdin',
  ]).done;
}

/**
 * A BLF key on `ext`'s phone watching extension `watched` (SUBSCRIBE, Event: dialog) from `port`:
 * logs each dialog state it is told ("blf early", "blf confirmed", ...) to `logFile`; exits 0 once
 * the watched extension has been on a call and is free again.
 */
export function watchLamp(o: { sipPort: number; ext: string; password: string; watched: string; port: number; logFile: string }): { done: Promise<SippResult>; kill: () => void } {
  return runSipp([
    `127.0.0.1:${o.sipPort}`, '-sf', path.join(REPO, 'test/e2e/sipp/blf-watch.xml'),
    '-key', 'caller', o.ext, '-key', 'watched', o.watched, '-au', o.ext, '-ap', o.password,
    '-p', String(o.port), '-m', '1', '-l', '1', '-i', '127.0.0.1', '-timeout', '60s', '-timeout_error', '-nostdin',
    '-trace_logs', '-log_file', o.logFile, '-trace_msg', '-message_file', `${o.logFile}.msg`, '-trace_err', '-error_file', `${o.logFile}.err`,
  ]);
}

/** The registered phone on `port` answers Asterisk's next `count` qualify OPTIONS 200 OK, as real phones do. */
export function answerOptions(port: number, count: number): { done: Promise<SippResult>; kill: () => void } {
  return runSipp([
    '-sf', path.join(REPO, 'test/e2e/sipp/phone-options.xml'), '-p', String(port), '-i', '127.0.0.1',
    '-m', String(count), '-timeout', '30s', '-timeout_error', '-nostdin',
  ]);
}

/**
 * The registered phone waits on `port` for one call and answers, refuses busy, declines (603), lets it ring, or never responds.
 * `answerAfterMs` (phone-answer): let it ring that long before answering (300 ms otherwise).
 */
export async function startPhone(
  scenario: 'phone-answer' | 'phone-busy' | 'phone-decline' | 'phone-no-answer' | 'phone-silent' | 'phone-hold' | 'phone-answer-hangup',
  port: number,
  logFile: string,
  o: { answerAfterMs?: number } = {},
): Promise<{ done: Promise<SippResult>; kill: () => void }> {
  let scenarioFile = path.join(REPO, 'test/e2e/sipp', `${scenario}.xml`);
  if (o.answerAfterMs !== undefined) {
    const ring = '<pause milliseconds="300"/>';
    const xml = await readFile(scenarioFile, 'utf8');
    if (scenario !== 'phone-answer' || !xml.includes(ring)) throw new Error(`answerAfterMs: ${scenario}.xml has no ${ring} before its 200 OK`);
    scenarioFile = `${logFile}.xml`;
    await writeFile(scenarioFile, xml.replace(ring, `<pause milliseconds="${Math.round(o.answerAfterMs)}"/>`));
  }
  return runSipp([
    '-sf', scenarioFile, '-p', String(port), '-mp', String(await freePort(true)),
    '-i', '127.0.0.1', '-m', '1', '-timeout', '60s', '-timeout_error', '-nostdin', '-trace_logs', '-log_file', logFile, '-trace_msg', '-message_file', `${logFile}.msg`, '-trace_err', '-error_file', `${logFile}.err`,
  ]);
}

/**
 * The registered phone on `port` answers the next call, talks 1 s, then blind-transfers the caller
 * to `target` (xfer-blind.xml: REFER, the NOTIFYs, then BYE).
 */
export async function startBlindTransferPhone(port: number, target: string, logFile: string): Promise<{ done: Promise<SippResult>; kill: () => void }> {
  return runSipp([
    '-sf', path.join(REPO, 'test/e2e/sipp/xfer-blind.xml'), '-p', String(port), '-mp', String(await freePort(true)), '-i', '127.0.0.1', '-m', '1',
    '-key', 'target', target, '-timeout', '60s', '-timeout_error', '-nostdin', '-trace_logs', '-log_file', logFile, '-trace_msg', '-message_file', `${logFile}.msg`,
  ]);
}

/**
 * The carrier side of a trunk on `ip:port`: answers one call, logs the dialed number, waits for BYE
 * (uas-congested: refuses it with 503 instead). Resolves once SIPp listens there.
 */
export async function startCarrier(ip: string, port: number, logFile: string, scenario: 'uas-answer' | 'uas-congested' = 'uas-answer'): Promise<{ done: Promise<SippResult>; kill: () => void }> {
  const sipp = runSipp([
    '-sf', path.join(REPO, 'test/e2e/sipp', `${scenario}.xml`), '-i', ip, '-p', String(port), '-mp', String(await freePort(true)),
    '-timeout', '60s', '-timeout_error', '-nostdin', '-trace_logs', '-log_file', logFile,
  ]);
  await udpListening(ip, port, sipp.done);
  return sipp;
}

/** Until a socket is bound to UDP `ip:port` (Linux: /proc/net/udp); throws if `proc` ends first. */
async function udpListening(ip: string, port: number, proc: Promise<SippResult>): Promise<void> {
  let ended: SippResult | null = null;
  // `proc` resolves on exit and never rejects; the caller awaits it as well.
  proc.then((r) => (ended = r)).catch(() => undefined);
  // /proc/net/udp: local_address as hex, the IPv4 address in host (little-endian) byte order.
  const hexIp = ip.split('.').reverse().map((b) => Number(b).toString(16).padStart(2, '0')).join('').toUpperCase();
  const local = `${hexIp}:${port.toString(16).padStart(4, '0').toUpperCase()}`;
  const state = await eventually(async () => {
    if (ended) return 'ended';
    const table = await readFile('/proc/net/udp', 'utf8');
    return table.split('\n').some((line) => line.trim().split(/\s+/)[1] === local) ? 'listening' : undefined;
  }, 10_000, `SIPp listening on udp ${ip}:${port}`, 20);
  if (state === 'ended') throw new Error(`SIPp ended before listening on udp ${ip}:${port}: ${ended!.output}`);
}
