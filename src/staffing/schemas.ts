/**
 * Request and response schemas of /staffing (TypeBox; also the OpenAPI document). Ranges are here
 * (400 validation-failed naming the field); what depends on several fields is checked in routes.ts.
 */
import { Type, type Static } from '@sinclair/typebox';
import { MAX_AGENTS } from './erlang.js';

const Num = (o: { minimum?: number; exclusiveMinimum?: number; maximum?: number; exclusiveMaximum?: number }, description: string) => Type.Number({ ...o, description });

/** Targets and what shapes the answer, shared by /staffing/erlang and /staffing/forecast. */
const targetFields = {
  targetAnswerSeconds: Type.Optional(Num({ minimum: 0, maximum: 3600 }, 'service level time T: answered within this many seconds (with targetServiceLevel)')),
  targetServiceLevel: Type.Optional(Num({ minimum: 0, maximum: 1 }, 'share of offered calls to answer within targetAnswerSeconds, 0-1 (0.8 = 80 %)')),
  targetAsaSeconds: Type.Optional(Num({ minimum: 0, maximum: 3600 }, 'average speed of answer at most this many seconds')),
  maxOccupancy: Type.Optional(Num({ exclusiveMinimum: 0, maximum: 1 }, 'occupancy (carried load per agent) at most this, 0-1: adds agents when the targets alone would run them hotter')),
  shrinkage: Type.Optional(Num({ minimum: 0, exclusiveMaximum: 1 }, 'share of paid time not on the phones (breaks, training, absence), 0-1; agentsWithShrinkage = ceil(agents / (1 - shrinkage)). Default 0')),
  patienceSeconds: Type.Optional(Num({ exclusiveMinimum: 0, maximum: 86_400 }, 'mean caller patience: when given, Erlang A (M/M/N+M, callers hang up); else Erlang C (nobody hangs up)')),
};

export const ErlangRequest = Type.Object(
  {
    callsPerInterval: Num({ minimum: 0, maximum: 1_000_000 }, 'calls offered in the interval'),
    intervalMinutes: Type.Integer({ minimum: 1, maximum: 1440, description: 'length of the interval in minutes' }),
    ahtSeconds: Num({ exclusiveMinimum: 0, maximum: 86_400 }, 'average handle time (talk + hold + wrap-up), seconds'),
    ...targetFields,
    agents: Type.Optional(Type.Integer({ minimum: 0, maximum: MAX_AGENTS, description: 'evaluate this many agents instead of searching the fewest that meet the targets' })),
  },
  { additionalProperties: false },
);
export type ErlangRequestBody = Static<typeof ErlangRequest>;

const nullableNumber = (description: string) => Type.Union([Type.Number(), Type.Null()], { description });

const performanceFields = {
  agents: Type.Integer({ description: 'agents on the phones' }),
  agentsWithShrinkage: Type.Integer({ description: 'agents to schedule: agents / (1 - shrinkage), rounded up' }),
  serviceLevel: Type.Number({ description: 'share of offered calls answered within targetAnswerSeconds (0 s when not given)' }),
  probabilityWait: Type.Number({ description: 'share of calls that find every agent busy' }),
  asaSeconds: nullableNumber('average speed of answer (mean wait of answered calls); null when the queue grows without end (Erlang C, agents <= load)'),
  occupancy: Type.Number({ description: 'carried load per agent, 0-1' }),
  abandonRate: nullableNumber('share of offered calls that hang up before an answer (Erlang A); null for Erlang C'),
  meetsTargets: Type.Boolean({ description: 'false only when `agents` was given and misses a target' }),
  unmetTarget: Type.Union([Type.String(), Type.Null()], { description: 'the first target missed (field name), or null' }),
};

export const ErlangAnswer = Type.Object(
  {
    model: Type.Union([Type.Literal('erlang-c'), Type.Literal('erlang-a')]),
    offeredLoadErlangs: Type.Number({ description: 'calls per second times AHT' }),
    ...performanceFields,
  },
  { $id: 'StaffingErlang' },
);

export const ForecastRequest = Type.Object(
  {
    date: Type.String({ format: 'date', description: 'the local day to forecast, YYYY-MM-DD' }),
    queue: Type.Optional(Type.String({ pattern: '^[a-z0-9][a-z0-9-]{0,63}$', description: 'one queue by name; absent: every queue together' })),
    weeks: Type.Optional(Type.Integer({ minimum: 1, maximum: 26, description: 'history: the same weekday over this many past weeks. Default 4' })),
    intervalMinutes: Type.Optional(Type.Union([Type.Literal(15), Type.Literal(30), Type.Literal(60)], { description: 'interval length. Default 30' })),
    timezone: Type.Optional(Type.String({ minLength: 1, maxLength: 64, description: "IANA time zone of the day and its intervals; the site's when absent" })),
    ahtSeconds: Type.Optional(Num({ exclusiveMinimum: 0, maximum: 86_400 }, 'use this AHT instead of the history')),
    ...targetFields,
  },
  { additionalProperties: false },
);
export type ForecastRequestBody = Static<typeof ForecastRequest>;

export const ForecastAnswer = Type.Object(
  {
    date: Type.String(),
    queue: Type.Union([Type.String(), Type.Null()]),
    timezone: Type.String(),
    model: Type.Union([Type.Literal('erlang-c'), Type.Literal('erlang-a')]),
    method: Type.String({ description: 'how calls and AHT were forecast (docs/staffing.md#forecast)' }),
    historyDates: Type.Array(Type.String(), { description: 'the history days, most recent first' }),
    weights: Type.Array(Type.Number(), { description: 'the weight of each history day, in the same order' }),
    intervals: Type.Array(
      Type.Object({
        start: Type.String({ format: 'date-time' }),
        end: Type.String({ format: 'date-time' }),
        localTime: Type.String({ description: 'local start, HH:mm' }),
        calls: Type.Number({ description: 'forecast offered calls' }),
        ahtSeconds: nullableNumber('forecast AHT; null without any handled call in the history (then no staffing is computed: 0 agents, and only when the interval has no calls)'),
        historyWeeks: Type.Integer({ description: 'history days that had this interval' }),
        offeredLoadErlangs: Type.Number(),
        ...performanceFields,
      }),
    ),
  },
  { $id: 'StaffingForecast' },
);
