/**
 * The database side of routing: who an endpoint is, where a dialed number leads (extension,
 * outbound route and trunk, inbound DID rule), and what an extension wants done with its calls.
 * Thin: the decisions are pure (router.ts, dial-flow.ts, routing/outbound.ts, routing/inbound.ts).
 */
import type { Db } from '../db/database.js';
import type { Logger } from '../logger.js';
import { recordAudit, type Actor } from '../audit/repository.js';
import { logRejection } from '../shared/log-rejection.js';
import type { Direction } from './tables.js';
import type { PermissionClass } from '../extensions/tables.js';
import { findExtension } from '../extensions/repository.js';
import { emergencyPlans, planOutbound } from '../routing/outbound.js';
import { resolveInbound } from '../routing/inbound.js';
import { loadEmergencyNumbers, loadOutboundRoutes, trunkDialTarget } from '../trunks/repository.js';
import type { InboundRules } from '../trunks/inbound-view.js';
import type { CallFacts } from './cdr.js';
import type { DialTarget } from './dial-flow.js';
import { takesMessages } from '../voicemail/deposit.js';
import { decideRoute, endpointOfChannel, type CallRoute, type CallSource } from './router.js';

/** What routing needs to know about the caller for the rest of the call (forwards, outside calls). */
export interface CallerContext {
  /** The calling extension's permission class; null when the caller is not an extension. */
  readonly callerClass: PermissionClass | null;
  /** Number to present on outside calls (the extension's caller id number). */
  readonly callerIdNumber: string | null;
}

export interface RoutedCall {
  readonly route: Exclude<CallRoute, { kind: 'inbound' }>;
  readonly caller: CallerContext;
  readonly direction: Direction;
}

/** How long an outside number may ring before the caller is told there is no answer. */
const OUTSIDE_RING_SECONDS = 60;

/** How many channels Asterisk has up on a trunk right now (both directions, every daemon). */
export type TrunkLoad = (trunkName: string) => Promise<number>;

/** The inbound (DID) rules as they stand (trunks/inbound-view.ts keeps them warm). */
export type InboundRulesSource = () => Promise<InboundRules>;

/** Who the audit log names for what the call core decides on its own (an emergency call over a trunk's limit). */
const CALLS_ACTOR: Actor = { userId: null, tokenId: null, label: 'calls', requestId: null };

