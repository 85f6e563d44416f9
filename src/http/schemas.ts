import { Type, type TSchema } from '@sinclair/typebox';

export const ErrorResponse = Type.Object(
  {
    error: Type.Object({
      code: Type.String({ description: 'stable kebab-case error code' }),
      message: Type.String(),
      details: Type.Optional(Type.Record(Type.String(), Type.Unknown())),
      requestId: Type.String(),
    }),
  },
  { $id: 'ErrorResponse' },
);

/** Standard error responses for an authenticated route. */
export function withErrors(ok: Record<number, TSchema>): Record<number, TSchema> {
  const err = Type.Ref('ErrorResponse');
  return { ...ok, 400: err, 401: err, 403: err, 404: err, 500: err, 503: err };
}

export const IdParams = Type.Object({ id: Type.String({ pattern: '^[0-9]{1,18}$', description: 'numeric id' }) }, {
  additionalProperties: false,
});

export const Timestamp = Type.String({ format: 'date-time' });
export const NullableTimestamp = Type.Union([Timestamp, Type.Null()]);

/** A call recording policy where a resource may set one (docs/recording.md#policy); null: not set here. */
export const RecordingPolicyField = Type.Union([Type.Literal('always'), Type.Literal('never'), Type.Literal('on-demand'), Type.Null()], {
  description: 'call recording: always, never or on-demand; null: not set here (a more specific level or the site default decides; docs/recording.md#policy)',
});

/**
 * The one field a secret is shown in (a SIP password, an API token, a provisioning password): only
 * in the answer that made it (create, rotate), never again; a GET or a list never has it.
 */
export const Secret = Type.Optional(Type.String({ description: 'the secret this answer made, shown only here: store it now, it cannot be read again' }));
