/**
 * Request and response schemas of /agents, /queues, /pause-reasons. Ranges are here (400 naming
 * the field); what depends on several fields or on other rows is checked by AcdService (also 400
 * naming the field).
 */
import { Type, type Static, type TSchema } from '@sinclair/typebox';
import { NullableTimestamp, Timestamp } from '../http/schemas.js';
import { pageQueryFields } from '../http/paging.js';
import { STRATEGIES } from './router.js';

const Nullable = <T extends TSchema>(t: T) => Type.Union([t, Type.Null()]);
const Int = (minimum: number, maximum: number, description?: string) => Type.Integer({ minimum, maximum, ...(description ? { description } : {}) });
/**
 * A whole number in range, or null, as one schema: with Ajv's type coercion a union [integer, null]
 * would turn an out-of-range 0 into null ("no limit") instead of refusing it.
 */
const NullableInt = (minimum: number, maximum: number, description?: string) =>
  Type.Unsafe<number | null>({ type: ['integer', 'null'], minimum, maximum, ...(description ? { description } : {}) });

const AgentNumber = Type.String({ pattern: '^[0-9]{2,16}$', description: 'digits, 2-16: what the agent types at a phone to log in' });
const AgentName = Type.String({ minLength: 1, maxLength: 80 });
const Pin = Type.String({ pattern: '^[0-9]{4,8}$', description: '4-8 digits, not too easy to guess; never returned' });
const SkillName = Type.String({ minLength: 1, maxLength: 40, description: 'a lower-case letter, then lower-case letters, digits, _ or -' });
const Skills = Type.Record(Type.String(), Type.Integer({ minimum: 1, maximum: 5 }), { description: '{ skill: level 1-5 }', maxProperties: 50 });
const QueueName = Type.String({ pattern: '^[a-z0-9][a-z0-9-]{0,63}$', description: 'lower-case letters, digits and -, up to 64' });
const AgentStatus = Type.Union(['logged-out', 'ready', 'reserved', 'on-call', 'wrap-up', 'paused'].map((s) => Type.Literal(s)));
const PauseCode = Int(0, 99);
const AutoAnswer = Type.Boolean({ description: 'the agent works on a headset: offers ask the phone to answer at once, with a beep (Alert-Info / Call-Info answer-after=0; docs/acd.md#screen-pop-on-the-handset); default false' });

// ------------------------------------------------------------------ agents

export const AgentParams = Type.Object({ number: AgentNumber }, { additionalProperties: false });
export type AgentParams = Static<typeof AgentParams>;

export const CreateAgent = Type.Object(
  { number: AgentNumber, name: AgentName, pin: Pin, skills: Type.Optional(Skills), autoAnswer: Type.Optional(AutoAnswer) },
  { additionalProperties: false },
);
export type CreateAgentBody = Static<typeof CreateAgent>;

export const UpdateAgent = Type.Object(
  { name: Type.Optional(AgentName), pin: Type.Optional(Pin), skills: Type.Optional({ ...Skills, description: 'replaces all skills' }), autoAnswer: Type.Optional(AutoAnswer) },
  { additionalProperties: false, minProperties: 1 },
);
export type UpdateAgentBody = Static<typeof UpdateAgent>;

export const ForceState = Type.Object(
  {
    state: Type.Union([Type.Literal('ready'), Type.Literal('paused'), Type.Literal('logged-out')]),
    pauseCode: Type.Optional(Int(1, 99, 'required for paused: a pause reason code')),
  },
  { additionalProperties: false, description: "a supervisor's override, through the agent state machine" },
);
export type ForceStateBody = Static<typeof ForceState>;

export const LogQuery = Type.Object(
  {
    from: Type.Optional(Type.String({ format: 'date-time' })),
    to: Type.Optional(Type.String({ format: 'date-time' })),
    ...pageQueryFields,
  },
  { additionalProperties: false },
);
export type LogQuery = Static<typeof LogQuery>;

