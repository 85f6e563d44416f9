/**
 * Request and response schemas of /trunks, /outbound-routes, /inbound-routes and
 * /emergency-numbers. Dial patterns are checked by compilePattern in the services (400 naming
 * the field with what is wrong); everything else here.
 */
import { Type, type Static, type TSchema } from '@sinclair/typebox';
import { RecordingPolicyField, Timestamp } from '../http/schemas.js';
import { CODECS } from './tables.js';

const Nullable = <T extends TSchema>(t: T) => Type.Union([t, Type.Null()]);
const Id = Type.String({ pattern: '^[0-9]{1,18}$', description: 'numeric id' });
const Name = Type.String({ minLength: 1, maxLength: 80, pattern: '^[^\\x00-\\x1f\\x7f]+$' });
const HOST = '^[A-Za-z0-9]([A-Za-z0-9.-]*[A-Za-z0-9])?$';
const SIP_USER = '^[A-Za-z0-9._~+-]+$';

const TrunkName = Type.String({ pattern: '^[a-z0-9][a-z0-9-]{0,31}$', description: 'lower-case letters, digits and -, up to 32; the PJSIP endpoint is trunk-<name>' });
const TrunkKind = Type.Union([Type.Literal('registration'), Type.Literal('ip')], { description: 'registration: we REGISTER to the provider; ip: the provider knows our address' });
const Host = Type.String({ minLength: 1, maxLength: 253, pattern: HOST, description: 'provider host name or IPv4 address' });
const Port = Type.Integer({ minimum: 1, maximum: 65535 });
const Transport = Type.Union([Type.Literal('udp'), Type.Literal('tcp')]);
const Username = Type.String({ minLength: 1, maxLength: 64, pattern: SIP_USER });
const Password = Type.String({ minLength: 1, maxLength: 80, pattern: '^[\\x21-\\x7e]+$', description: 'printable ASCII, no spaces; never returned' });
const FromUser = Type.String({ minLength: 1, maxLength: 40, pattern: SIP_USER });
const FromDomain = Type.String({ minLength: 1, maxLength: 40, pattern: HOST });
const Codecs = Type.Array(Type.Union(CODECS.map((c) => Type.Literal(c))), { minItems: 1, maxItems: CODECS.length, uniqueItems: true, description: 'in order of preference' });
const MaxChannels = Type.Integer({ minimum: 1, maximum: 1000 });

const trunkFields = {
  kind: TrunkKind,
  host: Host,
  port: Port,
  transport: Transport,
  username: Nullable(Username),
  password: Nullable(Password),
  fromUser: Nullable(FromUser),
  fromDomain: Nullable(FromDomain),
  codecs: Codecs,
  maxChannels: MaxChannels,
  enabled: Type.Boolean(),
  recordingPolicy: RecordingPolicyField,
};

export const CreateTrunk = Type.Object(
  {
    name: TrunkName,
    kind: TrunkKind,
    host: Host,
    port: Type.Optional(Port),
    transport: Type.Optional(Transport),
    username: Type.Optional(trunkFields.username),
    password: Type.Optional(trunkFields.password),
    fromUser: Type.Optional(trunkFields.fromUser),
    fromDomain: Type.Optional(trunkFields.fromDomain),
    codecs: Type.Optional(Codecs),
    maxChannels: Type.Optional(MaxChannels),
    enabled: Type.Optional(Type.Boolean()),
  },
  { additionalProperties: false },
);
export type CreateTrunkBody = Static<typeof CreateTrunk>;

/** The name is the Asterisk identity of the trunk and cannot change. */
export const UpdateTrunk = Type.Partial(Type.Object(trunkFields), { additionalProperties: false, minProperties: 1 });
export type UpdateTrunkBody = Static<typeof UpdateTrunk>;

export const AsteriskSync = Type.Union([Type.Literal('done'), Type.Literal('not-needed'), Type.Literal('failed')], {
  description:
    "only in the answer of POST /trunks and PATCH /trunks/:id: whether Asterisk was told to (re)load the trunk's outbound registration now; 'failed': it applies at the next Asterisk start",
});

export const Trunk = Type.Object(
  {
    id: Type.String(),
    name: Type.String(),
    endpoint: Type.String({ description: 'the PJSIP endpoint, trunk-<name>' }),
    ...trunkFields,
    password: Nullable(Type.String({ description: '"********" when a password is set' })),
    codecs: Type.Array(Type.String()),
    createdAt: Timestamp,
    updatedAt: Timestamp,
    asteriskSync: Type.Optional(AsteriskSync),
  },
  { description: 'a SIP trunk (the password is never returned)' },
);

