/**
 * The request log: one line per request at info ("request completed": method, url, status, time),
 * where Fastify writes two ("incoming request" and "request completed"). The incoming line is
 * logged at debug (PBX_LOG_LEVEL=debug). Each line costs serialisation and a write on the request's
 * path; the second said nothing the first does not (docs/benchmarks.md#read-api).
 */
import { LogController, type FastifyReply, type FastifyRequest } from 'fastify';

export class RequestLog extends LogController {
  override incomingRequest(request: FastifyRequest): void {
    if (this.isLogDisabled(request)) return;
    request.log.debug({ req: request }, 'incoming request');
  }

  override requestCompleted(error: Error | null | undefined, request: FastifyRequest, reply: FastifyReply): void {
    if (this.isLogDisabled(request)) return;
    if (error) reply.log.error({ req: request, res: reply, err: error, responseTime: reply.elapsedTime }, 'request errored');
    else reply.log.info({ req: request, res: reply, responseTime: reply.elapsedTime }, 'request completed');
  }
}
