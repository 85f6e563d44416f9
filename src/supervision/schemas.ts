/** Request and response schemas of /supervision (TypeBox; also the OpenAPI document). */
import { Type, type Static } from '@sinclair/typebox';
import { NullableTimestamp } from '../http/schemas.js';
import { SUPERVISION_MODES } from './model.js';

const Mode = Type.Union(SUPERVISION_MODES.map((m) => Type.Literal(m)), { description: 'listen: hears both, nobody hears them; whisper: only the agent hears them; barge: all three talk' });
const digits = (description: string) => Type.String({ pattern: '^[0-9]{2,16}$', description });

export const StartSupervision = Type.Object(
  {
    supervisorExtension: digits('the extension whose phone is rung; it joins the call when answered'),
    agent: Type.Optional(digits('supervise this agent (number) on their current call')),
    extension: Type.Optional(digits('supervise this extension on its current call')),
    callId: Type.Optional(Type.String({ pattern: '^[A-Za-z0-9._-]{1,64}$', description: "supervise this live call's extension party (its answering side; its caller when that is a trunk)" })),
    mode: Mode,
  },
  { additionalProperties: false, description: 'exactly one of agent, extension, callId' },
);
export type StartSupervisionBody = Static<typeof StartSupervision>;

export const ChangeSupervision = Type.Object({ mode: Mode }, { additionalProperties: false });
export type ChangeSupervisionBody = Static<typeof ChangeSupervision>;

export const SupervisionParams = Type.Object({ id: Type.String({ pattern: '^[A-Za-z0-9._-]{1,64}$' }) }, { additionalProperties: false });

const Target = Type.Object({
  kind: Type.Union([Type.Literal('agent'), Type.Literal('extension'), Type.Literal('number'), Type.Literal('call')]),
  number: Type.Optional(Type.String()),
  callId: Type.Optional(Type.String()),
});

export const Supervision = Type.Object(
  {
    id: Type.String(),
    state: Type.Union([Type.Literal('ringing'), Type.Literal('active')]),
    supervisorExtension: Type.String(),
    target: Target,
    mode: Mode,
    callId: Type.Union([Type.String(), Type.Null()]),
    extension: Type.Union([Type.String(), Type.Null()]),
    agent: Type.Union([Type.String(), Type.Null()]),
    startedAt: NullableTimestamp,
  },
  { $id: 'Supervision' },
);
