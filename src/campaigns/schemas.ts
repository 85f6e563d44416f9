/**
 * Request and answer schemas of /campaigns (the campaign, its lifecycle, attempts, dispositions)
 * and the outbound reports (TypeBox; also the OpenAPI document; docs/campaigns.md). Shapes only:
 * the rules across fields (mode needs a queue or a flow, the abandon cap, the 15 s ring...) are in
 * campaign-settings.ts, so their 400s say the rule, not just a number.
 */
import { Type, type Static, type TSchema } from '@sinclair/typebox';
import { pageQueryFields } from '../http/paging.js';
import { NullableTimestamp, Timestamp } from '../http/schemas.js';

const strict = { additionalProperties: false } as const;
const Nullable = <T extends TSchema>(t: T) => Type.Union([t, Type.Null()]);

const NAME = '^[a-z0-9][a-z0-9-]{0,63}$';
export const CampaignName = Type.String({ pattern: NAME, description: 'lower-case letters, digits and -, up to 64' });
const Mode = Type.Union(['preview', 'progressive', 'predictive', 'agentless'].map((m) => Type.Literal(m)), {
  description: 'preview: the agent sees the contact first; progressive: one line per ready agent; predictive: paced lines; agentless: a flow per answered contact',
});
const State = Type.Union(['draft', 'running', 'paused', 'stopped', 'finished'].map((s) => Type.Literal(s)));
const PromptName = Type.String({ pattern: '^[A-Za-z0-9 _.-]{1,64}$', description: 'a prompt name (GET /prompts)' });
const Hhmm = Type.String({ pattern: '^([01][0-9]|2[0-3]):[0-5][0-9]$', description: 'HH:MM local time of the contact' });

const Window = Type.Object(
  {
    start: Type.Optional(Hhmm),
    end: Type.Optional(Type.String({ pattern: '^([01][0-9]|2[0-3]):[0-5][0-9]$', description: 'HH:MM, excluded; after start (no window crosses midnight)' })),
    days: Type.Optional(Type.Array(Type.Integer(), { minItems: 1, maxItems: 7, description: 'ISO weekdays, 1 = Monday .. 7 = Sunday' })),
  },
  { ...strict, description: "calling window in the contact's local time (default 08:00-21:00, Monday-Saturday)" },
);

const Rule = Type.Object(
  {
    delayMinutes: Type.Integer({ minimum: 1, maximum: 43_200, description: 'wait this long before trying again (at most 30 days)' }),
    maxAttempts: Type.Integer({ minimum: 1, maximum: 50, description: 'try again after this outcome only while the contact has been dialed fewer times than this (and than maxAttempts), else it is exhausted; 1: no retry' }),
  },
  strict,
);
const RetryRules = Type.Object(
  { busy: Type.Optional(Rule), 'no-answer': Type.Optional(Rule), machine: Type.Optional(Rule), failed: Type.Optional(Rule), abandoned: Type.Optional(Rule) },
  { ...strict, description: 'per outcome; an outcome left out keeps its default (docs/campaigns.md#settings)' },
);

const Pacing = Type.Object(
  {
    mode: Type.Union([Type.Literal('fixed'), Type.Literal('predictive')]),
    level: Type.Optional(Type.Number({ description: 'fixed: lines per ready agent, 1 to 5' })),
    targetAbandonRate: Type.Optional(Type.Number({ description: "predictive: the abandon rate aimed at, more than 0 and at most abandonCap" })),
  },
  { ...strict, description: "predictive mode's pacing: {mode:'fixed', level} or {mode:'predictive', targetAbandonRate}" },
);

const DispositionItem = Type.Object(
  {
    code: Type.String({ pattern: '^[0-9]{1,2}$', description: 'what the agent keys on the handset during wrap-up (1-2 digits)' }),
    name: Type.String({ pattern: '^[a-z0-9][a-z0-9-]{0,31}$', description: 'lower-case letters, digits and -, up to 32' }),
    success: Type.Boolean({ description: 'counts as a conversion' }),
    action: Type.Union(['done', 'retry', 'callback', 'dnc'].map((a) => Type.Literal(a)), {
      description: "done: the contact is finished; retry: tried again later; callback: called back at callbackAt by the same agent; dnc: on the campaign's do-not-call list",
    }),
  },
  strict,
);

