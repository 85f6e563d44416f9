/**
 * The campaign call side's pure parts (docs/campaigns.md#the-call-side): the AMI Originate of an
 * attempt into the dialplan context [pbx-campaign] (asterisk/extensions.conf), what Asterisk's
 * OriginateResponse and hangup cause mean for the dialer (busy / no answer / failed), the
 * arguments [pbx-campaign] hands the Stasis app, and when an answered contact stops waiting for an
 * agent. No I/O.
 */
import type { AmdResult, NotAnsweredOutcome, OriginateRequest } from '../campaigns/ports.js';
import { orderRoutes, type OutboundRoute } from '../routing/outbound.js';
import { trunkDialTarget } from '../trunks/repository.js';
import { CODECS } from '../trunks/tables.js';

/** The dialplan context every campaign attempt is originated into (never an endpoint's context). */
export const CAMPAIGN_CONTEXT = 'pbx-campaign';
/** The first Stasis argument of a campaign contact's channel. */
export const CAMPAIGN_TAG = 'campaign';
/** ActionIDs of campaign originates: `campaign:<attempt id>`. */
export const ACTION_PREFIX = 'campaign:';
/** An attempt id (`<contact id>-<n>`): it becomes the channel id, so only these characters. */
export const ATTEMPT_ID = /^[0-9A-Za-z][0-9A-Za-z-]{0,62}$/;
const CALLER_NUMBER = /^\+?[0-9]{1,20}$/;

/**
 * The number sent to the trunk for an E.164 number: the first outbound route (in the order
 * routes are tried) on that trunk whose pattern matches it strips and prepends as for an
 * extension's call (routing/outbound.ts); no route of that trunk matches: the E.164 number as is.
 */
export function trunkNumber(routes: readonly (OutboundRoute & { readonly trunkName: string })[], trunk: string, e164: string): string {
  const route = orderRoutes(routes.filter((r) => r.trunkName === trunk)).find(({ pattern }) => pattern.matches(e164))?.route;
  if (!route) return e164;
  const strip = Number.isInteger(route.strip) && route.strip > 0 ? route.strip : 0;
  return route.prepend + e164.slice(strip);
}