export const Agent = Type.Object(
  {
    number: Type.String(),
    name: Type.String(),
    skills: Type.Record(Type.String(), Type.Integer()),
    autoAnswer: AutoAnswer,
    queues: Type.Array(Type.Object({ queue: Type.String(), penalty: Type.Integer() })),
    state: AgentStatus,
    stateSince: Timestamp,
    pauseCode: Nullable(Type.Integer()),
    pauseReason: Nullable(Type.String()),
    pending: Nullable(
      Type.Object({ kind: Type.Union([Type.Literal('pause'), Type.Literal('logout')]), pauseCode: Nullable(Type.Integer()), pauseReason: Nullable(Type.String()) }, {
        description: 'a pause or logout asked for during a call, carried out when it is over',
      }),
    ),
    extension: Nullable(Type.String({ description: 'the phone the agent is logged in at' })),
    callId: Nullable(Type.String()),
    missedOffers: Type.Integer(),
    locked: Type.Boolean({ description: 'too many wrong PINs: logins refused until lockedUntil' }),
    lockedUntil: NullableTimestamp,
    createdAt: Timestamp,
    updatedAt: Timestamp,
  },
  { description: 'a contact-center agent (the PIN is never returned)' },
);

export const StateLogEntry = Type.Object({
  at: Timestamp,
  from: AgentStatus,
  to: AgentStatus,
  cause: Type.String(),
  pauseCode: Nullable(Type.Integer()),
  pauseReason: Nullable(Type.String()),
  callId: Nullable(Type.String()),
  queue: Nullable(Type.String()),
  by: Nullable(Type.String()),
  details: Nullable(Type.Record(Type.String(), Type.Unknown())),
});

export const AgentLive = Type.Object({
  number: Type.String(),
  name: Type.String(),
  state: AgentStatus,
  pauseCode: Nullable(Type.Integer()),
  pauseReason: Nullable(Type.String()),
  secondsInState: Type.Integer(),
  extension: Nullable(Type.String()),
  callId: Nullable(Type.String()),
  callsHandledToday: Type.Integer(),
  talkSecondsToday: Type.Integer(),
});

// ------------------------------------------------------------------ queues

export const QueueParams = Type.Object({ name: QueueName }, { additionalProperties: false });
export type QueueParams = Static<typeof QueueParams>;
export const MemberParams = Type.Object({ name: QueueName, agent: AgentNumber }, { additionalProperties: false });
export type MemberParams = Static<typeof MemberParams>;

const strict = { additionalProperties: false } as const;
/** Where callers go when the queue gives up on them (max wait, max length, no agents). */
export const OverflowTarget = Type.Union(
  [
    Type.Object({ kind: Type.Literal('queue'), queue: QueueName }, strict),
    Type.Object({ kind: Type.Literal('flow'), flow: Type.String({ pattern: '^[a-z0-9][a-z0-9-]{0,63}$', description: 'an IVR flow with a published version' }) }, strict),
    Type.Object({ kind: Type.Literal('voicemail'), mailbox: Type.String({ pattern: '^[0-9]{2,16}$', description: 'an extension whose mailbox takes messages' }) }, strict),
    Type.Object({ kind: Type.Literal('extension'), number: Type.String({ pattern: '^[0-9]{2,16}$' }) }, strict),
  ],
  { description: '{kind: queue, queue} | {kind: flow, flow} | {kind: voicemail, mailbox} | {kind: extension, number}' },
);

const SkillRequirement = Type.Object({ skill: SkillName, minLevel: Int(1, 5) }, strict);
const WideningStep = Type.Object(
  {
    afterSeconds: Int(1, 7200, 'applies once the caller has waited this long'),
    lowerBy: Type.Union([Int(1, 4), Type.Literal('any')], { description: 'levels below each required minimum accepted now; "any": any level (the skill stays required)' }),
  },
  strict,
);