const settingsFields = {
  queue: Type.Optional(Nullable(Type.String({ pattern: NAME, description: 'the queue whose agents work the campaign (required unless agentless)' }))),
  callerName: Type.Optional(Nullable(Type.String({ minLength: 1, maxLength: 40 }))),
  window: Type.Optional(Window),
  defaultCountry: Type.Optional(Type.String({ pattern: '^[A-Z]{2}$', description: 'ISO 3166 country numbers without + are read in (default US)' })),
  retryRules: Type.Optional(RetryRules),
  maxAttempts: Type.Optional(Type.Integer({ minimum: 1, maximum: 50, description: 'tries per contact in all (default 5)' })),
  // No minimum here: a union with null would turn a 0 into null (Ajv's type coercion); settingsProblem checks it.
  dailyLimit: Type.Optional(Nullable(Type.Integer({ description: "attempts per day in the campaign's time zone, 1 to 10,000,000; null: no limit" }))),
  timeZone: Type.Optional(Type.String({ minLength: 1, maxLength: 64, description: "IANA zone of the campaign's day (daily limit, compliance days); default the site's" })),
  abandonCap: Type.Optional(Type.Number({ description: 'the most abandons per live answer over 30 days, 0 to 0.03 (default 0.03)' })),
  ringSeconds: Type.Optional(Type.Integer({ maximum: 120, description: 'ring this long before no-answer, 15 to 120 (default 25)' })),
  connectSeconds: Type.Optional(Type.Number({ description: 'a live answer waits at most this long for an agent, then hears the abandon message; more than 0, at most 2 (default 2)' })),
  previewSeconds: Type.Optional(Type.Integer({ description: 'preview mode: an offer not accepted or skipped within this many seconds counts as skipped (expired); 5 to 300 (default 30)' })),
  pacing: Type.Optional(Pacing),
  amd: Type.Optional(Type.Boolean({ description: 'answering machine detection (default false)' })),
  machineAction: Type.Optional(Type.Union([Type.Literal('hangup'), Type.Literal('message')], { description: 'what a machine gets (default hangup)' })),
  machinePrompt: Type.Optional(Nullable(PromptName)),
  abandonPrompt: Type.Optional(Nullable(PromptName)),
  flow: Type.Optional(Nullable(Type.String({ pattern: NAME, description: 'agentless: the flow answered contacts run' }))),
  dispositions: Type.Optional(Type.Array(DispositionItem, { maxItems: 99, description: 'the outcomes agents set; default: sale, not-interested, call-back, retry-later, do-not-call' })),
};

const CallerId = Type.String({ pattern: '^\\+?[0-9]{3,19}$', description: 'the number contacts see (required)' });
const TrunkName = Type.String({ minLength: 1, maxLength: 64, description: 'the trunk the calls go out through' });

export const CreateCampaign = Type.Object({ name: CampaignName, mode: Mode, trunk: TrunkName, callerId: CallerId, ...settingsFields }, strict);
export type CreateCampaignBody = Static<typeof CreateCampaign>;

export const UpdateCampaign = Type.Object(
  { name: Type.Optional(CampaignName), mode: Type.Optional(Mode), trunk: Type.Optional(TrunkName), callerId: Type.Optional(CallerId), ...settingsFields },
  { ...strict, minProperties: 1 },
);
export type UpdateCampaignBody = Static<typeof UpdateCampaign>;

export const CampaignParams = Type.Object({ id: Type.String({ pattern: '^[0-9]{1,18}$', description: 'campaign id' }) }, strict);
export const AttemptParams = Type.Object(
  { id: Type.String({ pattern: '^[0-9]{1,18}$' }), attemptId: Type.String({ pattern: '^[0-9]{1,18}-[0-9]{1,4}$', description: '<contact id>-<n>' }) },
  strict,
);

