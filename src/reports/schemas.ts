/** Request and answer schemas of /reports (docs/reporting.md#api). */
import { Type, type Static, type TSchema } from '@sinclair/typebox';
import { INTERVALS } from './intervals.js';
import { MAX_INTERVALS, MAX_RANGE_DAYS } from './service.js';

const strict = { additionalProperties: false } as const;
const Nullable = <T extends TSchema>(t: T) => Type.Union([t, Type.Null()]);
const Seconds = (description?: string) => Type.Number({ description: description ?? 'seconds, one decimal' });
const AvgSeconds = (description: string) => Nullable(Type.Number({ description: `${description}; seconds, one decimal; null without calls` }));
const Percent = (description: string) => Nullable(Type.Number({ description: `${description}; %, one decimal; null when there is nothing to divide by` }));

const rangeFields = {
  from: Type.String({ minLength: 10, maxLength: 40, description: 'start (included): a date-time with its offset (2026-03-29T00:00:00+01:00, ...Z) or a local date in tz (2026-03-29: its midnight)' }),
  to: Type.Optional(Type.String({ minLength: 10, maxLength: 40, description: `end (excluded): a date-time with its offset, or a local date in tz (its midnight: to=2026-03-30 ends the 29th); default now. At most ${MAX_RANGE_DAYS} days after from` }),
  ),
  interval: Type.Union(INTERVALS.map((i) => Type.Literal(i)), {
    default: '1h',
    description: `15m, 30m, 1h (on the local clock), day, week (from Monday), month, in tz; at most ${MAX_INTERVALS} intervals (default 1h)`,
  }),
};
const zoneField = { tz: Type.Optional(Type.String({ minLength: 1, maxLength: 64, description: "IANA time zone of the intervals and times (e.g. Europe/Berlin); default: the site's (PBX_TIMEZONE)" })) };
const formatField = {
  format: Type.Optional(Type.Union([Type.Literal('json'), Type.Literal('csv')], { description: 'csv: answer text/csv (as does Accept: text/csv); wins over the Accept header' })),
};
const QueueNames = Type.String({
  pattern: '^[a-z0-9][a-z0-9-]{0,63}(,[a-z0-9][a-z0-9-]{0,63}){0,99}$',
  description: 'queue names, comma-separated (up to 100); default: every queue. An unknown name is 404 queue-not-found',
});
const AgentNumbers = Type.String({
  pattern: '^[0-9]{2,16}(,[0-9]{2,16}){0,499}$',
  description: 'agent numbers, comma-separated (up to 500); default: every agent. An unknown number is 404 agent-not-found',
});

export const QueueReportQuery = Type.Object({ ...rangeFields, ...zoneField, queue: Type.Optional(QueueNames), ...formatField }, strict);
export type QueueReportQuery = Static<typeof QueueReportQuery>;
export const AgentReportQuery = Type.Object({ ...rangeFields, ...zoneField, agent: Type.Optional(AgentNumbers), ...formatField }, strict);
export type AgentReportQuery = Static<typeof AgentReportQuery>;
export const QueueLiveQuery = Type.Object({ ...zoneField, queue: Type.Optional(QueueNames), ...formatField }, strict);
export type QueueLiveQuery = Static<typeof QueueLiveQuery>;

const span = {
  from: Type.String({ description: 'interval start, local time with offset' }),
  to: Type.String({ description: 'interval end (excluded), local time with offset' }),
};

const surveyFields = {
  surveysAsked: Type.Integer({ description: 'survey questions asked (answered or not)' }),
  csatResponses: Type.Integer(),
  csatPercent: Percent('CSAT: answers 4-5 / answers on a 1-5 scale'),
  npsResponses: Type.Integer(),
  nps: Nullable(Type.Number({ description: 'NPS: % promoters (9-10) - % detractors (0-6) of the answers on a 0-10 scale, -100..100; null without answers' })),
};

