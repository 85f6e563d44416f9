/**
 * Recording a live call on demand (docs/recording.md#on-demand-and-pci-pause):
 * POST /calls/{callId}/recording/{start,stop,pause,resume}, supervisor or admin. A CRM calls pause
 * when its payment form opens and resume when it closes: the file holds silence meanwhile.
 * 404 call-not-found; 409 recording-not-active, recording-already-active, recording-already-paused,
 * recording-not-paused, recording-not-allowed (policy never); 507 recording-no-space.
 */
import { Type } from '@sinclair/typebox';
import type { FastifyInstance } from 'fastify';
import type { AuthService } from '../auth/service.js';
import { requireRole } from '../http/auth.js';
import { withErrors } from '../http/schemas.js';
import type { RecordingAction, RecordingOutcome } from './call-recording.js';

/** The live calls of this daemon (the dispatcher). */
export interface LiveRecordingControl {
  recordingCommand(callId: string, action: RecordingAction): Promise<Extract<RecordingOutcome, { ok: true }>>;
}

export interface RecordingRouteDeps {
  readonly auth: AuthService;
  readonly live: LiveRecordingControl;
}

const CallIdParams = Type.Object({ callId: Type.String({ pattern: '^[A-Za-z0-9._-]{1,128}$', description: "a live call's callId (GET /calls/live), or its linkedId" }) }, { additionalProperties: false });
const RecordingState = Type.Object(
  {
    callId: Type.String(),
    recordingId: Type.String({ description: 'the recording (GET /recordings/{id} once stored)' }),
    state: Type.Union([Type.Literal('recording'), Type.Literal('paused'), Type.Literal('stopped')]),
  },
  { $id: 'LiveRecordingState' },
);

const ACTIONS: readonly { action: RecordingAction; summary: string }[] = [
  { action: 'start', summary: 'Start recording a live call (not where its policy is never)' },
  { action: 'stop', summary: "Stop a live call's recording; the file is finished and stored" },
  { action: 'pause', summary: 'Pause a live call\'s recording (PCI: card details); the file holds silence until resume' },
  { action: 'resume', summary: "Resume a live call's paused recording" },
];

export function recordingRoutes(deps: RecordingRouteDeps) {
  const supervisor = requireRole(deps.auth, 'supervisor');
  return async (app: FastifyInstance): Promise<void> => {
    app.addSchema(RecordingState);
    const err = Type.Ref('ErrorResponse');
    for (const { action, summary } of ACTIONS) {
      app.post<{ Params: { callId: string } }>(
        `/calls/:callId/recording/${action}`,
        {
          onRequest: supervisor,
          schema: {
            tags: ['calls'],
            summary,
            security: [{ bearer: [] }],
            params: CallIdParams,
            response: { ...withErrors({ 200: Type.Ref('LiveRecordingState') }), 409: err, 507: err },
          },
        },
        async (request) => {
          const { callId } = request.params;
          const outcome = await deps.live.recordingCommand(callId, action);
          request.log.info({ callId, action, recording: outcome.recordingId }, 'live call recording changed by API');
          return { callId, recordingId: outcome.recordingId, state: outcome.state };
        },
      );
    }
  };
}
