/**
 * Emergency calls are never refused for overload (docs/operations.md#overload), the pure part. A
 * caller from one of our phones (an extension's endpoint, not a carrier's trunk) dialing one of the
 * configured emergency numbers passes the daemon's admission (it still counts in the calls
 * figures), and the dialplan's shedding lets it through: the global EXEMPT_VARIABLE holds the
 * numbers as "112|911" for FIELDNUM() (asterisk/extensions.conf, [pbx-inbound], label shedding).
 */
import { isPhoneChannel } from './router.js';

/** The Asterisk global variable the dialplan's shedding reads (not PBX_*: those are template placeholders). */
export const EXEMPT_VARIABLE = 'OVERLOAD_EXEMPT';

/** A new call that overload control must let in: a phone dialing an emergency number. */
export function exemptFromOverload(channelName: string, dialed: string | null | undefined, emergencyNumbers: ReadonlySet<string>): boolean {
  return !!dialed && emergencyNumbers.has(dialed) && isPhoneChannel(channelName);
}

/**
 * The variable's value: the numbers joined by "|" (FIELDNUM's delimiter), in a stable order. A
 * number that could break the list (the API allows [0-9*#+] only) is left out.
 */
export function exemptValue(emergencyNumbers: Iterable<string>): string {
  return [...emergencyNumbers].filter((n) => /^[0-9*#+]+$/.test(n)).sort().join('|');
}