/** A caller name as AMI's CallerID takes it: no quotes, angle brackets, backslashes or control characters. */
export function cleanCallerName(name: string | null): string {
  // eslint-disable-next-line no-control-regex
  return (name ?? '').replace(/["<>\\\u0000-\u001f\u007f]/g, '').trim().slice(0, 40);
}

/**
 * The AMI Originate action of an attempt (async: Asterisk answers at once, the outcome comes as
 * OriginateResponse). `number`: what the trunk is sent (trunkNumber). Everything in it is checked:
 * the dial string (trunkDialTarget), the channel id, the caller ID; the AMD and machine-message
 * switches are 0 or 1.
 */
export function originateAction(req: OriginateRequest, number: string): Record<string, string> {
  if (!ATTEMPT_ID.test(req.attemptId)) throw new Error(`invalid attempt id ${JSON.stringify(req.attemptId)}`);
  if (!CALLER_NUMBER.test(req.callerId)) throw new Error(`invalid caller id ${JSON.stringify(req.callerId)}`);
  if (!Number.isInteger(req.ringSeconds) || req.ringSeconds < 15 || req.ringSeconds > 300) throw new Error(`invalid ring time ${req.ringSeconds}`);
  const name = cleanCallerName(req.callerName);
  return {
    action: 'Originate',
    actionid: ACTION_PREFIX + req.attemptId,
    channel: trunkDialTarget({ name: req.trunk }, number),
    context: CAMPAIGN_CONTEXT,
    exten: 's',
    priority: '1',
    timeout: String(req.ringSeconds * 1000),
    callerid: name ? `"${name}" <${req.callerId}>` : `<${req.callerId}>`,
    channelid: req.attemptId,
    // Any codec a trunk may have (the trunk's own list decides the offer): without this AMI asks
    // for signed linear only, and the answered call fails (cause 58, no bearer capability).
    codecs: CODECS.join(','),
    // Read back by [pbx-campaign]; the number is the checked dial-string number (FILTERed there too).
    variable: `CAMPAIGN_AMD=${req.amd ? '1' : '0'},CAMPAIGN_MACHINE_MESSAGE=${req.amd && req.machineMessage ? '1' : '0'},CAMPAIGN_NUMBER=${number}`,
    async: 'true',
  };
}

/** OriginateResponse's Reason: the last control frame the dial saw (Asterisk's AST_CONTROL_*). */
export const ORIGINATE_REASON = { failed: 0, hangup: 1, ringing: 3, answered: 4, busy: 5, congestion: 8 } as const;

const BUSY_CAUSES = new Set([17, 21]); // user busy; call rejected (a person declining: cdr.ts counts it BUSY too)
const NO_ANSWER_CAUSES = new Set([16, 18, 19]); // cleared while ringing, no user responding, no answer

/**
 * What a failed OriginateResponse means for the attempt: reason 5 busy, 3 (rang out) no answer,
 * 8 congestion failed; 1 (hung up) and 0 (failed) by the leg's hangup cause when there is one
 * (17 busy / 21 declined -> busy; 16, 18, 19 -> no answer; anything else -> failed).
 */
export function notAnsweredOf(reason: number, cause: number | null): NotAnsweredOutcome {
  if (reason === ORIGINATE_REASON.busy) return 'busy';
  if (reason === ORIGINATE_REASON.ringing) return 'no-answer';
  if (reason === ORIGINATE_REASON.congestion) return 'failed';
  if (cause !== null && BUSY_CAUSES.has(cause)) return 'busy';
  if (cause !== null && NO_ANSWER_CAUSES.has(cause) && reason === ORIGINATE_REASON.hangup) return 'no-answer';
  return 'failed';
}

/** A campaign contact's channel in Stasis, from its arguments (see [pbx-campaign]). */
export interface CampaignStart {
  readonly attemptId: string;
  readonly amd: AmdResult | null;
  /** When the contact answered (Asterisk's clock, ms), before AMD listened; null when not given. */
  readonly answeredAtMs: number | null;
  /** The number dialed (as the trunk was sent it); null when not given. */
  readonly number: string | null;
}

const AMD_STATUSES: ReadonlySet<string> = new Set(['MACHINE', 'HUMAN', 'NOTSURE', 'HANGUP']);

/**
 * The Stasis arguments after the tag: [attempt id, AMDSTATUS, AMDCAUSE, answered at (ms since the
 * epoch), the number dialed]. AMD's status is empty when the campaign has none. Null when the
 * attempt id is not one.
 */
export function parseCampaignArgs(args: readonly string[]): CampaignStart | null {
  const [attemptId, status, cause, answered, number] = args;
  if (!attemptId || !ATTEMPT_ID.test(attemptId)) return null;
  const amd = status && AMD_STATUSES.has(status) ? { status: status as AmdResult['status'], cause: (cause ?? '').slice(0, 64) } : null;
  const ms = answered && /^[0-9]{10,16}$/.test(answered) ? Number(answered) : null;
  return { attemptId, amd, answeredAtMs: ms, number: number && CALLER_NUMBER.test(number) ? number : null };
}

/** The law's limit: an answered live person hears a person or the abandon message within 2 s. */
export const LEGAL_CONNECT_MS = 2_000;
/** Given up this much before the limit: withdrawing the offer and starting the message take time. */
export const ABANDON_LEAD_MS = 400;

/**
 * How long from now an answered contact may still wait for an agent (0: give up at once).
 * `fromMs`: when the wait began (the contact's channel reached the app, after AMD: the law counts
 * from the end of the greeting); `connectMs`: the campaign's setting. Never later than the law's
 * 2 s less ABANDON_LEAD_MS, so the message starts within the 2 s.
 */
export function connectWaitMs(fromMs: number, nowMs: number, connectMs: number): number {
  const allowed = Math.min(Math.max(connectMs, 0), LEGAL_CONNECT_MS - ABANDON_LEAD_MS);
  return Math.max(0, fromMs + allowed - nowMs);
}
