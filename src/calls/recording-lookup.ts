/**
 * The recording policies a call's parts set (recording-policy.ts), read when the call reaches them:
 * its trunk (a call from a carrier), its extension (the dialed one, else the calling one), its
 * queue (policy, sample, announcement). Inbound and outbound routes have a policy column too; the
 * call does not yet know which route rule it took, so they are not read here (docs/recording.md).
 */
import type { Db } from '../db/database.js';
import { RECORDING_POLICIES, announcementOf, type PolicySources, type RecordingPolicy } from './recording-policy.js';
import type { QueueRecording } from './call-recording.js';
import { endpointOfChannel } from './router.js';

const policyOf = (v: string | null | undefined): RecordingPolicy | null => (RECORDING_POLICIES.includes(v as RecordingPolicy) ? (v as RecordingPolicy) : null);

export function recordingLookup(db: Db) {
  return {
    async queue(name: string): Promise<QueueRecording | null> {
      const row = await db
        .selectFrom('queues')
        .select(['recording_policy', 'recording_sample_percent', 'recording_announcement'])
        .where('name', '=', name)
        .executeTakeFirst();
      if (!row) return null;
      return { policy: policyOf(row.recording_policy), samplePercent: row.recording_sample_percent, announcement: announcementOf(row.recording_announcement) };
    },

    async routeSources(channelName: string | null, route: { kind: string; number?: string }, callerExtension: string | null): Promise<Omit<PolicySources, 'site' | 'queue'>> {
      const endpoint = channelName ? endpointOfChannel(channelName) : null;
      const trunkName = endpoint?.startsWith('trunk-') ? endpoint.slice('trunk-'.length) : null;
      const caller = callerExtension ?? (endpoint && /^[0-9]{2,16}$/.test(endpoint) ? endpoint : null);
      const extension = route.kind === 'extension' && route.number ? route.number : caller;
      const [trunk, ext] = await Promise.all([
        trunkName ? db.selectFrom('trunks').select('recording_policy').where('name', '=', trunkName).executeTakeFirst() : undefined,
        extension ? db.selectFrom('extensions').select('recording_policy').where('number', '=', extension).executeTakeFirst() : undefined,
      ]);
      return { trunk: policyOf(trunk?.recording_policy), extension: policyOf(ext?.recording_policy) };
    },
  };
}
