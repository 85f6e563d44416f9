/**
 * Prompts API under /api/v1: upload WAV/MP3 as the raw body or render text with espeak-ng (admin,
 * audited), list / get / download the 8 kHz WAV (viewer), delete unless a flow's published version or draft plays it (admin).
 */
import { Type } from '@sinclair/typebox';
import { createReadStream } from 'node:fs';
import type { FastifyInstance, onRequestAsyncHookHandler } from 'fastify';
import type { AuthService } from '../auth/service.js';
import { actorFor } from '../audit/actor.js';
import { requireRole } from '../http/auth.js';
import { withErrors } from '../http/schemas.js';
import { ListOf, list } from '../http/paging.js';
import { AppError } from '../errors.js';
import { UPLOAD_CONTENT_TYPES, uploadFormat } from './media.js';
import type { PromptService } from './service.js';
import type { PromptRow } from './tables.js';
import { CreateTts, PromptParams, UploadBody, UploadQuery } from './schemas.js';

export interface PromptRouteDeps {
  auth: AuthService;
  prompts: PromptService;
  /** Largest upload in bytes (PBX_PROMPT_MAX_BYTES). */
  maxBytes: number;
}

export function promptView(row: PromptRow, media: string) {
  return {
    id: row.id,
    name: row.name,
    source: row.source,
    text: row.text,
    language: row.language,
    voice: row.voice,
    checksum: row.checksum,
    durationMs: row.duration_ms,
    bytes: row.bytes,
    media,
    createdAt: row.created_at.toISOString(),
  };
}

const wrongType = (contentType: string | undefined): AppError =>
  new AppError('unsupported-media-type', 415, `send the audio as the raw request body with Content-Type audio/wav, audio/x-wav or audio/mpeg (got ${contentType ?? 'none'})`, {
    contentType: contentType ?? null,
  });

export function promptRoutes(deps: PromptRouteDeps) {
  const viewer = requireRole(deps.auth, 'viewer');
  const admin = requireRole(deps.auth, 'admin');
  const sec = [{ bearer: [] }];
  const tags = ['prompts'];
  const P = Type.Ref('Prompt');
  const err = Type.Ref('ErrorResponse');
  const view = (row: PromptRow) => promptView(row, deps.prompts.mediaUri(row.id));

  return async (app: FastifyInstance): Promise<void> => {
    // Raw audio bodies, only inside this plugin (encapsulated), up to the prompt size limit.
    app.addContentTypeParser([...UPLOAD_CONTENT_TYPES], { parseAs: 'buffer', bodyLimit: deps.maxBytes }, (_request, body, done) => done(null, body));

    // Checked before the body is read: the content type, and a declared size over the limit (named).
    const uploadGate: onRequestAsyncHookHandler = async (request) => {
      if (!uploadFormat(request.headers['content-type'])) throw wrongType(request.headers['content-type']);
      const length = Number(request.headers['content-length']);
      if (Number.isFinite(length) && length > deps.maxBytes) {
        throw new AppError('payload-too-large', 413, `the upload is ${length} bytes; prompts may be at most ${deps.maxBytes} bytes (PBX_PROMPT_MAX_BYTES)`, {
          bytes: length, maxBytes: deps.maxBytes,
        });
      }
    };

    app.get(
      '/prompts',
      { onRequest: viewer, schema: { tags, summary: 'All prompts, by name', security: sec, response: withErrors({ 200: ListOf(P) }) } },
      async () => list((await deps.prompts.list()).map(view)),
    );

    app.post<{ Querystring: UploadQuery; Body: unknown }>(
      '/prompts',
      {
        // Authenticate before the body (up to PBX_PROMPT_MAX_BYTES) is read.
        onRequest: [admin, uploadGate],
        bodyLimit: deps.maxBytes,
        schema: {
          tags,
          summary: 'Upload a WAV or MP3 as the raw body (?name=...); converted to 8 kHz WAV and 16 kHz sln16 for Asterisk',
          security: sec,
          consumes: [...UPLOAD_CONTENT_TYPES],
          querystring: UploadQuery,
          body: UploadBody,
          response: withErrors({ 201: P, 409: err, 413: err, 415: err }),
        },
      },
      async (request, reply) => {
        const audio = Buffer.isBuffer(request.body) ? request.body : Buffer.alloc(0);
        const row = await deps.prompts.upload(actorFor(request), { name: request.query.name, contentType: request.headers['content-type'], audio });
        return reply.status(201).send(view(row));
      },
    );

    app.post<{ Body: CreateTts }>(
      '/prompts/tts',
      {
        onRequest: admin,
        schema: {
          tags,
          summary: 'Speak text with espeak-ng (offline) into a prompt; the same text, language and voice again returns the existing prompt (200)',
          security: sec,
          body: CreateTts,
          response: withErrors({ 200: P, 201: P, 409: err }),
        },
      },
      async (request, reply) => {
        const { prompt, created } = await deps.prompts.tts(actorFor(request), request.body);
        return reply.status(created ? 201 : 200).send(view(prompt));
      },
    );

    app.get<{ Params: PromptParams }>(
      '/prompts/:id',
      { onRequest: viewer, schema: { tags, summary: 'One prompt', security: sec, params: PromptParams, response: withErrors({ 200: P }) } },
      async (request) => view(await deps.prompts.get(request.params.id)),
    );

    app.get<{ Params: PromptParams }>(
      '/prompts/:id/audio',
      {
        onRequest: viewer,
        schema: { tags, summary: 'The prompt as WAV (8 kHz, 16-bit mono)', security: sec, params: PromptParams, produces: ['audio/wav'], response: withErrors({ 200: Type.Unknown({ description: 'audio/wav' }) }) },
      },
      async (request, reply) => {
        const { row, file, size } = await deps.prompts.audioFile(request.params.id);
        return reply
          .header('content-type', 'audio/wav')
          .header('content-length', String(size))
          .header('content-disposition', `attachment; filename="prompt-${row.id}.wav"`)
          .send(createReadStream(file));
      },
    );

    app.delete<{ Params: PromptParams }>(
      '/prompts/:id',
      {
        onRequest: admin,
        schema: { tags, summary: 'Delete a prompt (row and files); refused while the published version or draft of a flow plays it', security: sec, params: PromptParams, response: withErrors({ 204: Type.Null(), 409: err }) },
      },
      async (request, reply) => {
        await deps.prompts.remove(actorFor(request), request.params.id);
        return reply.status(204).send();
      },
    );
  };
}
