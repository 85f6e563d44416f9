import { Type, type Static } from '@sinclair/typebox';
import { Secret, Timestamp, RecordingPolicyField } from '../http/schemas.js';

const PermissionClass = Type.Union([Type.Literal('internal'), Type.Literal('national'), Type.Literal('international')], {
  description: 'internal: extensions and emergency numbers only; national; international',
});
const Number_ = Type.String({ minLength: 2, maxLength: 16, description: 'extension number, digits only' });
const DisplayName = Type.String({ minLength: 1, maxLength: 80 });
const CallerIdNumber = Type.String({ pattern: '^\\+?[0-9]{2,20}$', description: 'number shown to called parties' });
const ForwardTarget = Type.Union([Type.String({ minLength: 2, maxLength: 21 }), Type.Null()], {
  description: 'extension or external number; null turns the forward off',
});
const SipSecurity = Type.Union([Type.Literal('none'), Type.Literal('tls'), Type.Literal('tls-srtp')], {
  description:
    'none: SIP over UDP/TCP, plain RTP (default); tls: SIP over TLS only (transport-tls, PBX_SIP_TLS_PORT); ' +
    'tls-srtp: TLS and SRTP with SDES keys required, a plain RTP offer is refused (488). docs/operations.md, "SIP over TLS and SRTP"',
});
const Pin = Type.String({ minLength: 4, maxLength: 10, description: 'voicemail PIN, 4-10 digits' });

export const NumberParams = Type.Object({ number: Type.String({ pattern: '^[0-9]{2,16}$' }) }, { additionalProperties: false });

export const CreateExtension = Type.Object(
  {
    number: Number_,
    displayName: DisplayName,
    callerIdNumber: Type.Optional(CallerIdNumber),
    permissionClass: Type.Optional(PermissionClass),
    ringTimeoutSeconds: Type.Optional(Type.Integer({ minimum: 5, maximum: 120 })),
    voicemailPin: Type.Optional(Pin),
    sipSecurity: Type.Optional(SipSecurity),
  },
  { additionalProperties: false },
);
export type CreateExtension = Static<typeof CreateExtension>;

export const UpdateExtension = Type.Object(
  {
    displayName: Type.Optional(DisplayName),
    callerIdNumber: Type.Optional(Type.Union([CallerIdNumber, Type.Null()])),
    permissionClass: Type.Optional(PermissionClass),
    dnd: Type.Optional(Type.Boolean({ description: 'do not disturb' })),
    forwardAlways: Type.Optional(ForwardTarget),
    forwardBusy: Type.Optional(ForwardTarget),
    forwardNoAnswer: Type.Optional(ForwardTarget),
    ringTimeoutSeconds: Type.Optional(Type.Integer({ minimum: 5, maximum: 120 })),
    voicemailEnabled: Type.Optional(Type.Boolean()),
    canSupervise: Type.Optional(Type.Boolean({ description: 'may supervise live calls from its phone (*55, docs/supervision.md); default false' })),
    recordingPolicy: Type.Optional(RecordingPolicyField),
    voicemailPin: Type.Optional(Pin),
    sipSecurity: Type.Optional(SipSecurity),
  },
  { additionalProperties: false, minProperties: 1 },
);
export type UpdateExtension = Static<typeof UpdateExtension>;

const Registration = Type.Object({
  registered: Type.Boolean(),
  contacts: Type.Array(
    Type.Object({
      uri: Type.Union([Type.String(), Type.Null()]),
      userAgent: Type.Union([Type.String(), Type.Null()]),
      address: Type.Union([Type.String(), Type.Null()]),
      expiresAt: Type.Union([Timestamp, Type.Null()]),
    }),
  ),
  status: Type.Union([Type.String(), Type.Null()], { description: 'Reachable / Unreachable / ... from AMI ContactStatus' }),
  rttMs: Type.Union([Type.Number(), Type.Null()]),
});

export const Extension = Type.Object(
  {
    number: Type.String(),
    displayName: Type.String(),
    callerIdNumber: Type.Union([Type.String(), Type.Null()]),
    permissionClass: PermissionClass,
    dnd: Type.Boolean(),
    forwardAlways: Type.Union([Type.String(), Type.Null()]),
    forwardBusy: Type.Union([Type.String(), Type.Null()]),
    forwardNoAnswer: Type.Union([Type.String(), Type.Null()]),
    ringTimeoutSeconds: Type.Integer(),
    voicemailEnabled: Type.Boolean(),
    canSupervise: Type.Boolean(),
    recordingPolicy: RecordingPolicyField,
    voicemailPinSet: Type.Boolean(),
    sipSecurity: SipSecurity,
    registration: Registration,
    createdAt: Timestamp,
    updatedAt: Timestamp,
    secret: Secret,
  },
  { $id: 'Extension', description: 'secret: the SIP password, only in the answer of POST /extensions and POST /extensions/:number/rotate-password' },
);
