import { Type, type Static } from '@sinclair/typebox';
import { Timestamp } from '../http/schemas.js';
import { pageQueryFields } from '../http/paging.js';

export const MailboxParams = Type.Object({ number: Type.String({ pattern: '^[0-9]{2,16}$', description: 'extension number' }) }, { additionalProperties: false });
export const MessageParams = Type.Object(
  {
    number: Type.String({ pattern: '^[0-9]{2,16}$', description: 'extension number' }),
    id: Type.String({ pattern: '^[0-9]{1,18}$', description: 'message id' }),
  },
  { additionalProperties: false },
);
export type MessageParams = Static<typeof MessageParams>;

export const MessageQuery = Type.Object(pageQueryFields, { additionalProperties: false });
export type MessageQuery = Static<typeof MessageQuery>;

export const UpdateMessage = Type.Object({ heard: Type.Boolean({ description: 'false marks it new again (the lamp comes back on)' }) }, { additionalProperties: false });
export type UpdateMessage = Static<typeof UpdateMessage>;

export const VoicemailMessage = Type.Object(
  {
    id: Type.String(),
    mailbox: Type.String(),
    callerNumber: Type.Union([Type.String(), Type.Null()]),
    callerName: Type.Union([Type.String(), Type.Null()]),
    callId: Type.String({ description: 'the call that left it (CDR callId)' }),
    durationMs: Type.Integer(),
    heard: Type.Boolean(),
    sizeBytes: Type.Integer(),
    sha256: Type.String(),
    createdAt: Timestamp,
  },
  { $id: 'VoicemailMessage' },
);