export function callDirectory(db: Db, trunkLoad: TrunkLoad, inboundRules: InboundRulesSource, log: Logger) {
  async function sourceOf(channelName: string | null): Promise<{ source: CallSource; caller: CallerContext }> {
    const endpoint = channelName ? endpointOfChannel(channelName) : null;
    const nobody: CallerContext = { callerClass: null, callerIdNumber: null };
    if (endpoint === null) return { source: { kind: 'other', endpoint: null }, caller: nobody };
    if (endpoint.startsWith('trunk-')) return { source: { kind: 'trunk', name: endpoint.slice('trunk-'.length) }, caller: nobody };
    const ext = /^[0-9]{2,16}$/.test(endpoint) ? await findExtension(db, endpoint) : undefined;
    if (!ext) return { source: { kind: 'other', endpoint }, caller: nobody };
    return {
      source: { kind: 'extension', number: ext.number },
      caller: { callerClass: ext.permission_class, callerIdNumber: ext.caller_id_number },
    };
  }

  return {
    async route(channelName: string | null, facts: CallFacts): Promise<RoutedCall> {
      const { source, caller } = await sourceOf(channelName);
      const dialed = facts.dialedNumber;
      // A call from a trunk is routed by the DID rules alone (decideRoute): no extension lookup.
      const dialedExt = source.kind !== 'trunk' && dialed && /^[0-9]{2,16}$/.test(dialed) ? await findExtension(db, dialed) : undefined;
      const route = decideRoute(source, dialed, (n) => dialedExt?.number === n);
      if (route.kind === 'inbound') {
        const { rules, defaultTarget } = await inboundRules();
        const target = resolveInbound(route.did, facts.callerNumber, rules, defaultTarget);
        const routeTo: RoutedCall['route'] =
          target?.kind === 'extension'
            ? { kind: 'extension', number: target.number }
            : target?.kind === 'flow'
              ? { kind: 'flow', flow: target.flow }
              : target?.kind === 'queue'
                ? { kind: 'queue', queue: target.queue }
                : { kind: 'refuse', reason: 'unallocated' };
        return { route: routeTo, caller, direction: 'inbound' };
      }
      const direction: Direction = source.kind === 'extension' ? (route.kind === 'outbound' ? 'outbound' : 'internal') : 'inbound';
      return { route, caller, direction };
    },

    /** An extension (with its forwards), or for a caller allowed outside, a number via a trunk. */
    async lookupTarget(number: string, caller: CallerContext): Promise<DialTarget | null> {
      const ext = /^[0-9]{2,16}$/.test(number) ? await findExtension(db, number) : undefined;
      if (ext) {
        return {
          number: ext.number,
          endpoint: `PJSIP/${ext.number}`,
          dnd: ext.dnd,
          forwardAlways: ext.forward_always,
          forwardBusy: ext.forward_busy,
          forwardNoAnswer: ext.forward_no_answer,
          ringTimeoutSeconds: ext.ring_timeout_seconds,
          voicemail: takesMessages(ext),
          owner: { callerClass: ext.permission_class, callerIdNumber: ext.caller_id_number },
        };
      }
      if (caller.callerClass === null) return null;
      const [routes, emergencyNumbers] = await Promise.all([loadOutboundRoutes(db), loadEmergencyNumbers(db)]);
      const plan = planOutbound({ dialed: number, callerClass: caller.callerClass, routes, emergencyNumbers });
      if (plan.kind !== 'route') return null;
      let chosen: { number: string; trunkName: string } | null;
      if (plan.emergency) {
        chosen = await emergencyTrunk(number, emergencyPlans({ dialed: number, routes, emergencyNumbers }), routes, caller);
      } else {
        const route = routes.find((r) => r.id === plan.routeId);
        // The carrier's channel limit: a trunk that is full refuses the call.
        chosen = route && (await trunkLoad(route.trunkName)) < route.maxChannels ? { number: plan.number, trunkName: route.trunkName } : null;
      }
      if (!chosen) return null;
      return {
        number: chosen.number,
        endpoint: trunkDialTarget({ name: chosen.trunkName }, chosen.number),
        dnd: false,
        forwardAlways: null,
        forwardBusy: null,
        forwardNoAnswer: null,
        ringTimeoutSeconds: OUTSIDE_RING_SECONDS,
      };
    },
  };

  /**
   * An emergency call goes out on the first route whose trunk has a free channel; when every trunk
   * that can carry it is full, on the first one anyway, over its maxChannels, and the site is told
   * (an error log and an audit row). The event `emergency.over-capacity` waits for a domain event
   * bus (issue #20's stream and webhooks; none exists yet): docs/calls-and-routing.md#emergency-calls.
   */
  async function emergencyTrunk(
    dialed: string,
    plans: ReturnType<typeof emergencyPlans>,
    routes: Awaited<ReturnType<typeof loadOutboundRoutes>>,
    caller: CallerContext,
  ): Promise<{ number: string; trunkName: string } | null> {
    const candidates = plans.flatMap((p) => {
      const route = routes.find((r) => r.id === p.routeId);
      return route ? [{ number: p.number, route }] : [];
    });
    const loads = new Map<string, number>();
    for (const c of candidates) {
      const load = loads.get(c.route.trunkName) ?? (await trunkLoad(c.route.trunkName));
      loads.set(c.route.trunkName, load);
      if (load < c.route.maxChannels) return { number: c.number, trunkName: c.route.trunkName };
    }
    const first = candidates[0];
    if (!first) return null;
    const details = {
      dialed,
      number: first.number,
      trunk: first.route.trunkName,
      channels: loads.get(first.route.trunkName) ?? 0,
      maxChannels: first.route.maxChannels,
      callerIdNumber: caller.callerIdNumber,
    };
    log.error(details, 'emergency call placed over the trunk\'s channel limit: every trunk that can carry it is full');
    logRejection(
      recordAudit(db, CALLS_ACTOR, { action: 'call.emergency-over-capacity', entity: 'trunk', entityId: first.route.trunkId, details }),
      log, 'emergency call over capacity not audited', details,
    );
    return { number: first.number, trunkName: first.route.trunkName };
  }
}
