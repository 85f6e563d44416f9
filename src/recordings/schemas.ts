/** Request and response shapes of the recordings API (/api/v1/recordings). */
import { Type, type Static } from '@sinclair/typebox';
import { NullableTimestamp, Timestamp } from '../http/schemas.js';
import { PageOf, pageQueryFields } from '../http/paging.js';

const Nullable = <T extends ReturnType<typeof Type.String>>(t: T) => Type.Union([t, Type.Null()]);
const PhoneFilter = Type.String({ minLength: 1, maxLength: 80, pattern: '^[0-9A-Za-z+*#_.-]+$' });
const Uuid = Type.String({ pattern: '^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$', description: 'recording id (uuid)' });

export const RecordingParams = Type.Object({ id: Uuid }, { additionalProperties: false });
export type RecordingParams = Static<typeof RecordingParams>;

export const Recording = Type.Object(
  {
    id: Type.String(),
    callId: Type.String({ description: 'the CDR it belongs to (GET /cdrs?callId=...)' }),
    linkedId: Nullable(Type.String()),
    agent: Nullable(Type.String()),
    queue: Nullable(Type.String()),
    caller: Nullable(Type.String()),
    called: Nullable(Type.String()),
    parts: Type.Array(Type.String(), { description: "the parts of the call it covers: 'ivr', 'queue', 'talk', 'transfer'" }),
    state: Type.Union(['recording', 'stored', 'compressed', 'failed'].map((s) => Type.Literal(s)), {
      description: 'recording (in progress) -> stored (original final, sha256 known) -> compressed; failed: compression gave up after its attempts, the original (WAV) is kept',
    }),
    format: Type.String({ description: "'wav' (as recorded) or 'mp3' (compressed)" }),
    channels: Type.Integer({ description: '2: caller on the left channel, agent/extension on the right; 1: mixed' }),
    sha256: Nullable(Type.String()),
    bytes: Type.Union([Type.Integer(), Type.Null()]),
    startedAt: Timestamp,
    endedAt: NullableTimestamp,
    durationMs: Type.Union([Type.Integer(), Type.Null()]),
    pauses: Type.Array(Type.Object({ from: Type.String(), to: Type.Union([Type.String(), Type.Null()]), by: Type.String() }, { additionalProperties: true }), {
      description: 'PCI pauses: the file holds silence from..to',
    }),
    legalHold: Type.Boolean({ description: 'exempt from retention and erasure' }),
    retainUntil: NullableTimestamp,
    attempts: Type.Integer({ description: 'compression attempts made' }),
    lastError: Nullable(Type.String()),
  },
  { $id: 'Recording' },
);

export const RecordingQuery = Type.Object(
  {
    from: Type.Optional(Type.String({ format: 'date-time', description: 'started at or after' })),
    to: Type.Optional(Type.String({ format: 'date-time', description: 'started before' })),
    queue: Type.Optional(Type.String({ minLength: 1, maxLength: 64 })),
    agent: Type.Optional(Type.String({ minLength: 1, maxLength: 32 })),
    caller: Type.Optional(PhoneFilter),
    called: Type.Optional(PhoneFilter),
    callId: Type.Optional(Type.String({ minLength: 1, maxLength: 64 })),
    minDurationSeconds: Type.Optional(Type.Integer({ minimum: 0, maximum: 86_400 * 7 })),
    maxDurationSeconds: Type.Optional(Type.Integer({ minimum: 0, maximum: 86_400 * 7 })),
    ...pageQueryFields,
  },
  { additionalProperties: false },
);
export type RecordingQuery = Static<typeof RecordingQuery>;

export const RecordingPage = PageOf(Type.Ref('Recording'));

export const AudioQuery = Type.Object(
  { as: Type.Union([Type.Literal('download'), Type.Literal('listen')], { default: 'download', description: 'listen: Content-Disposition inline (a player); download: attachment. Both are audited' }) },
  { additionalProperties: false },
);
export type AudioQuery = Static<typeof AudioQuery>;

export const UpdateRecording = Type.Object({ legalHold: Type.Boolean() }, { additionalProperties: false });
export type UpdateRecording = Static<typeof UpdateRecording>;

export const ErasureRequest = Type.Object({ callerNumber: PhoneFilter }, { additionalProperties: false });
export type ErasureRequest = Static<typeof ErasureRequest>;

export const ErasureResult = Type.Object(
  {
    erased: Type.Array(Type.String(), { description: 'recordings deleted (files and rows)' }),
    legalHold: Type.Array(Type.String(), { description: 'recordings NOT erased: under legal hold (lift it, then ask again)' }),
    inProgress: Type.Array(Type.String(), { description: 'recordings NOT erased: still being recorded (ask again after the call)' }),
    cdrsMarked: Type.Integer({ description: 'CDRs marked recordingErased (they stay)' }),
  },
  { additionalProperties: false },
);