const queueFields = {
  strategy: Type.Union(STRATEGIES.map((s) => Type.Literal(s))),
  ringTimeoutSeconds: Int(5, 120, 'how long an agent rings (default 15)'),
  wrapUpSeconds: Int(0, 600, 'after-call time before the next offer (default 10)'),
  maxWaitSeconds: NullableInt(10, 7200, 'then the overflow; null: no limit'),
  maxLength: NullableInt(1, 1000, 'callers beyond go to the overflow; null: no limit'),
  overflow: Nullable(OverflowTarget),
  joinEmpty: Type.Boolean({ description: 'callers may join while no agent is logged in (default false)' }),
  leaveWhenEmpty: Type.Boolean({ description: 'callers leave to the overflow when the last agent logs out (default true)' }),
  slSeconds: Int(1, 3600, 'service level target: answered within (default 20)'),
  slPercent: Int(1, 100, 'service level target: share of calls (default 80)'),
  shortAbandonSeconds: Int(0, 600, 'reports: callers who hang up within this wait are short abandons, reported apart (default 5; docs/reporting.md)'),
  slExcludeShortAbandons: Type.Boolean({ description: "reports: short abandons are left out of the service level's denominator (default true)" }),
  slCountAbandons: Type.Boolean({ description: "reports: abandons (other than short ones) count in the service level's denominator (default true)" }),
  surveyFlow: Nullable(Type.String({ pattern: '^[a-z0-9][a-z0-9-]{0,63}$', description: 'post-call survey: the IVR flow (with a published version) the caller goes into when the agent hangs up (docs/acd.md#post-call-survey); null: none' })),
  fcrWindowHours: Int(1, 720, 'reports: a caller answered who does not call again within this many hours counts as resolved first time (default 24)'),
  announceSeconds: Int(0, 600, 'position announcements every N seconds (10-600); 0: none (default 30)'),
  missedOffersPause: Int(1, 10, 'missed offers in a row that pause the agent (reason 0 missed; default 3)'),
  requiredSkills: Type.Array(SkillRequirement, { maxItems: 20 }),
  widening: Type.Array(WideningStep, { maxItems: 10, description: 'steps in time order, each accepting lower levels than the one before' }),
  callbackAfterSeconds: NullableInt(10, 7200, 'offer a callback after waiting this long; null: never'),
  callbackRetries: Int(0, 5, 'default 2'),
  musicClass: Type.String({ pattern: '^[A-Za-z0-9_-]{1,40}$', description: 'Asterisk music on hold class' }),
  recordingRetentionDays: NullableInt(1, 36500, 'days a recording of this queue is kept (docs/recording.md#retention); null: the site default, PBX_RECORDING_RETENTION_DAYS'),
  recordingPolicy: Nullable(Type.Union([Type.Literal('always'), Type.Literal('never'), Type.Literal('on-demand')], { description: 'call recording (docs/recording.md#policy): the queue\'s word wins over routes, extensions, trunks and the site default; null: not set here' })),
  recordingSamplePercent: NullableInt(1, 100, 'with policy always, record only this share of calls (chosen by call id); null: every call'),
  recordingAnnouncement: Nullable(
    Type.Union([
      Type.Object({ prompt: Type.String({ pattern: '^[A-Za-z0-9][A-Za-z0-9_-]{0,63}$', description: 'an uploaded prompt' }) }, strict),
      Type.Object({ text: Type.String({ minLength: 1, maxLength: 500, description: 'spoken by text-to-speech' }), language: Type.Optional(Type.String({ pattern: '^[a-z]{2}(-[A-Za-z]{2})?$' })) }, strict),
    ], { description: 'played to the caller before the recording starts: {prompt} or {text, language?}; null: the site\'s (PBX_RECORDING_ANNOUNCEMENT)' }),
  ),
  callerIdTemplate: Nullable(Type.String({ minLength: 1, maxLength: 64, description: "what the agent's phone shows as the caller-ID name while a call of this queue rings it: a label and {caller} ({name}, {number}), optionally one IVR variable such as {account}; cut to 24 characters (docs/acd.md#screen-pop-on-the-handset); null: the caller's name or number" })),
  alertInfo: Nullable(Type.String({ minLength: 1, maxLength: 200, description: 'Alert-Info header of this queue\'s offers, a distinctive ring: <http://127.0.0.1/Bellcore-dr2>, <http://127.0.0.1>;info=ring2 or info=ring2; null: none' })),
};

