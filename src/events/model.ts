/**
 * The events of the live stream (GET /api/v1/events, docs/events.md): one TypeBox union, the
 * types features publish (without id and time: the bus adds them), and the role rule. Pure.
 *
 * Role rule: a viewer sees agent.state, the queue events (queue.joined, queue.left: what a
 * wallboard counts) and campaign.attempt, with the caller's (the contact's) number and name
 * withheld (null); every other type (the call events, the screen pop, recordings) needs a
 * supervisor. Supervisors and admins see all.
 */
import { Type, type Static, type TSchema } from '@sinclair/typebox';

const Nullable = <T extends TSchema>(t: T) => Type.Union([t, Type.Null()]);
const NullableString = Nullable(Type.String());
const Caller = {
  callerNumber: Type.Union([Type.String(), Type.Null()], { description: 'the caller\'s number; null when unknown or withheld from a viewer' }),
  callerName: Type.Union([Type.String(), Type.Null()], { description: 'the caller\'s name; null when unknown or withheld from a viewer' }),
};
/** Every event: `id` increases (docs/events.md#ids), `at` when it was published. */
const envelope = <Name extends string, P extends Record<string, TSchema>>(type: Name, props: P, description: string) =>
  Type.Object({ id: Type.Integer({ minimum: 1 }), at: Type.String({ format: 'date-time' }), type: Type.Literal(type), ...props }, { description, additionalProperties: false });

export const CallStarted = envelope('call.started', {
  callId: Type.String(),
  direction: Type.Union([Type.Literal('inbound'), Type.Literal('outbound'), Type.Literal('internal')]),
  ...Caller,
  dialedNumber: NullableString,
  linkedId: Type.Union([Type.String(), Type.Null()], { description: 'the first part\'s callId for the part after a transfer' }),
}, 'a call (or a call\'s part after a transfer) reached the daemon; its live row is written');

export const CallAnswered = envelope('call.answered', {
  callId: Type.String(),
  answeredBy: Type.Union([Type.String(), Type.Null()], { description: 'the extension or number that answered (the agent\'s extension for a queue call)' }),
  agent: Type.Union([Type.String(), Type.Null()], { description: 'the agent\'s number, for a queue call' }),
  queue: NullableString,
}, 'a person answered: the talk time starts');

export const CallEnded = envelope('call.ended', {
  callId: Type.String(),
  cdrId: Type.String({ description: 'GET /api/v1/cdrs/{cdrId}' }),
  disposition: Type.String(),
  durationSeconds: Type.Integer(),
  billableSeconds: Type.Integer(),
  ...Caller,
  queue: NullableString,
  agent: NullableString,
}, 'the call is over and its CDR is written');

export const QueueJoined = envelope('queue.joined', {
  callId: Type.String(),
  queue: Type.String(),
  ...Caller,
  priority: Type.Integer(),
}, 'a caller joined a queue (written)');

export const QUEUE_LEFT_REASONS = ['answered', 'abandoned', 'overflow', 'timeout'] as const;
export const QueueLeft = envelope('queue.left', {
  callId: Type.String(),
  queue: Type.String(),
  ...Caller,
  reason: Type.Union(QUEUE_LEFT_REASONS.map((r) => Type.Literal(r))),
  agent: Type.Union([Type.String(), Type.Null()], { description: 'the agent who answered (reason answered)' }),
  waitSeconds: Type.Number(),
}, 'a caller left a queue: answered by an agent, hung up (abandoned), sent on (overflow) or out of time');

export const AgentOffered = envelope('agent.offered', {
  callId: Type.String(),
  queue: NullableString,
  agent: Type.String(),
  extension: Type.String(),
  ...Caller,
  variables: Type.Record(Type.String(), Type.String(), { description: 'what the IVR flows collected for this caller (flow variables)' }),
}, "the agent's phone is ringing with this caller: the screen pop");

export const AGENT_STATES = ['logged-out', 'ready', 'reserved', 'on-call', 'wrap-up', 'paused'] as const;
const AgentStatusSchema = Type.Union(AGENT_STATES.map((s) => Type.Literal(s)));
export const AgentStateChanged = envelope('agent.state', {
  agent: Type.String(),
  state: AgentStatusSchema,
  from: AgentStatusSchema,
  cause: Type.String({ description: "the agent event that made the change: login, logout, pause, unpause, offer, answer, reject, ring-timeout, call-ended, wrap-up-done, force" }),
  pause: Nullable(Type.Object({ code: Type.Integer(), name: Type.String() })),
  callId: NullableString,
  queue: Type.Union([Type.String(), Type.Null()], { description: 'the queue of the call the agent is offered, on or wrapping up' }),
  queues: Type.Array(Type.String(), { description: 'the queues the agent is a member of' }),
}, "an agent's state changed (written)");

export const RecordingReady = envelope('recording.ready', {
  recordingId: Type.String(),
  callId: Type.String(),
  queue: NullableString,
  agent: NullableString,
  durationMs: Nullable(Type.Integer()),
}, 'a call recording is stored and can be fetched (GET /api/v1/recordings/{id})');

