/**
 * Call recording policy, pure (docs/recording.md#policy). Each queue, inbound route, outbound
 * route, extension and trunk may say `always`, `never` or `on-demand`; where several apply the
 * most specific wins, in this order:
 *
 *   queue > inbound route > outbound route > extension > trunk > site default (PBX_RECORDING_POLICY)
 *
 * A queue that says `always` may record only a share of its calls (sample percent): the call id
 * decides, so the same call always gets the same answer (a restarted daemon agrees with the first).
 */
export type RecordingPolicy = 'always' | 'never' | 'on-demand';
export const RECORDING_POLICIES: readonly RecordingPolicy[] = ['always', 'never', 'on-demand'];

export type PolicyLevel = 'queue' | 'inbound-route' | 'outbound-route' | 'extension' | 'trunk' | 'site';
/** Most specific first: the first level with a policy set decides. */
export const POLICY_PRECEDENCE: readonly PolicyLevel[] = ['queue', 'inbound-route', 'outbound-route', 'extension', 'trunk', 'site'];

export type PolicySources = Partial<Record<Exclude<PolicyLevel, 'site'>, RecordingPolicy | null>> & { readonly site: RecordingPolicy };

export interface ResolvedPolicy {
  readonly policy: RecordingPolicy;
  readonly level: PolicyLevel;
}

export function resolvePolicy(sources: PolicySources): ResolvedPolicy {
  for (const level of POLICY_PRECEDENCE) {
    const policy = sources[level];
    if (policy) return { policy, level };
  }
  return { policy: sources.site, level: 'site' };
}

/** Whether a call falls in a sample of `percent` % (null or 100: every call). Stable per call id (FNV-1a). */
export function inSample(callId: string, percent: number | null): boolean {
  if (percent === null || percent >= 100) return true;
  if (percent <= 0) return false;
  let hash = 0x811c9dc5;
  for (let i = 0; i < callId.length; i++) {
    hash ^= callId.charCodeAt(i);
    hash = Math.imul(hash, 0x01000193) >>> 0;
  }
  return hash % 100 < percent;
}

/** What a caller hears before the recording starts: an uploaded prompt, or text spoken by TTS. */
export type RecordingAnnouncement = { readonly prompt: string } | { readonly text: string; readonly language?: string };

/** Parse a stored announcement (jsonb); anything else is no announcement. */
export function announcementOf(value: unknown): RecordingAnnouncement | null {
  if (!value || typeof value !== 'object') return null;
  const v = value as Record<string, unknown>;
  if (typeof v['prompt'] === 'string' && v['prompt'] !== '') return { prompt: v['prompt'] };
  if (typeof v['text'] === 'string' && v['text'].trim() !== '') {
    return typeof v['language'] === 'string' ? { text: v['text'], language: v['language'] } : { text: v['text'] };
  }
  return null;
}

/** The moment a call reaches a point where policy applies. */
export type PolicyPoint =
  /** Routed: the route, extension and trunk are known (IVR, a dialed extension or number). */
  | { readonly at: 'routed' }
  /** The caller joined a queue (its policy, sample and announcement now known). */
  | { readonly at: 'queue'; readonly samplePercent: number | null; readonly announcement: RecordingAnnouncement | null };

export type RecordingDecision =
  /** Start recording; `when`: now, or once a person (agent, callee) answers. */
  | { readonly kind: 'record'; readonly when: 'now' | 'answered'; readonly announcement: RecordingAnnouncement | null; readonly level: PolicyLevel }
  /** Not recorded automatically; the API or the handset may start it. */
  | { readonly kind: 'on-demand'; readonly level: PolicyLevel }
  /** Not recorded; a recording running (started by a less specific level) stops. */
  | { readonly kind: 'never'; readonly level: PolicyLevel }
  /** `always`, but this call is outside the queue's sample: like on-demand. */
  | { readonly kind: 'not-sampled'; readonly level: PolicyLevel };

/**
 * What to do at a policy point. In a queue, `recordQueueWait` (PBX_RECORDING_QUEUE_WAIT) says
 * whether the wait is recorded too, or only from the agent's answer. Elsewhere a call routed to
 * an IVR flow is recorded from its answer (the IVR is covered); a dialed call from the callee's answer.
 */
export function decideRecording(sources: PolicySources, point: PolicyPoint, callId: string, o: { recordQueueWait: boolean; siteAnnouncement: RecordingAnnouncement | null }): RecordingDecision {
  const { policy, level } = resolvePolicy(sources);
  if (policy === 'never') return { kind: 'never', level };
  if (policy === 'on-demand') return { kind: 'on-demand', level };
  if (point.at === 'queue') {
    if (level === 'queue' && !inSample(callId, point.samplePercent)) return { kind: 'not-sampled', level };
    const announcement = (level === 'queue' ? point.announcement : null) ?? o.siteAnnouncement;
    return { kind: 'record', when: o.recordQueueWait ? 'now' : 'answered', announcement, level };
  }
  return { kind: 'record', when: 'now', announcement: o.siteAnnouncement, level };
}

/** Whether on-demand recording (API start, the handset's key) is allowed under a policy. */
export function allowsOnDemand(policy: RecordingPolicy): boolean {
  return policy !== 'never';
}