export const CampaignListQuery = Type.Object({ ...pageQueryFields, state: Type.Optional(State) }, strict);
export type CampaignListQuery = Static<typeof CampaignListQuery>;

const FullRule = Type.Object({ delayMinutes: Type.Integer(), maxAttempts: Type.Integer() });
export const Campaign = Type.Object(
  {
    id: Type.String(),
    name: Type.String(),
    mode: Type.String(),
    state: State,
    queue: Nullable(Type.String()),
    trunk: Type.String(),
    callerId: Type.String(),
    callerName: Nullable(Type.String()),
    window: Type.Object({ start: Type.String(), end: Type.String(), days: Type.Array(Type.Integer()) }),
    defaultCountry: Type.String(),
    retryRules: Type.Object({ busy: FullRule, 'no-answer': FullRule, machine: FullRule, failed: FullRule, abandoned: FullRule }),
    maxAttempts: Type.Integer(),
    dailyLimit: Nullable(Type.Integer()),
    timeZone: Type.String(),
    abandonCap: Type.Number(),
    ringSeconds: Type.Integer(),
    connectSeconds: Type.Number(),
    previewSeconds: Type.Integer(),
    pacing: Type.Object({ mode: Type.String(), level: Type.Optional(Type.Number()), targetAbandonRate: Type.Optional(Type.Number()) }),
    amd: Type.Boolean(),
    machineAction: Type.String(),
    machinePrompt: Nullable(Type.String()),
    abandonPrompt: Nullable(Type.String()),
    flow: Nullable(Type.String()),
    dispositions: Type.Array(Type.Object({ code: Type.String(), name: Type.String(), success: Type.Boolean(), action: Type.String() })),
    createdAt: Timestamp,
    updatedAt: Timestamp,
    warnings: Type.Optional(Type.Array(Type.String(), { description: 'start: what may keep it from dialing (e.g. no agent in its queue)' })),
  },
  { $id: 'Campaign' },
);

export const AttemptListQuery = Type.Object(
  {
    ...pageQueryFields,
    state: Type.Optional(Type.Union(['queued', 'dialing', 'answered', 'connected', 'ended'].map((s) => Type.Literal(s)))),
    outcome: Type.Optional(Type.String({ pattern: '^[a-z-]{1,16}$' })),
  },
  strict,
);
export type AttemptListQuery = Static<typeof AttemptListQuery>;

export const Attempt = Type.Object(
  {
    id: Type.String({ description: '<contact id>-<n>: the contact\'s n-th try' }),
    contactId: Type.String(),
    number: Type.String(),
    state: Type.String(),
    outcome: Nullable(Type.String()),
    hangupCause: Nullable(Type.Integer()),
    amdStatus: Nullable(Type.String()),
    amdCause: Nullable(Type.String()),
    agent: Nullable(Type.String({ description: 'the agent number' })),
    channelId: Nullable(Type.String()),
    disposition: Nullable(Type.String({ description: 'the disposition name' })),
    createdAt: Timestamp,
    dialedAt: NullableTimestamp,
    answeredAt: NullableTimestamp,
    connectedAt: NullableTimestamp,
    endedAt: NullableTimestamp,
    ringMs: Nullable(Type.Integer()),
  },
  { $id: 'CampaignAttempt' },
);

export const SetDisposition = Type.Object(
  {
    code: Type.String({ pattern: '^[0-9]{1,2}$', description: "one of the campaign's disposition codes" }),
    callbackAt: Type.Optional(Type.String({ format: 'date-time', description: "callback: when (future, inside the calling window in the contact's time)" })),
  },
  strict,
);
export type SetDispositionBody = Static<typeof SetDisposition>;

export const DispositionResult = Type.Object({
  attemptId: Type.String(),
  campaignId: Type.String(),
  contactId: Type.String(),
  code: Type.String(),
  name: Type.String(),
  success: Type.Boolean(),
  action: Type.String(),
  contactState: Type.String({ description: 'the contact after the action: done, ready, exhausted, callback or dnc' }),
  nextAttemptAt: NullableTimestamp,
});
