import { Type, type Static } from '@sinclair/typebox';
import { Timestamp } from '../http/schemas.js';

const Name = Type.String({ pattern: '^[A-Za-z0-9 _.-]{1,64}$', description: 'unique; 1 to 64 letters, digits, spaces, _ . -' });

export const PromptParams = Type.Object(
  { id: Type.String({ pattern: '^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$', description: 'prompt id (uuid)' }) },
  { additionalProperties: false },
);
export type PromptParams = Static<typeof PromptParams>;

export const UploadQuery = Type.Object({ name: Name }, { additionalProperties: false });
export type UploadQuery = Static<typeof UploadQuery>;

export const UploadBody = Type.Unknown({ description: 'the audio file itself (WAV or MP3) as the raw request body; Content-Type audio/wav, audio/x-wav or audio/mpeg' });

export const CreateTts = Type.Object(
  {
    name: Name,
    text: Type.String({ minLength: 1, maxLength: 500, description: 'what is spoken (plain text, no SSML)' }),
    language: Type.String({ pattern: '^[A-Za-z0-9-]{1,40}$', description: 'an espeak-ng language: en, en-us, fr, de, es...' }),
    voice: Type.Optional(Type.String({ pattern: '^[A-Za-z0-9_-]{1,40}$', description: 'an espeak-ng voice variant: f3, m3, klatt...' })),
  },
  { additionalProperties: false },
);
export type CreateTts = Static<typeof CreateTts>;

export const Prompt = Type.Object(
  {
    id: Type.String({ description: 'uuid; also the file name' }),
    name: Type.String(),
    source: Type.Union([Type.Literal('upload'), Type.Literal('tts')]),
    text: Type.Union([Type.String(), Type.Null()], { description: 'spoken text (tts only)' }),
    language: Type.Union([Type.String(), Type.Null()]),
    voice: Type.Union([Type.String(), Type.Null()]),
    checksum: Type.String({ description: 'sha256 hex of the 8 kHz WAV' }),
    durationMs: Type.Integer(),
    bytes: Type.Integer({ description: 'size of the 8 kHz WAV' }),
    media: Type.String({ description: 'ARI media URI that plays it: sound:<folder as Asterisk sees it>/<id>' }),
    createdAt: Timestamp,
  },
  { $id: 'Prompt' },
);
