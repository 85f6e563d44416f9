/**
 * The HTTP lookup an IVR flow makes (a CRM asked about the caller): GET the configured URL with the
 * caller's number, the dialed number and the node's parameters as query parameters, under the
 * node's timeout. The answer must be JSON (at most 64 kB); anything else is a failure the flow
 * takes its error edge on. Never throws.
 */
import type { LookupResult } from './port.js';

const MAX_BODY_BYTES = 64 * 1024;

export async function httpLookup(
  url: string,
  params: Readonly<Record<string, string>>,
  timeoutMs: number,
  caller: { readonly callerNumber: string | null; readonly dialedNumber: string | null },
): Promise<LookupResult> {
  let target: URL;
  try {
    target = new URL(url);
  } catch {
    return { ok: false, error: 'network' };
  }
  if (caller.callerNumber) target.searchParams.set('caller', caller.callerNumber);
  if (caller.dialedNumber) target.searchParams.set('dialed', caller.dialedNumber);
  for (const [k, v] of Object.entries(params)) target.searchParams.set(k, v);
  const signal = AbortSignal.timeout(timeoutMs);
  try {
    const res = await fetch(target, { signal, headers: { accept: 'application/json', 'user-agent': 'pbx-ivr-lookup' }, redirect: 'error' });
    if (!res.ok) {
      await res.body?.cancel().catch(() => undefined);
      return { ok: false, error: 'http-error', status: res.status };
    }
    const text = await readCapped(res, MAX_BODY_BYTES);
    if (text === null) return { ok: false, error: 'bad-json', status: res.status };
    try {
      return { ok: true, body: JSON.parse(text) as unknown };
    } catch {
      return { ok: false, error: 'bad-json', status: res.status };
    }
  } catch (err) {
    return { ok: false, error: signal.aborted || (err as Error).name === 'TimeoutError' ? 'timeout' : 'network' };
  }
}

/** The body as text, or null when it is larger than `max` bytes. */
async function readCapped(res: Response, max: number): Promise<string | null> {
  if (!res.body) return '';
  const chunks: Uint8Array[] = [];
  let size = 0;
  for await (const chunk of res.body) {
    size += chunk.length;
    if (size > max) return null;
    chunks.push(chunk);
  }
  return Buffer.concat(chunks).toString('utf8');
}
