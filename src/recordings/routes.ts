/**
 * Recordings API under /api/v1 (docs/recording.md#api). Recordings are what callers said: finding,
 * listening and legal hold are a supervisor's; erasure (a data-subject request) is an admin's.
 * Every listen and download writes an audit row naming who; the audio supports HTTP Range.
 */
import { Type } from '@sinclair/typebox';
import { createReadStream } from 'node:fs';
import { stat } from 'node:fs/promises';
import type { FastifyInstance } from 'fastify';
import type { AuthService } from '../auth/service.js';
import { actorFor } from '../audit/actor.js';
import { requireRole } from '../http/auth.js';
import { withErrors } from '../http/schemas.js';
import { decodeCursor, pageOf } from '../http/paging.js';
import { AppError, invalid } from '../errors.js';
import { isRecordingId } from './layout.js';
import { parseRange } from './range.js';
import type { RecordingRow } from './tables.js';
import type { RecordingStore } from './service.js';
import {
  AudioQuery, ErasureRequest, ErasureResult, RecordingPage, RecordingParams, RecordingQuery, UpdateRecording,
} from './schemas.js';

export interface RecordingRouteDeps {
  auth: AuthService;
  recordings: RecordingStore;
}

export function recordingJson(r: RecordingRow) {
  return {
    id: r.id,
    callId: r.call_id,
    linkedId: r.linked_id,
    agent: r.agent,
    queue: r.queue,
    caller: r.caller,
    called: r.called,
    parts: r.parts,
    state: r.state as 'recording' | 'stored' | 'compressed' | 'failed',
    format: r.format,
    channels: r.channels,
    sha256: r.sha256,
    bytes: r.bytes === null ? null : Number(r.bytes),
    startedAt: r.started_at.toISOString(),
    endedAt: r.ended_at?.toISOString() ?? null,
    durationMs: r.duration_ms,
    pauses: r.pauses,
    legalHold: r.legal_hold,
    retainUntil: r.retain_until?.toISOString() ?? null,
    attempts: r.attempts,
    lastError: r.last_error,
  };
}

const CONTENT_TYPES: Record<string, string> = { mp3: 'audio/mpeg', wav: 'audio/wav' };