const Pattern = Type.String({ minLength: 1, maxLength: 64, description: "a number matched exactly, or an Asterisk pattern: _ then 0-9 * # +, X Z N, [1-5#], and '.' or '!' at the end" });
const RequiredClass = Type.Union([Type.Literal('national'), Type.Literal('international')], { description: 'the least caller permission class that may use this route' });
const Priority = Type.Integer({ minimum: 0, maximum: 10000, description: 'lower is tried first' });

const outboundFields = {
  name: Name,
  pattern: Pattern,
  strip: Type.Integer({ minimum: 0, maximum: 32, description: 'digits removed from the front' }),
  prepend: Type.String({ maxLength: 16, pattern: '^[0-9*#+]*$', description: 'put in front after stripping' }),
  trunkId: Id,
  priority: Priority,
  requiredClass: RequiredClass,
  recordingPolicy: RecordingPolicyField,
};
export const CreateOutboundRoute = Type.Object(
  {
    ...outboundFields,
    strip: Type.Optional(outboundFields.strip),
    prepend: Type.Optional(outboundFields.prepend),
    priority: Type.Optional(Priority),
    requiredClass: Type.Optional(RequiredClass),
    recordingPolicy: Type.Optional(RecordingPolicyField),
  },
  { additionalProperties: false },
);
export type CreateOutboundRouteBody = Static<typeof CreateOutboundRoute>;
export const UpdateOutboundRoute = Type.Partial(Type.Object(outboundFields), { additionalProperties: false, minProperties: 1 });
export type UpdateOutboundRouteBody = Static<typeof UpdateOutboundRoute>;
export const OutboundRoute = Type.Object(
  { id: Type.String(), ...outboundFields, name: Type.String(), pattern: Type.String(), trunkName: Type.String(), createdAt: Timestamp, updatedAt: Timestamp },
  { description: 'an outbound route' },
);

/** One member per target kind (see src/routing/inbound.ts Target). */
export const TargetSchema = Type.Union([
  Type.Object({ kind: Type.Literal('extension'), number: Type.String({ pattern: '^[0-9]{2,16}$' }) }, { additionalProperties: false }),
  Type.Object({ kind: Type.Literal('hangup') }, { additionalProperties: false }),
  Type.Object(
    { kind: Type.Literal('flow'), flow: Type.String({ pattern: '^[a-z0-9][a-z0-9-]{0,63}$', description: 'the name of an IVR flow with a published version' }) },
    { additionalProperties: false },
  ),
  Type.Object(
    { kind: Type.Literal('queue'), queue: Type.String({ pattern: '^[a-z0-9][a-z0-9-]{0,63}$', description: 'the name of an ACD queue' }) },
    { additionalProperties: false },
  ),
]);

const inboundFields = {
  name: Name,
  didPattern: Nullable(Pattern),
  callerPattern: Nullable(Pattern),
  priority: Priority,
  target: TargetSchema,
  recordingPolicy: RecordingPolicyField,
};
export const CreateInboundRoute = Type.Object(
  {
    name: Name,
    didPattern: Type.Optional(inboundFields.didPattern),
    callerPattern: Type.Optional(inboundFields.callerPattern),
    priority: Type.Optional(Priority),
    target: TargetSchema,
    recordingPolicy: Type.Optional(RecordingPolicyField),
  },
  { additionalProperties: false, description: 'no didPattern and no callerPattern: the default route (at most one)' },
);
export type CreateInboundRouteBody = Static<typeof CreateInboundRoute>;
export const UpdateInboundRoute = Type.Partial(Type.Object(inboundFields), { additionalProperties: false, minProperties: 1 });
export type UpdateInboundRouteBody = Static<typeof UpdateInboundRoute>;
export const InboundRoute = Type.Object(
  {
    id: Type.String(),
    ...inboundFields,
    name: Type.String(),
    didPattern: Nullable(Type.String()),
    callerPattern: Nullable(Type.String()),
    isDefault: Type.Boolean(),
    createdAt: Timestamp,
    updatedAt: Timestamp,
  },
  { description: 'an inbound route' },
);

export const EmergencyNumbers = Type.Object(
  { numbers: Type.Array(Type.String({ pattern: '^[0-9*#+]{1,16}$' }), { minItems: 1, maxItems: 20, uniqueItems: true }) },
  { additionalProperties: false },
);
export type EmergencyNumbersBody = Static<typeof EmergencyNumbers>;

export const IdParams = Type.Object({ id: Id }, { additionalProperties: false });
