/**
 * The request log: one line per request at info ("request completed": request id, user, method,
 * url, host, client address, status, time), where Fastify writes two ("incoming request" and
 * "request completed"). The incoming line is logged at debug (PBX_LOG_LEVEL=debug).
 *
 * Which requests get the line (PBX_HTTP_LOG): `all` (the default), `errors` (answered 400 or more,
 * or failed), `off` (only failures). A failure ("request errored", with the error) is always logged.
 *
 * The line is written by its own logger without the daemon's redaction: redaction looks into every
 * object of a line for `*.password`-like keys, 40 % of the line's CPU, and this line holds only the
 * fields named here, none of them secret (the Authorization header is never in it). At 2,000 req/s
 * the line was 17-30 % of the daemon's CPU on the cheap paths (docs/benchmarks.md#read-api-make-bench-api).
 */
import { LogController, type FastifyReply, type FastifyRequest } from 'fastify';
import type { HttpLogMode } from '../config.js';
import type { Logger } from '../logger.js';

/** The fields of a request's line: what ops need to follow a request (the same names as Fastify's own line, plus `user`). */
export function requestLine(request: FastifyRequest, reply: FastifyReply) {
  return {
    reqId: request.id,
    user: request.principal?.username,
    req: { method: request.method, url: request.url, host: request.host, remoteAddress: request.ip, remotePort: request.socket?.remotePort },
    res: { statusCode: reply.statusCode },
    responseTime: reply.elapsedTime,
  };
}

/** Whether a request answered with `status` gets its line under `mode` (failures always do). */
export const wantsLine = (mode: HttpLogMode, status: number): boolean => mode === 'all' || (mode === 'errors' && status >= 400);

export class RequestLog extends LogController {
  /** `lines`: the logger of the request lines (component http, no redaction: see above). */
  constructor(
    private readonly lines: Logger,
    private readonly mode: HttpLogMode,
  ) {
    super();
  }

  override incomingRequest(request: FastifyRequest): void {
    if (this.isLogDisabled(request)) return;
    request.log.debug({ req: request }, 'incoming request');
  }

  override requestCompleted(error: Error | null | undefined, request: FastifyRequest, reply: FastifyReply): void {
    if (this.isLogDisabled(request)) return;
    if (error) reply.log.error({ req: request, res: reply, err: error, responseTime: reply.elapsedTime }, 'request errored');
    else if (wantsLine(this.mode, reply.statusCode) && this.lines.isLevelEnabled('info')) this.lines.info(requestLine(request, reply), 'request completed');
  }
}

/** The request lines' logger: a child of the daemon's, component http, its redaction off (the line's fields are fixed). */
export const requestLineLogger = (log: Logger): Logger => log.child({ component: 'http' }, { redact: { paths: [] } });
