/**
 * Inbound call resolution: where a call from a trunk goes. Pure.
 *
 * A rule has a DID pattern, a caller-number pattern, or both (each a plain number for an exact
 * match, or an `_` pattern). The first rule in this order that matches wins:
 *   1. caller rules (a caller pattern, optionally limited to a DID pattern): VIP lists, blocked
 *      callers. They match only when the caller number is known and dialable.
 *   2. DID rules whose DID is a plain number equal to the called DID (exact match).
 *   3. DID rules with an `_` pattern that matches the DID.
 *   4. the default target (may be null: the call is refused).
 * Within each tier: lower priority first, then (tiers 1 and 3) the more specific pattern
 * (exact before pattern, then compareSpecificity), then the lower id. A rule whose pattern does
 * not compile never matches.
 */
import { compilePattern, compareSpecificity, type DialPattern } from './pattern.js';
import { compareIds, isDialable } from './outbound.js';

/**
 * Where a call goes. A new kind is one more member here; resolution never looks inside a target.
 * `flow` names an IVR flow (src/flows) by its name; the call runs its published version.
 * `queue` names an ACD queue (src/acd) by its name.
 */
export type Target =
  | { readonly kind: 'extension'; readonly number: string }
  | { readonly kind: 'hangup' }
  | { readonly kind: 'flow'; readonly flow: string }
  | { readonly kind: 'queue'; readonly queue: string };

export type TargetKind = Target['kind'];

export interface InboundRule {
  readonly id: string;
  readonly priority: number;
  readonly didPattern: string | null;
  readonly callerPattern: string | null;
  readonly target: Target;
}

interface Compiled {
  readonly rule: InboundRule;
  readonly tier: 1 | 2 | 3;
  readonly did: DialPattern | null;
  readonly caller: DialPattern | null;
}

export function resolveInbound(
  did: string,
  callerNumber: string | null,
  rules: readonly InboundRule[],
  defaultTarget: Target | null,
): Target | null {
  return matchInboundRule(did, callerNumber, rules)?.target ?? defaultTarget;
}

/** The rule a call takes (resolveInbound's choice), or null: the default target applies. */
export function matchInboundRule(did: string, callerNumber: string | null, rules: readonly InboundRule[]): InboundRule | null {
  const didOk = isDialable(did);
  const callerOk = isDialable(callerNumber);
  for (const c of compileRules(rules)) {
    if (c.did && !(didOk && c.did.matches(did))) continue;
    if (c.caller && !(callerOk && c.caller.matches(callerNumber))) continue;
    return c.rule;
  }
  return null;
}

/** The rules in the order resolveInbound tries them (rules without any pattern are left out). */
export function orderInboundRules(rules: readonly InboundRule[]): InboundRule[] {
  return compileRules(rules).map((c) => c.rule);
}

function compileRules(rules: readonly InboundRule[]): Compiled[] {
  const out: Compiled[] = [];
  for (const rule of rules) {
    const did = rule.didPattern === null ? null : compilePattern(rule.didPattern);
    const caller = rule.callerPattern === null ? null : compilePattern(rule.callerPattern);
    if ((did && !did.ok) || (caller && !caller.ok) || (!did && !caller)) continue;
    const didPattern = did?.ok ? did.pattern : null;
    const callerPattern = caller?.ok ? caller.pattern : null;
    const tier = callerPattern ? 1 : didPattern!.literal ? 2 : 3;
    out.push({ rule, tier, did: didPattern, caller: callerPattern });
  }
  return out.sort(compareCompiled);
}

function compareCompiled(a: Compiled, b: Compiled): number {
  if (a.tier !== b.tier) return a.tier - b.tier;
  if (a.rule.priority !== b.rule.priority) return a.rule.priority - b.rule.priority;
  const key = (c: Compiled) => (c.tier === 1 ? c.caller : c.did);
  const ka = key(a);
  const kb = key(b);
  if (ka && kb) {
    if (ka.literal !== kb.literal) return ka.literal ? -1 : 1;
    const s = compareSpecificity(ka, kb);
    if (s !== 0) return s;
  }
  return compareIds(a.rule.id, b.rule.id);
}