export const CreateQueue = Type.Object({ name: QueueName, ...Type.Partial(Type.Object(queueFields)).properties }, strict);
export type CreateQueueBody = Static<typeof CreateQueue>;

/** The name is what routes, flows and overflows refer to: it cannot change. */
export const UpdateQueue = Type.Partial(Type.Object(queueFields), { ...strict, minProperties: 1 });
export type UpdateQueueBody = Static<typeof UpdateQueue>;

export const Queue = Type.Object({ id: Type.String(), name: Type.String(), ...queueFields, createdAt: Timestamp, updatedAt: Timestamp }, { description: 'an ACD queue' });

export const SetMember = Type.Object({ agent: AgentNumber, penalty: Type.Optional(Int(0, 100, 'lower is offered first (default 0)')) }, strict);
export type SetMemberBody = Static<typeof SetMember>;

export const Member = Type.Object({ agent: Type.String(), name: Type.String(), penalty: Type.Integer(), state: AgentStatus });

export const QueueLive = Type.Object({
  queue: Type.String(),
  waiting: Type.Array(
    Type.Object({
      callId: Type.String(),
      callerNumber: Nullable(Type.String()),
      callerName: Nullable(Type.String()),
      waitingSeconds: Type.Integer(),
      priority: Type.Integer(),
      state: Type.Union([Type.Literal('waiting'), Type.Literal('ringing')], { description: 'waiting, or ringing: an agent\'s phone rings for the caller' }),
      agents: Type.Array(Type.String(), { description: 'the numbers of the agents being offered the caller (their phones ring); empty while waiting' }),
    }),
  ),
  longestWaitSeconds: Type.Integer(),
  callbacksWaiting: Type.Integer(),
  agents: Type.Object({
    ready: Type.Integer(), reserved: Type.Integer(), onCall: Type.Integer(), wrapUp: Type.Integer(), paused: Type.Integer(), loggedOut: Type.Integer(),
  }, { description: 'the members by state' }),
  today: Type.Object({
    offered: Type.Integer({ description: 'counted once per caller, when they join: the callers in the queue now and those who left it since local midnight (a callback is not offered again)' }),
    answered: Type.Integer({ description: 'counted when the agent answers the caller (callbacks are counted in callbacksAnswered)' }),
    abandoned: Type.Integer({ description: 'counted when the caller hangs up while waiting (or while an agent rings)' }),
    answeredWithinSl: Type.Integer(),
    serviceLevelPercent: Nullable(Type.Number({ description: 'answered within slSeconds / callers who left the queue since local midnight (callback calls left out), 0-100; null before the first' })),
    slSeconds: Type.Integer(),
    slPercentTarget: Type.Integer(),
    callbacksRequested: Type.Integer({ description: 'callers who left the queue asking to be called back (counted in offered once, not in answered)' }),
    callbacksAnswered: Type.Integer({ description: 'callback calls an agent answered (then the customer was dialed); counted in the agents\' callsHandledToday' }),
  }),
});

// ------------------------------------------------------------------ pause reasons

export const PauseReason = Type.Object({ code: Type.Integer(), name: Type.String(), system: Type.Boolean({ description: 'built in, cannot be deleted' }) });
export const CreatePauseReason = Type.Object(
  { code: Int(1, 99, '0 is the system\'s "missed"'), name: Type.String({ minLength: 1, maxLength: 40 }) },
  strict,
);
export type CreatePauseReasonBody = Static<typeof CreatePauseReason>;
export const PauseReasonParams = Type.Object({ code: PauseCode }, strict);
export type PauseReasonParams = Static<typeof PauseReasonParams>;
