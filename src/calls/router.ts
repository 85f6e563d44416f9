/**
 * Where a call goes, decided from who is calling and what they dialed. Pure.
 *   - a number that is not +, digits, * or # (1-32)   -> refused before answer (404)
 *   - *99 followed by digits                           -> the test service (greeting, collect digits)
 *   - *97 from an extension                            -> its own mailbox (PIN, messages, greeting)
 *   - agent feature codes from an extension: *91 login (agent number and PIN by DTMF), *92 logout,
 *     *93<code> pause with a reason code (*93 alone: code 1), *94 unpause
 *   - *55<agent or extension number> from an extension  -> live supervision (docs/supervision.md)
 *   - *7<code> (or *7<code>#) from an extension          -> the disposition of the agent's last
 *                                                           campaign call (docs/campaigns.md#on-the-handset)
 *   - from a trunk                                     -> inbound: the DID is routed by inbound rules
 *   - from an extension, to an extension               -> ring it
 *   - from an extension, anything else                 -> outbound routing (trunks, permission class)
 *   - from an endpoint that is neither                 -> refused (403): no anonymous or guest calls
 */
import { ROUTABLE_NUMBER } from './flow.js';
import { supervisedNumber } from '../supervision/model.js';

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
  /** An ACD queue (by name): from an inbound route's target. */
  | { readonly kind: 'queue'; readonly queue: string }
  /** An agent feature code dialed at the desk phone `extension`. */
  | { readonly kind: 'agent'; readonly action: AgentAction; readonly code: number | null; readonly extension: string }
  /** The supervision feature code dialed at the desk phone `extension`: supervise agent or extension `number`. */
  | { readonly kind: 'supervise'; readonly number: string; readonly extension: string }
  /** The disposition feature code dialed at the desk phone `extension`: code `code` for the agent's last campaign call. */
  | { readonly kind: 'disposition'; readonly code: string; readonly extension: string }
  | { readonly kind: 'refuse'; readonly reason: 'unallocated' | 'not-permitted' };

export type AgentAction = 'login' | 'logout' | 'pause' | 'unpause';
const AGENT_CODES: Readonly<Record<string, AgentAction>> = { '*91': 'login', '*92': 'logout', '*93': 'pause', '*94': 'unpause' };
const PAUSE_CODE = /^\*93([0-9]{1,2})$/;

export const TEST_SERVICE = /^\*99[0-9]{0,16}$/;
/** *7 and a campaign's disposition code (1-2 digits), a trailing # allowed (phones that send it). */
const DISPOSITION_CODE = /^\*7([0-9]{1,2})#?$/;
export const VOICEMAIL_CODE = '*97';

export function decideRoute(source: CallSource, dialed: string | null, isExtension: (n: string) => boolean): CallRoute {
  if (dialed === null || !ROUTABLE_NUMBER.test(dialed)) return { kind: 'refuse', reason: 'unallocated' };
  if (source.kind === 'trunk') return { kind: 'inbound', did: dialed };
  if (TEST_SERVICE.test(dialed)) return { kind: 'test-service' };
  if (dialed === VOICEMAIL_CODE) return source.kind === 'extension' ? { kind: 'voicemail', mailbox: source.number } : { kind: 'refuse', reason: 'not-permitted' };
  if (source.kind === 'other') return { kind: 'refuse', reason: 'not-permitted' };
  const agent = AGENT_CODES[dialed];
  if (agent && source.kind === 'extension') return { kind: 'agent', action: agent, code: agent === 'pause' ? 1 : null, extension: source.number };
  const pause = PAUSE_CODE.exec(dialed);
  if (pause && source.kind === 'extension') return { kind: 'agent', action: 'pause', code: Number(pause[1]), extension: source.number };
  const disposition = DISPOSITION_CODE.exec(dialed);
  if (disposition) return { kind: 'disposition', code: disposition[1]!, extension: source.number };
  const supervised = supervisedNumber(dialed);
  if (supervised) return { kind: 'supervise', number: supervised, extension: source.number };
  if (isExtension(dialed)) return dialed === source.number ? { kind: 'refuse', reason: 'unallocated' } : { kind: 'extension', number: dialed };
  return { kind: 'outbound', dialed };
}

/** `PJSIP/1001-0000002a` -> `1001`; anything else -> null. */
export function endpointOfChannel(channelName: string): string | null {
  const m = /^PJSIP\/(.+)-[0-9a-f]{8}$/.exec(channelName);
  return m ? m[1]! : null;
}

/** A channel of one of our phones (an extension's endpoint), not a carrier's trunk or anything else. */
export function isPhoneChannel(channelName: string | null | undefined): boolean {
  const endpoint = channelName ? endpointOfChannel(channelName) : null;
  return endpoint !== null && !endpoint.startsWith('trunk-');
}
