/**
 * The reachability probe of a webhook URL at creation (docs/webhooks.md#urls): a TCP connect to its
 * host and port (443 or 80 when the URL names none), cut after `timeoutMs`, closed at once. Nothing
 * is sent: the receiver sees no request (an unsigned or unexpected POST would be a surprise), so it
 * tells that something listens there, not that it takes deliveries (POST /ping tells that). Never
 * throws: null when it connected, else why not (ECONNREFUSED, ENOTFOUND, timed out after …).
 */
import { connect } from 'node:net';

export async function probeReach(rawUrl: string, timeoutMs: number): Promise<string | null> {
  const url = new URL(rawUrl);
  const port = Number(url.port || (url.protocol === 'https:' ? 443 : 80));
  const host = url.hostname.replace(/^\[(.*)\]$/, '$1');
  return new Promise((resolve) => {
    const socket = connect({ host, port });
    const done = (problem: string | null) => {
      clearTimeout(timer);
      socket.destroy();
      resolve(problem);
    };
    const timer = setTimeout(() => done(`timed out after ${timeoutMs} ms connecting to ${host}:${port}`), timeoutMs);
    socket.once('connect', () => done(null));
    socket.once('error', (err: NodeJS.ErrnoException) => done(`${err.code ?? err.message} connecting to ${host}:${port}`));
  });
}