export function recordingRoutes(deps: RecordingRouteDeps) {
  const supervisor = requireRole(deps.auth, 'supervisor');
  const admin = requireRole(deps.auth, 'admin');
  const security = [{ bearer: [] }];
  const tags = ['recordings'];
  const One = Type.Ref('Recording');

  return async (app: FastifyInstance): Promise<void> => {
    app.get<{ Querystring: RecordingQuery }>(
      '/recordings',
      {
        onRequest: supervisor,
        schema: { tags, summary: 'Search call recordings, newest first (supervisor or admin)', security, querystring: RecordingQuery, response: withErrors({ 200: RecordingPage }) },
      },
      async (request) => {
        const q = request.query;
        const from = q.from ? new Date(q.from) : undefined;
        const to = q.to ? new Date(q.to) : undefined;
        if (from && to && from.getTime() >= to.getTime()) throw invalid('querystring.from', 'must be before querystring.to');
        if (q.minDurationSeconds !== undefined && q.maxDurationSeconds !== undefined && q.minDurationSeconds > q.maxDurationSeconds) {
          throw invalid('querystring.minDurationSeconds', 'must not be above querystring.maxDurationSeconds');
        }
        const rows = await deps.recordings.search({
          from,
          to,
          queue: q.queue,
          agent: q.agent,
          caller: q.caller,
          called: q.called,
          callId: q.callId,
          minDurationMs: q.minDurationSeconds === undefined ? undefined : q.minDurationSeconds * 1000,
          maxDurationMs: q.maxDurationSeconds === undefined ? undefined : q.maxDurationSeconds * 1000 + 999,
          limit: q.limit + 1,
          after: q.cursor ? decodeCursor(q.cursor, isRecordingId) : undefined,
        });
        return pageOf(rows, q.limit, (r) => ({ at: r.cursor_at, id: r.id }), recordingJson);
      },
    );

    app.get<{ Params: RecordingParams }>(
      '/recordings/:id',
      { onRequest: supervisor, schema: { tags, summary: 'One recording (supervisor or admin)', security, params: RecordingParams, response: withErrors({ 200: One }) } },
      async (request) => recordingJson(await deps.recordings.get(request.params.id)),
    );

    app.get<{ Params: RecordingParams; Querystring: AudioQuery }>(
      '/recordings/:id/audio',
      {
        onRequest: supervisor,
        schema: {
          tags,
          summary: 'The recording\'s audio (MP3 or WAV); HTTP Range supported (206, 416); every request is audited (supervisor or admin)',
          security,
          params: RecordingParams,
          querystring: AudioQuery,
          produces: ['audio/mpeg', 'audio/wav'],
          response: withErrors({
            200: Type.Unknown({ description: 'the whole file' }),
            206: Type.Unknown({ description: 'the requested byte range (Content-Range)' }),
            409: Type.Ref('ErrorResponse'),
            416: Type.Ref('ErrorResponse'),
          }),
        },
      },
      async (request, reply) => {
        const rangeHeader = request.headers.range ?? null;
        const { row, file } = await deps.recordings.openAudio(actorFor(request), request.params.id, request.query.as, rangeHeader);
        const info = await stat(file);
        const range = parseRange(rangeHeader ?? undefined, info.size);
        const name = row.path.split('/').pop() ?? `${row.id}.${row.format}`;
        reply
          .header('accept-ranges', 'bytes')
          .header('content-type', CONTENT_TYPES[row.format] ?? 'application/octet-stream')
          .header('content-disposition', `${request.query.as === 'listen' ? 'inline' : 'attachment'}; filename="${name}"`);
        if (range.kind === 'unsatisfiable') {
          reply.header('content-range', `bytes */${info.size}`);
          throw new AppError('range-not-satisfiable', 416, `range ${rangeHeader} is outside the file (${info.size} bytes)`, { size: info.size });
        }
        if (range.kind === 'partial') {
          return reply
            .status(206)
            .header('content-range', `bytes ${range.start}-${range.end}/${info.size}`)
            .header('content-length', String(range.end - range.start + 1))
            .send(createReadStream(file, { start: range.start, end: range.end }));
        }
        return reply.header('content-length', String(info.size)).send(createReadStream(file));
      },
    );

    app.patch<{ Params: RecordingParams; Body: UpdateRecording }>(
      '/recordings/:id',
      {
        onRequest: supervisor,
        schema: { tags, summary: 'Put a recording under legal hold or lift it (audited; supervisor or admin)', security, params: RecordingParams, body: UpdateRecording, response: withErrors({ 200: One }) },
      },
      async (request) => recordingJson(await deps.recordings.setLegalHold(actorFor(request), request.params.id, request.body.legalHold)),
    );

    app.post<{ Params: RecordingParams }>(
      '/recordings/:id/compress',
      {
        onRequest: admin,
        schema: {
          tags,
          summary: 'Compress again a recording whose compression failed (state failed), once its cause is fixed: it goes back to stored and its job is queued (audited; admin)',
          security,
          params: RecordingParams,
          response: withErrors({ 202: One, 409: Type.Ref('ErrorResponse') }),
        },
      },
      async (request, reply) => reply.status(202).send(recordingJson(await deps.recordings.retryCompression(actorFor(request), request.params.id))),
    );

    app.post<{ Body: ErasureRequest }>(
      '/recordings/erasure',
      {
        onRequest: admin,
        schema: {
          tags,
          summary: 'Erase every recording of calls from a number (data-subject request): files and rows go, CDRs stay marked; legal hold is not erased (admin)',
          security,
          body: ErasureRequest,
          response: withErrors({ 200: ErasureResult }),
        },
      },
      async (request) => deps.recordings.eraseByCaller(actorFor(request), request.body.callerNumber),
    );
  };
}
