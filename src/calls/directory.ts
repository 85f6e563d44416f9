/**
 * The database side of routing: who an endpoint is, where a dialed number leads (extension,
 * outbound route and trunk, inbound DID rule), and what an extension wants done with its calls.
 * Thin: the decisions are pure (router.ts, dial-flow.ts, routing/outbound.ts, routing/inbound.ts).
 */
import type { Db } from '../db/database.js';
import type { Direction } from './tables.js';
import type { PermissionClass } from '../extensions/tables.js';
import { findExtension } from '../extensions/repository.js';
import { planOutbound } from '../routing/outbound.js';
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

export function callDirectory(db: Db, trunkLoad: TrunkLoad, inboundRules: InboundRulesSource) {
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
      const route = routes.find((r) => r.id === plan.routeId);
      if (!route) return null;
      // The carrier's channel limit: a trunk that is full refuses the call (emergency calls too
      // would need a free channel; a site sizes maxChannels with that in mind).
      if ((await trunkLoad(route.trunkName)) >= route.maxChannels) return null;
      return {
        number: plan.number,
        endpoint: trunkDialTarget({ name: route.trunkName }, plan.number),
        dnd: false,
        forwardAlways: null,
        forwardBusy: null,
        forwardNoAnswer: null,
        ringTimeoutSeconds: OUTSIDE_RING_SECONDS,
      };
    },
  };
}