const queueFigures = {
  offered: Type.Integer({ description: 'calls that joined the queue in the interval (each counted there with its outcome)' }),
  answered: Type.Integer(),
  abandoned: Type.Integer({ description: 'hung up while waiting, after the short-abandon threshold' }),
  shortAbandoned: Type.Integer({ description: 'hung up within shortAbandonSeconds (reported apart)' }),
  overflowed: Type.Integer(),
  timedOut: Type.Integer(),
  callbacksRequested: Type.Integer(),
  callbacksCompleted: Type.Integer({ description: 'callbacks done in the interval' }),
  callbacksFailed: Type.Integer({ description: 'callbacks given up in the interval' }),
  waiting: Type.Integer({ description: 'joined and no outcome yet' }),
  abandonRatePercent: Percent('abandoned / (offered - shortAbandoned)'),
  answeredWithinSl: Type.Integer({ description: 'answered within slSeconds (inclusive)' }),
  slCalls: Type.Integer({ description: "the service level's denominator (docs/reporting.md#service-level)" }),
  serviceLevelPercent: Percent('answeredWithinSl / slCalls'),
  slSeconds: Type.Integer(),
  slTargetPercent: Type.Integer(),
  slMet: Nullable(Type.Boolean({ description: 'serviceLevelPercent >= slTargetPercent' })),
  asaSeconds: AvgSeconds('average speed of answer'),
  avgWaitSeconds: AvgSeconds('average wait of the calls with an outcome'),
  maxWaitSeconds: AvgSeconds('longest wait'),
  avgAbandonSeconds: AvgSeconds('average wait of the abandoned (not short)'),
  handled: Type.Integer({ description: 'answered calls whose handling (wrap-up included) is over' }),
  ahtSeconds: AvgSeconds('AHT = talk + hold + wrap-up per handled call'),
  avgTalkSeconds: AvgSeconds('talk'),
  avgHoldSeconds: AvgSeconds('hold'),
  avgWrapUpSeconds: AvgSeconds('wrap-up'),
  transferred: Type.Integer(),
  transferRatePercent: Percent('transferred / answered'),
  fcrCalls: Type.Integer({ description: 'answered callers with a number whose FCR window is over' }),
  fcrResolved: Type.Integer({ description: 'of those, callers who did not call again within fcrWindowHours' }),
  fcrPercent: Percent('first-call resolution (proxy): fcrResolved / fcrCalls'),
  fcrPending: Type.Integer({ description: 'answered callers whose window is still open' }),
  ...surveyFields,
};

export const QueueReportRow = Type.Object({ queue: Type.String(), ...span, ...queueFigures }, { description: "one queue's figures for one interval" });
export const QueueLiveRow = Type.Object(
  { queue: Type.String(), window: Type.Union([Type.Literal('last-15m'), Type.Literal('last-60m'), Type.Literal('today')]), ...span, ...queueFigures },
  { description: "one queue's figures for the last 15 or 60 minutes or today so far (calls that joined in the window)" },
);

export const AgentReportRow = Type.Object(
  {
    agent: Type.String({ description: 'the agent number' }),
    name: Type.String(),
    ...span,
    loggedInSeconds: Seconds(),
    readySeconds: Seconds(),
    ringingSeconds: Seconds('reserved: a queue call ringing at the phone'),
    onCallSeconds: Seconds(),
    wrapUpStateSeconds: Seconds('in the wrap-up state'),
    pausedSeconds: Seconds(),
    paused: Type.Array(Type.Object({ code: Nullable(Type.Integer()), reason: Nullable(Type.String()), seconds: Type.Number() }), { description: 'paused time by reason, largest first' }),
    answered: Type.Integer(),
    missed: Type.Integer({ description: 'ring-no-answer (RONA): offers let ring out or rejected' }),
    transfers: Type.Integer(),
    handled: Type.Integer({ description: 'calls whose handling (wrap-up included) ended in the interval' }),
    talkSeconds: Seconds(),
    holdSeconds: Seconds(),
    wrapUpSeconds: Seconds('wrap-up of the calls handled'),
    ahtSeconds: AvgSeconds('(talk + hold + wrap-up) / handled'),
    handleSeconds: Seconds('on-call + wrap-up state time'),
    occupancyPercent: Percent('handle / (handle + ready + ringing)'),
    utilizationPercent: Percent('handle / logged in'),
    ...surveyFields,
  },
  { description: "one agent's figures for one interval" },
);
