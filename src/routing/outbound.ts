/**
 * Outbound call planning: which trunk gets a dialed number, and what number it is sent. Pure.
 *
 * 1. The dialed input must be 1-32 characters of 0-9 * # + (else `invalid-number`).
 * 2. Routes are tried by priority (lower first), then id; a route whose pattern does not compile
 *    is skipped (the API never stores one).
 * 3. An emergency number (exact match against the configured list) takes the first route whose
 *    pattern matches it, whatever the caller's class; emergencyPlans lists every such route, so a
 *    full trunk does not stop the call (the call core picks one with a free channel).
 * 4. Otherwise the first matching route the caller's class permits: `internal` callers may dial
 *    nothing outside, `national` callers take `national` routes, `international` callers take
 *    both. Matching routes exist but none is permitted: `not-permitted`; none matches: `no-route`.
 * 5. The number sent is the dialed input minus `strip` leading characters, plus `prepend` in
 *    front; it must again be 1-48 characters of 0-9 * # + (else `invalid-number`), because it
 *    goes into a dial string.
 */
import { compilePattern, MAX_DIALED_LENGTH, type DialPattern } from './pattern.js';

export type CallerClass = 'internal' | 'national' | 'international';
export type RouteClass = Exclude<CallerClass, 'internal'>;

export interface OutboundRoute {
  readonly id: string;
  readonly name: string;
  readonly pattern: string;
  /** Characters removed from the front of the dialed number. */
  readonly strip: number;
  /** Characters put in front after stripping. */
  readonly prepend: string;
  readonly trunkId: string;
  /** Lower is tried first. */
  readonly priority: number;
  /** The least caller class allowed to use this route. */
  readonly requiredClass: RouteClass;
}

export interface OutboundInput {
  readonly dialed: string;
  readonly callerClass: CallerClass;
  readonly routes: readonly OutboundRoute[];
  readonly emergencyNumbers: readonly string[];
}

export type RefusalReason = 'no-route' | 'not-permitted' | 'invalid-number';

export type OutboundPlan =
  | { readonly kind: 'route'; readonly routeId: string; readonly trunkId: string; readonly number: string; readonly emergency: boolean }
  | { readonly kind: 'refused'; readonly reason: RefusalReason };

/** Longest number handed to a trunk: a full dialed number plus a prepend. */
export const MAX_OUT_NUMBER_LENGTH = 48;
const DIALED = new RegExp(`^[0-9*#+]{1,${MAX_DIALED_LENGTH}}$`);
const OUT_NUMBER = new RegExp(`^[0-9*#+]{1,${MAX_OUT_NUMBER_LENGTH}}$`);

/** A dialed number as accepted from a caller: 1-32 of 0-9 * # +. */
export const isDialable = (s: unknown): s is string => typeof s === 'string' && DIALED.test(s);
/** A number safe to put into a dial string: 1-48 of 0-9 * # +. */
export const isDialOutNumber = (s: unknown): s is string => typeof s === 'string' && OUT_NUMBER.test(s);

const RANK: Readonly<Record<CallerClass, number>> = { internal: 0, national: 1, international: 2 };
export const classPermits = (caller: CallerClass, required: RouteClass): boolean => RANK[caller] >= RANK[required];

/** Numeric ids as strings (bigint): shorter is smaller, then lexical. */
export const compareIds = (a: string, b: string): number => a.length - b.length || (a < b ? -1 : a > b ? 1 : 0);

const refused = (reason: RefusalReason): OutboundPlan => ({ kind: 'refused', reason });

export function planOutbound(input: OutboundInput): OutboundPlan {
  const { dialed } = input;
  if (!isDialable(dialed)) return refused('invalid-number');

  const matching = orderRoutes(input.routes).filter(({ pattern }) => pattern.matches(dialed));
  const emergency = input.emergencyNumbers.includes(dialed);
  const chosen = emergency
    ? matching[0]
    : matching.find(({ route }) => classPermits(input.callerClass, route.requiredClass));
  if (!chosen) return refused(matching.length > 0 && !emergency ? 'not-permitted' : 'no-route');

  const { route } = chosen;
  const strip = Number.isInteger(route.strip) && route.strip > 0 ? route.strip : 0;
  const number = route.prepend + dialed.slice(strip);
  if (!isDialOutNumber(number)) return refused('invalid-number');
  return { kind: 'route', routeId: route.id, trunkId: route.trunkId, number, emergency };
}

/**
 * For an emergency number: every route that can carry it, in the order tried (whatever the
 * caller's class), each with the number it sends. Empty when the number is not an emergency
 * number or no route matches it.
 */
export function emergencyPlans(input: Omit<OutboundInput, 'callerClass'>): Extract<OutboundPlan, { kind: 'route' }>[] {
  const { dialed } = input;
  if (!isDialable(dialed) || !input.emergencyNumbers.includes(dialed)) return [];
  const plans: Extract<OutboundPlan, { kind: 'route' }>[] = [];
  for (const { route, pattern } of orderRoutes(input.routes)) {
    if (!pattern.matches(dialed)) continue;
    const strip = Number.isInteger(route.strip) && route.strip > 0 ? route.strip : 0;
    const number = route.prepend + dialed.slice(strip);
    if (isDialOutNumber(number)) plans.push({ kind: 'route', routeId: route.id, trunkId: route.trunkId, number, emergency: true });
  }
  return plans;
}

/** Routes in the order they are tried, each with its compiled pattern; broken patterns dropped. */
export function orderRoutes(routes: readonly OutboundRoute[]): { route: OutboundRoute; pattern: DialPattern }[] {
  const out: { route: OutboundRoute; pattern: DialPattern }[] = [];
  for (const route of routes) {
    const compiled = compilePattern(route.pattern);
    if (compiled.ok) out.push({ route, pattern: compiled.pattern });
  }
  return out.sort((a, b) => a.route.priority - b.route.priority || compareIds(a.route.id, b.route.id));
}
