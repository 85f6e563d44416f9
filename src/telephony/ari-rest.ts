/**
 * ARI's REST interface over one keep-alive HTTP connection pool (node:http).
 *
 * Why not ari-client's REST layer: it is swagger-client 2 (unmaintained) on bluebird. Measured
 * with the queue bench, it spent ~7 ms of CPU per queue call building and parsing requests, on
 * the path between the ACD's claim and the agent's phone ringing; a request here costs a few
 * tenths of a millisecond. It also could not fetch binary bodies, lacked newer operations
 * (transfer_progress), had no request deadline, and wrote through an implicit global `log`.
 *
 * Failures become AppErrors: 404 (and any "... not found" message, as ARI words a channel gone
 * meanwhile) is 'call-not-found'; anything else, including no answer within the deadline, is
 * 'asterisk-unavailable' naming the request.
 */
import http from 'node:http';
import { AppError } from '../errors.js';

export type Query = Readonly<Record<string, string | number | boolean | undefined>>;

export interface AriRestSettings {
  readonly host: string;
  readonly port: number;
  readonly user: string;
  readonly password: string;
}

const DEADLINE_MS = 10_000;

/**
 * Told of every request once it is answered or failed: the method, the resource (the path's first
 * segment: channels, bridges, playbacks...; never an id), the seconds it took and whether it
 * succeeded (2xx). For the metrics (pbx_ari_request_duration_seconds).
 */
export type AriRequestTimer = (method: string, resource: string, seconds: number, ok: boolean) => void;

export class AriRest {
  /**
   * Idle connections are dropped after 5 s, well before Asterisk closes them (http.conf
   * session_keep_alive, 15 s by default), so a request never goes out on a closing connection.
   */
  private readonly agent = new http.Agent({ keepAlive: true, maxSockets: 32, timeout: 5_000 });
  private readonly authorization: string;

  constructor(
    private readonly settings: AriRestSettings,
    private readonly timed: AriRequestTimer = () => undefined,
  ) {
    this.authorization = `Basic ${Buffer.from(`${settings.user}:${settings.password}`).toString('base64')}`;
  }

  /** Close idle connections (shutdown). */
  close(): void {
    this.agent.destroy();
  }

  /** JSON answer of `method /ari<path>` (undefined for an empty body). */
  async json<T = unknown>(method: 'GET' | 'POST' | 'PUT' | 'DELETE', path: string, query?: Query, body?: unknown, deadlineMs = DEADLINE_MS): Promise<T> {
    const res = await this.request(method, path, query, body, deadlineMs);
    return (res.length === 0 ? undefined : JSON.parse(res.toString('utf8'))) as T;
  }

  /** The raw body of a GET (a stored recording's file), or null when ARI answers 404. */
  async binary(path: string): Promise<Buffer | null> {
    try {
      return await this.request('GET', path);
    } catch (err) {
      if (err instanceof AppError && err.code === 'call-not-found') return null;
      throw err;
    }
  }

  private request(method: string, path: string, query?: Query, body?: unknown, deadlineMs = DEADLINE_MS): Promise<Buffer> {
    const what = `ARI ${method} ${path}`;
    const payload = body === undefined ? null : Buffer.from(JSON.stringify(body));
    const headers: http.OutgoingHttpHeaders = { authorization: this.authorization };
    if (payload) {
      headers['content-type'] = 'application/json';
      headers['content-length'] = payload.length;
    }
    const started = performance.now();
    const resource = /^\/([A-Za-z]+)/.exec(path)?.[1] ?? 'other';
    const answered = new Promise<Buffer>((resolve, reject) => {
      const req = http.request(
        { host: this.settings.host, port: this.settings.port, method, path: `/ari${path}${queryString(query)}`, headers, agent: this.agent, timeout: deadlineMs },
        (res) => {
          const chunks: Buffer[] = [];
          res.on('data', (chunk: Buffer) => chunks.push(chunk));
          res.on('error', (err) => reject(new AppError('asterisk-unavailable', 503, `${what} failed: ${err.message}`)));
          res.on('end', () => {
            const data = Buffer.concat(chunks);
            const status = res.statusCode ?? 0;
            if (status >= 200 && status < 300) return resolve(data);
            reject(failure(what, status, data));
          });
        },
      );
      req.on('timeout', () => req.destroy(new Error(`no answer within ${deadlineMs} ms`)));
      req.on('error', (err) => reject(new AppError('asterisk-unavailable', 503, `${what} failed: ${err.message}`)));
      req.end(payload ?? undefined);
    });
    answered.then(
      () => this.timed(method, resource, (performance.now() - started) / 1000, true),
      () => this.timed(method, resource, (performance.now() - started) / 1000, false),
    );
    return answered;
  }
}

function queryString(query: Query | undefined): string {
  if (!query) return '';
  const parts: string[] = [];
  for (const [key, value] of Object.entries(query)) {
    if (value !== undefined) parts.push(`${encodeURIComponent(key)}=${encodeURIComponent(String(value))}`);
  }
  return parts.length > 0 ? `?${parts.join('&')}` : '';
}

/** ARI's error bodies are {"message": "..."}; a 401 names the settings to check. */
function failure(what: string, status: number, data: Buffer): AppError {
  let message = data.toString('utf8').slice(0, 300);
  try {
    const parsed = JSON.parse(message) as { message?: unknown };
    if (typeof parsed.message === 'string') message = parsed.message;
  } catch {
    // not JSON: keep the text
  }
  if (status === 404 || /not found/i.test(message)) return new AppError('call-not-found', 404, message || `${what}: HTTP 404`);
  const hint = status === 401 ? ' (check PBX_ARI_USER/PBX_ARI_PASSWORD)' : '';
  return new AppError('asterisk-unavailable', 503, `${what}: HTTP ${status}${message ? ` ${message}` : ''}${hint}`);
}

/** Path segment: ids are ours or Asterisk's, but never trust them into a URL unescaped. */
export const seg = (s: string): string => encodeURIComponent(s);
