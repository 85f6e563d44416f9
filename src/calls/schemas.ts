import { Type, type Static } from '@sinclair/typebox';
import { NullableTimestamp, Timestamp } from '../http/schemas.js';
import { PageOf, pageQueryFields } from '../http/paging.js';
import { csvQueryFields } from '../http/csv.js';

const Disposition = Type.Union(['ANSWERED', 'NO ANSWER', 'BUSY', 'FAILED'].map((d) => Type.Literal(d)));
const Direction = Type.Union(['inbound', 'outbound', 'internal'].map((d) => Type.Literal(d)));
const PhoneFilter = Type.String({ minLength: 1, maxLength: 80, pattern: '^[0-9A-Za-z+*#_.-]+$' });

export const Cdr = Type.Object(
  {
    id: Type.String(),
    callId: Type.String(),
    direction: Direction,
    callerNumber: Type.Union([Type.String(), Type.Null()]),
    callerName: Type.Union([Type.String(), Type.Null()]),
    dialedNumber: Type.Union([Type.String(), Type.Null()]),
    startedAt: Timestamp,
    answeredAt: NullableTimestamp,
    endedAt: Timestamp,
    durationSeconds: Type.Integer(),
    billableSeconds: Type.Integer({ description: 'the talk time (talkSeconds): what the caller is billed for' }),
    waitSeconds: Type.Union([Type.Integer(), Type.Null()], {
      description: 'seconds before the answering party answered (ringing, IVR, queue); the whole call when nobody answered; null on older rows where unknown',
    }),
    talkSeconds: Type.Union([Type.Integer(), Type.Null()], {
      description: "seconds from the callee's or agent's answer to the end (from the system's answer when only the system served the caller); null on older rows where unknown",
    }),
    answeredBy: Type.Union([Type.String(), Type.Null()], {
      description: "the extension or number that answered, after forwards; a queue call: the agent's extension; null when nobody or only the system answered",
    }),
    agent: Type.Union([Type.String(), Type.Null()], { description: "the agent's number, for a queue call an agent answered" }),
    queue: Type.Union([Type.String(), Type.Null()], { description: 'the queue the caller joined' }),
    hangupCause: Type.Union([Type.Integer(), Type.Null()]),
    hangupCauseText: Type.Union([Type.String(), Type.Null()]),
    disposition: Disposition,
    endedBy: Type.String({ description: 'who hung up: caller | callee | agent | system | transfer | callback | unknown' }),
    digits: Type.String({
      description:
        'every DTMF key the caller pressed that an IVR flow (every menu attempt, gather and flow, in order; terminators included) or the *99 test service took, the first 64; "" otherwise',
    }),
    reconciled: Type.Boolean({ description: 'the end was inferred after a restart or reconnect' }),
    linkedId: Type.Union([Type.String(), Type.Null()], {
      description: 'callId of the first part of a transferred call; the parts of one call share it (a call never transferred: its own callId)',
    }),
    recordings: Type.Array(Type.String(), { description: 'ids of its call recordings, oldest first (GET /recordings/{id}; each names this CDR by callId)' }),
    recordingErased: Type.Boolean({ description: 'its recordings were erased (a data-subject request, POST /recordings/erasure); the CDR stays' }),
    monitored: Type.Boolean({ description: 'a supervisor listened, whispered or barged in (docs/supervision.md)' }),
    ivrPath: Type.Union(
      [
        Type.Object({
          flows: Type.Array(Type.Object({ name: Type.String(), version: Type.Integer() })),
          path: Type.Array(Type.Object({}, { additionalProperties: true }), {
            description:
              "one entry per node entered, and per attempt at a menu: at, node, kind, attempt (menus: 1, 2, ... per retry), digits, failure (menus: 'invalid' | 'timeout'), lookup {url, ok, ms, error, status}, outcome (the edge taken, or 'retry' for a failed menu attempt)",
          }),
        }),
        Type.Null(),
      ],
      { description: 'the IVR flows (name, version) the caller went through and the path taken; null when no flow ran' },
    ),
  },
  { $id: 'Cdr' },
);

export const CdrQuery = Type.Object(
  {
    from: Type.Optional(Type.String({ format: 'date-time', description: 'started at or after' })),
    to: Type.Optional(Type.String({ format: 'date-time', description: 'started before' })),
    caller: Type.Optional(PhoneFilter),
    dialed: Type.Optional(PhoneFilter),
    disposition: Type.Optional(Disposition),
    direction: Type.Optional(Direction),
    callId: Type.Optional(Type.String({ minLength: 1, maxLength: 64 })),
    ...pageQueryFields,
    ...csvQueryFields,
  },
  { additionalProperties: false },
);
export type CdrQuery = Static<typeof CdrQuery>;

export const CdrPage = PageOf(Type.Ref('Cdr'));

export const LiveCall = Type.Object(
  {
    callId: Type.String(),
    channelId: Type.String(),
    direction: Direction,
    callerNumber: Type.Union([Type.String(), Type.Null()]),
    callerName: Type.Union([Type.String(), Type.Null()]),
    dialedNumber: Type.Union([Type.String(), Type.Null()]),
    state: Type.String(),
    digits: Type.String(),
    startedAt: Timestamp,
    answeredAt: NullableTimestamp,
    lastSeenAt: Timestamp,
  },
  { $id: 'LiveCall' },
);