export const CAMPAIGN_STATES = ['draft', 'running', 'paused', 'stopped', 'finished'] as const;
const CampaignStatusSchema = Type.Union(CAMPAIGN_STATES.map((s) => Type.Literal(s)));
export const CampaignStateChanged = envelope('campaign.state', {
  campaignId: Type.String(),
  campaign: Type.String({ description: 'the campaign name' }),
  state: CampaignStatusSchema,
  from: CampaignStatusSchema,
  cause: Type.String({ description: 'start, pause, resume, stop (the API) or finish (the dialer: no contact left)' }),
}, "an outbound campaign's state changed (written; docs/campaigns.md#lifecycle)");

export const CAMPAIGN_ATTEMPT_OUTCOMES = ['busy', 'no-answer', 'failed', 'machine', 'human', 'abandoned', 'blocked-dnc', 'blocked-window', 'cancelled', 'skipped', 'expired'] as const;
export const CampaignAttemptEnded = envelope('campaign.attempt', {
  attemptId: Type.String({ description: '`<contact id>-<n>`; also the Asterisk channel id of the contact\'s leg' }),
  campaignId: Type.String(),
  campaign: Type.String({ description: 'the campaign name' }),
  contactId: Type.String(),
  contactNumber: Type.Union([Type.String(), Type.Null()], { description: 'the number dialed (E.164); null when withheld from a viewer' }),
  contactName: Type.Union([Type.String(), Type.Null()], { description: 'the contact\'s name; null when unknown or withheld from a viewer' }),
  outcome: Type.Union(CAMPAIGN_ATTEMPT_OUTCOMES.map((o) => Type.Literal(o)), { description: 'docs/campaigns.md: human (an agent talked), abandoned, machine, busy, no-answer, failed, blocked-dnc, blocked-window, cancelled; preview offers: skipped, expired (never dialed)' }),
  agent: Type.Union([Type.String(), Type.Null()], { description: 'the agent\'s number, when one talked with the contact' }),
}, "an outbound campaign's attempt ended (written), with its outcome");

export const CAMPAIGN_PREVIEW_STATES = ['offered', 'accepted', 'skipped', 'expired'] as const;
export const CampaignPreview = envelope('campaign.preview', {
  attemptId: Type.String({ description: 'the offer: the attempt dialed if the agent accepts (`<contact id>-<n>`)' }),
  campaignId: Type.String(),
  campaign: Type.String({ description: 'the campaign name' }),
  agent: Type.String({ description: "the agent's number" }),
  state: Type.Union(CAMPAIGN_PREVIEW_STATES.map((s) => Type.Literal(s)), { description: 'offered (to this agent, reserved meanwhile), accepted (the contact is dialed), skipped, expired (not answered in time: counts as skipped)' }),
  contactId: Type.String(),
  contactNumber: Type.String({ description: 'the number to dial (E.164)' }),
  contactName: NullableString,
  data: Type.Record(Type.String(), Type.String(), { description: "the contact's data (the list's extra columns)" }),
  expiresAt: Type.String({ format: 'date-time', description: 'when the offer counts as skipped unless accepted' }),
}, 'preview mode: a contact offered to an agent before it is dialed, and what became of the offer (docs/campaigns.md#preview-mode)');

export const PbxEvent = Type.Union([CallStarted, CallAnswered, CallEnded, QueueJoined, QueueLeft, AgentOffered, AgentStateChanged, RecordingReady, CampaignStateChanged, CampaignAttemptEnded, CampaignPreview], { $id: 'PbxEvent' });
export type PbxEvent = Static<typeof PbxEvent>;
export type EventType = PbxEvent['type'];
export const EVENT_TYPES: readonly EventType[] = ['call.started', 'call.answered', 'call.ended', 'queue.joined', 'queue.left', 'agent.offered', 'agent.state', 'recording.ready', 'campaign.state', 'campaign.attempt', 'campaign.preview'];

/** What a feature publishes: the event without its id and time (the bus gives those). */
export type EventInput = PbxEvent extends infer E ? (E extends PbxEvent ? Omit<E, 'id' | 'at'> : never) : never;

/** The stream's control message when a resume is impossible: fetch state again (the REST live views). No id. */
export const Resync = Type.Object(
  {
    type: Type.Literal('resync'),
    reason: Type.Union([Type.Literal('too-old'), Type.Literal('unknown-id')]),
    oldestId: Type.Union([Type.Integer(), Type.Null()], { description: 'the oldest id the daemon can still replay' }),
    newestId: Type.Union([Type.Integer(), Type.Null()]),
  },
  { $id: 'EventResync', description: 'sent first when Last-Event-ID is outside the replay window (or from before a restart); live events follow' },
);
export type Resync = Static<typeof Resync>;

export type StreamRole = 'viewer' | 'supervisor' | 'admin';

/** The types a viewer may receive. */
export const VIEWER_TYPES: ReadonlySet<EventType> = new Set(['agent.state', 'queue.joined', 'queue.left', 'campaign.attempt']);

export function mayReceive(role: StreamRole, type: EventType): boolean {
  return role !== 'viewer' || VIEWER_TYPES.has(type);
}

/** The event as `role` receives it (null: withheld). Caller and contact numbers and names need a supervisor. */
export function forRole(role: StreamRole, event: PbxEvent): PbxEvent | null {
  if (!mayReceive(role, event.type)) return null;
  if (role !== 'viewer') return event;
  if ('callerNumber' in event) return { ...event, callerNumber: null, callerName: null };
  if (event.type === 'campaign.attempt') return { ...event, contactNumber: null, contactName: null };
  return event;
}
