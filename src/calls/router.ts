/**
 * Where a call goes, decided from who is calling and what they dialed. Pure.
 *   - a number that is not +, digits, * or # (1-32)   -> refused before answer (404)
 *   - *99 followed by digits                           -> the test service (greeting, collect digits)
 *   - *97 from an extension                            -> its own mailbox (PIN, messages, greeting)
 *   - from a trunk                                     -> inbound: the DID is routed by inbound rules
 *   - from an extension, to an extension               -> ring it
 *   - from an extension, anything else                 -> outbound routing (trunks, permission class)
 *   - from an endpoint that is neither                 -> refused (403): no anonymous or guest calls
 */
import { ROUTABLE_NUMBER } from './flow.js';

export type CallSource =
  | { readonly kind: 'extension'; readonly number: string }
  | { readonly kind: 'trunk'; readonly name: string }
  | { readonly kind: 'other'; readonly endpoint: string | null };

export type CallRoute =
  | { readonly kind: 'test-service' }
  | { readonly kind: 'voicemail'; readonly mailbox: string }
  | { readonly kind: 'extension'; readonly number: string }
  | { readonly kind: 'outbound'; readonly dialed: string }
  | { readonly kind: 'inbound'; readonly did: string }
  /** An IVR flow (by name): from an inbound route's target. */
  | { readonly kind: 'flow'; readonly flow: string }
  | { readonly kind: 'refuse'; readonly reason: 'unallocated' | 'not-permitted' };

export const TEST_SERVICE = /^\*99[0-9]{0,16}$/;
export const VOICEMAIL_CODE = '*97';

export function decideRoute(source: CallSource, dialed: string | null, isExtension: (n: string) => boolean): CallRoute {
  if (dialed === null || !ROUTABLE_NUMBER.test(dialed)) return { kind: 'refuse', reason: 'unallocated' };
  if (source.kind === 'trunk') return { kind: 'inbound', did: dialed };
  if (TEST_SERVICE.test(dialed)) return { kind: 'test-service' };
  if (dialed === VOICEMAIL_CODE) return source.kind === 'extension' ? { kind: 'voicemail', mailbox: source.number } : { kind: 'refuse', reason: 'not-permitted' };
  if (source.kind === 'other') return { kind: 'refuse', reason: 'not-permitted' };
  if (isExtension(dialed)) return dialed === source.number ? { kind: 'refuse', reason: 'unallocated' } : { kind: 'extension', number: dialed };
  return { kind: 'outbound', dialed };
}

/** `PJSIP/1001-0000002a` -> `1001`; anything else -> null. */
export function endpointOfChannel(channelName: string): string | null {
  const m = /^PJSIP\/(.+)-[0-9a-f]{8}$/.exec(channelName);
  return m ? m[1]! : null;
}
