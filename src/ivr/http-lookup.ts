/**
 * The HTTP lookup an IVR flow makes (a CRM asked about the caller): GET the configured URL with the
 * caller's number, the dialed number and the node's parameters as query parameters, under the
 * node's timeout. The answer must be JSON (at most 64 kB); anything else is a failure the flow
 * takes its error edge on. Redirects are refused. Never throws.
 *
 * Only hosts the site allows are reached (lookup-hosts.ts): an address literal is checked before
 * connecting, a name on the addresses it resolves to, inside the socket's own DNS lookup, so the
 * address checked is the address connected to. A refused host is the error 'not-allowed'.
 */
import { lookup as dnsLookup, type LookupAddress } from 'node:dns';
import http, { type IncomingMessage } from 'node:http';
import https from 'node:https';
import { isIP, type LookupFunction } from 'node:net';
import type { LookupResult } from './port.js';
import { addressAllowed, bareHost, LookupHostRefused, type LookupHostPolicy } from './lookup-hosts.js';

const MAX_BODY_BYTES = 64 * 1024;

export type HttpLookup = (
  url: string,
  params: Readonly<Record<string, string>>,
  timeoutMs: number,
  caller: { readonly callerNumber: string | null; readonly dialedNumber: string | null },
) => Promise<LookupResult>;

/** The lookup under the site's host policy. `onRefused` hears of each refused host (for the log). */
export function httpLookup(policy: LookupHostPolicy, onRefused: (host: string, address: string) => void = () => undefined): HttpLookup {
  return async (url, params, timeoutMs, caller) => {
    let target: URL;
    try {
      target = new URL(url);
    } catch {
      return { ok: false, error: 'network' };
    }
    if (target.protocol !== 'http:' && target.protocol !== 'https:') return { ok: false, error: 'network' };
    const host = bareHost(target.hostname);
    if (isIP(host) !== 0 && !addressAllowed(policy, host, host)) {
      onRefused(host, host);
      return { ok: false, error: 'not-allowed' };
    }
    if (caller.callerNumber) target.searchParams.set('caller', caller.callerNumber);
    if (caller.dialedNumber) target.searchParams.set('dialed', caller.dialedNumber);
    for (const [k, v] of Object.entries(params)) target.searchParams.set(k, v);
    const signal = AbortSignal.timeout(timeoutMs);
    try {
      const res = await get(target, signal, guardedLookup(policy, host));
      const status = res.statusCode ?? 0;
      if (status >= 300 && status < 400) {
        res.destroy();
        return { ok: false, error: 'network' }; // redirects are refused (they could lead anywhere)
      }
      if (status < 200 || status >= 300) {
        res.destroy();
        return { ok: false, error: 'http-error', status };
      }
      const text = await readCapped(res, MAX_BODY_BYTES);
      if (text === null) return { ok: false, error: 'bad-json', status };
      try {
        return { ok: true, body: JSON.parse(text) as unknown };
      } catch {
        return { ok: false, error: 'bad-json', status };
      }
    } catch (err) {
      if (err instanceof LookupHostRefused) {
        onRefused(err.host, err.address);
        return { ok: false, error: 'not-allowed' };
      }
      return { ok: false, error: signal.aborted || (err as Error).name === 'TimeoutError' ? 'timeout' : 'network' };
    }
  };
}

/** The socket's DNS lookup: every address the name resolves to must be allowed, else LookupHostRefused. */
export function guardedLookup(policy: LookupHostPolicy, host: string): LookupFunction {
  return (hostname, options, callback) => {
    dnsLookup(hostname, { ...options, all: true }, (err, addresses: LookupAddress[]) => {
      if (err) return callback(err, '', 0);
      const refused = addresses.find((a) => !addressAllowed(policy, host, a.address));
      if (refused) return callback(new LookupHostRefused(host, refused.address), '', 0);
      if (options.all) return (callback as unknown as (e: null, a: LookupAddress[]) => void)(null, addresses);
      const first = addresses[0];
      if (!first) return callback(Object.assign(new Error(`no address for ${hostname}`), { code: 'ENOTFOUND' }), '', 0);
      callback(null, first.address, first.family);
    });
  };
}

function get(target: URL, signal: AbortSignal, lookup: LookupFunction): Promise<IncomingMessage> {
  const client = target.protocol === 'https:' ? https : http;
  return new Promise((resolve, reject) => {
    const req = client.get(target, { signal, lookup, agent: false, headers: { accept: 'application/json', 'user-agent': 'pbx-ivr-lookup' } }, resolve);
    req.once('error', reject);
  });
}

/** The body as text, or null when it is larger than `max` bytes. */
async function readCapped(res: IncomingMessage, max: number): Promise<string | null> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of res as AsyncIterable<Buffer>) {
    size += chunk.length;
    if (size > max) {
      res.destroy();
      return null;
    }
    chunks.push(chunk);
  }
  return Buffer.concat(chunks).toString('utf8');
}
