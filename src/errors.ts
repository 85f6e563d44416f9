/**
 * Application errors carry a stable kebab-case code, an HTTP status and details.
 * Adapters translate their own failures into these at the boundary; nothing
 * branches on message text.
 */
export type ErrorCode =
  | 'validation-failed'
  | 'cursor-invalid'
  | 'unauthorized'
  | 'token-invalid'
  | 'token-expired'
  | 'forbidden'
  | 'route-not-found'
  | 'not-found'
  | 'call-not-found'
  | 'recording-not-active'
  | 'recording-already-active'
  | 'recording-already-paused'
  | 'recording-not-paused'
  | 'recording-not-allowed'
  | 'recording-no-space'
  | 'user-not-found'
  | 'token-not-found'
  | 'conflict'
  | 'user-exists'
  | 'extension-not-found'
  | 'extension-exists'
  | 'extension-in-use'
  | 'payload-too-large'
  | 'body-too-deep'
  | 'unsupported-media-type'
  | 'rate-limited'
  | 'asterisk-unavailable'
  | 'service-unavailable'
  | 'internal-error'
  | 'device-not-found'
  | 'device-exists'
  | 'trunk-not-found'
  | 'trunk-exists'
  | 'trunk-in-use'
  | 'outbound-route-not-found'
  | 'outbound-route-exists'
  | 'inbound-route-not-found'
  | 'inbound-route-exists'
  | 'voicemail-not-found'
  | 'recording-not-found'
  | 'recording-not-ready'
  | 'recording-file-missing'
  | 'recording-not-failed'
  | 'range-not-satisfiable'
  | 'prompt-not-found'
  | 'prompt-exists'
  | 'prompt-in-use'
  | 'prompt-not-audio'
  | 'prompt-too-long'
  | 'prompt-empty'
  | 'prompt-language-unknown'
  | 'prompt-voice-unknown'
  | 'flow-not-found'
  | 'flow-version-not-found'
  | 'flow-exists'
  | 'flow-invalid'
  | 'flow-no-draft'
  | 'flow-in-use'
  | 'agent-not-found'
  | 'agent-exists'
  | 'agent-busy'
  | 'supervision-not-found'
  | 'webhook-not-found'
  | 'webhook-delivery-not-found'
  | 'supervision-not-on-call'
  | 'not-csv'
  | 'missing-number-column'
  | 'import-not-found'
  | 'dnc-not-found'
  | 'campaign-not-found'
  | 'queue-not-found'
  | 'queue-exists'
  | 'queue-in-use'
  | 'invalid-agent-transition'
  | 'pause-reason-not-found'
  | 'pause-reason-exists'
  | 'pause-reason-in-use'
  | 'campaign-exists'
  | 'campaign-not-editable'
  | 'campaign-in-use'
  | 'campaign-not-ready'
  | 'invalid-campaign-transition'
  | 'attempt-not-found'
  | 'attempt-not-connected'
  | 'disposition-already-set'
  | 'no-preview-offer'
  | 'preview-offer-changed'
  | 'idempotency-key-invalid'
  | 'idempotency-key-reused'
  | 'idempotency-in-progress'
  | 'target-unreachable';

export class AppError extends Error {
  constructor(
    readonly code: ErrorCode,
    readonly status: number,
    message: string,
    readonly details?: Record<string, unknown>,
  ) {
    super(message);
    this.name = 'AppError';
  }
}

export const notFound = (code: ErrorCode, what: string, id: string | number): AppError =>
  new AppError(code, 404, `${what} ${id} not found`, { id });

export const isAppError = (e: unknown): e is AppError => e instanceof AppError;

/** 400 naming the field, shaped like schema validation errors (details.problems). */
export function invalid(field: string, problem: string, extra: Record<string, unknown> = {}): AppError {
  const message = `${field}: ${problem}`;
  return new AppError('validation-failed', 400, message, { field, problems: [{ field, message: problem }], ...extra });
}
