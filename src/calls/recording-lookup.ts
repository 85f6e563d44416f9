/**
 * The recording policies a call's parts set (recording-policy.ts), read when the call reaches them:
 * its inbound route (the DID rule a call from a carrier took, else the default route), its
 * outbound route (the route an extension's outside call takes), its trunk (a call from a
 * carrier), its extension (the dialed one, else the calling one), its queue (policy, sample,
 * announcement). The routes are chosen again here by the same pure rules routing used
 * (matchInboundRule, planOutbound) on the same tables.
 */
import type { Db } from '../db/database.js';
import { RECORDING_POLICIES, announcementOf, type PolicySources, type RecordingPolicy } from './recording-policy.js';
import type { QueueRecording } from './call-recording.js';
import { endpointOfChannel } from './router.js';
import { matchInboundRule } from '../routing/inbound.js';
import { planOutbound } from '../routing/outbound.js';
import { loadEmergencyNumbers, loadInboundRules, loadOutboundRoutes } from '../trunks/repository.js';
import type { PermissionClass } from '../extensions/tables.js';
import type { InboundRules } from '../trunks/inbound-view.js';

/** What the call dialed and who called: the DID and caller number an inbound rule matches, the number an outbound route takes. */
export interface RoutedNumbers {
  readonly dialed: string | null;
  readonly callerNumber: string | null;
}

const policyOf = (v: string | null | undefined): RecordingPolicy | null => (RECORDING_POLICIES.includes(v as RecordingPolicy) ? (v as RecordingPolicy) : null);

/** Read from Postgres: a queue's recording settings, by its name (null: no such queue). */
export async function readQueueRecording(db: Db, name: string): Promise<QueueRecording | null> {
  const row = await db
    .selectFrom('queues')
    .select(['recording_policy', 'recording_sample_percent', 'recording_announcement'])
    .where('name', '=', name)
    .executeTakeFirst();
  if (!row) return null;
  return { policy: policyOf(row.recording_policy), samplePercent: row.recording_sample_percent, announcement: announcementOf(row.recording_announcement) };
}

/**
 * Where the lookups read what routing keeps warm (src/trunks/inbound-view.ts): the inbound rules
 * and a queue's recording settings. Absent: read from Postgres at each call.
 */
export interface WarmPolicySources {
  readonly inboundRules: () => Promise<InboundRules>;
  readonly queue: (name: string) => Promise<QueueRecording | null>;
}

export function recordingLookup(db: Db, warm?: WarmPolicySources) {
  const inboundRules = warm?.inboundRules ?? (() => loadInboundRules(db));
  return {
    queue: (name: string): Promise<QueueRecording | null> => (warm ? warm.queue(name) : readQueueRecording(db, name)),

    async routeSources(
      channelName: string | null,
      route: { kind: string; number?: string; dialed?: string },
      callerExtension: string | null,
      numbers: RoutedNumbers,
    ): Promise<Omit<PolicySources, 'site' | 'queue'>> {
      const endpoint = channelName ? endpointOfChannel(channelName) : null;
      const trunkName = endpoint?.startsWith('trunk-') ? endpoint.slice('trunk-'.length) : null;
      const caller = callerExtension ?? (endpoint && /^[0-9]{2,16}$/.test(endpoint) ? endpoint : null);
      const extension = route.kind === 'extension' && route.number ? route.number : caller;
      const [trunk, ext, callerExt] = await Promise.all([
        trunkName ? db.selectFrom('trunks').select('recording_policy').where('name', '=', trunkName).executeTakeFirst() : undefined,
        extension ? db.selectFrom('extensions').select('recording_policy').where('number', '=', extension).executeTakeFirst() : undefined,
        route.kind === 'outbound' && caller ? db.selectFrom('extensions').select('permission_class').where('number', '=', caller).executeTakeFirst() : undefined,
      ]);
      const [inbound, outbound] = await Promise.all([
        trunkName && numbers.dialed ? inboundRoutePolicy(numbers.dialed, numbers.callerNumber) : null,
        route.kind === 'outbound' && route.dialed && callerExt ? outboundRoutePolicy(route.dialed, callerExt.permission_class) : null,
      ]);
      return { 'inbound-route': inbound, 'outbound-route': outbound, trunk: policyOf(trunk?.recording_policy), extension: policyOf(ext?.recording_policy) };
    },
  };

  /** The policy of the inbound route a call from a carrier takes (its DID rule, else the default route). */
  async function inboundRoutePolicy(did: string, callerNumber: string | null): Promise<RecordingPolicy | null> {
    const { rules, recordingPolicies, defaultRecordingPolicy } = await inboundRules();
    const rule = matchInboundRule(did, callerNumber, rules);
    return policyOf(rule ? recordingPolicies.get(rule.id) : defaultRecordingPolicy);
  }

  /** The policy of the outbound route an extension's outside call takes (none when it is refused). */
  async function outboundRoutePolicy(dialed: string, callerClass: PermissionClass): Promise<RecordingPolicy | null> {
    const [routes, emergencyNumbers] = await Promise.all([loadOutboundRoutes(db), loadEmergencyNumbers(db)]);
    const plan = planOutbound({ dialed, callerClass, routes, emergencyNumbers });
    return plan.kind === 'route' ? policyOf(routes.find((r) => r.id === plan.routeId)?.recordingPolicy) : null;
  }
}
