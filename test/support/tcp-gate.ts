/**
 * A TCP gate between the daemon under test and a real server (Postgres, Redis, Asterisk's ARI),
 * for faults that must not touch the shared server itself:
 * - close(): every connection through the gate is dropped and new ones are refused (the server is
 *   gone, as for a stopped Postgres); open() listens again on the same port.
 * - freeze(): nothing is forwarded either way and nothing is closed (a half-open path: packets
 *   dropped both ways, no FIN, no RST); a new connection is accepted but reaches nothing. thaw()
 *   lets everything held meanwhile through, in order, as TCP delivers it once the path is back.
 */
import { connect, createServer, type AddressInfo, type Socket } from 'node:net';

export interface TcpGate {
  /** The gate's port on 127.0.0.1 (0 until the first open()). */
  readonly port: number;
  /** While frozen: how many steps (data, a close, a connect) wait for thaw(). */
  readonly held: number;
  open(): Promise<void>;
  close(): Promise<void>;
  freeze(): void;
  thaw(): void;
}

export function tcpGate(target: { readonly host: string; readonly port: number }): TcpGate {
  const sockets = new Set<Socket>();
  /** While frozen: what to do once thawed, in the order it happened. */
  let held: (() => void)[] | null = null;
  const pass = (step: () => void): void => {
    if (held) held.push(step);
    else step();
  };
  const track = (socket: Socket): void => {
    sockets.add(socket);
    socket.on('error', () => undefined);
    socket.on('close', () => sockets.delete(socket));
  };
  const server = createServer((client) => {
    track(client);
    let upstream: Socket | null = null;
    pass(() => {
      const up = connect(target.port, target.host);
      upstream = up;
      track(up);
      up.on('data', (chunk) => pass(() => client.write(chunk)));
      up.on('close', () => pass(() => client.destroy()));
    });
    client.on('data', (chunk) => pass(() => upstream?.write(chunk)));
    client.on('close', () => pass(() => upstream?.destroy()));
  });
  let port = 0;
  return {
    get port() {
      return port;
    },
    get held() {
      return held?.length ?? 0;
    },
    open: () =>
      new Promise<void>((resolve, reject) => {
        server.once('error', reject);
        server.listen(port, '127.0.0.1', () => {
          server.off('error', reject);
          port = (server.address() as AddressInfo).port;
          resolve();
        });
      }),
    close: () =>
      new Promise<void>((resolve) => {
        held = null;
        if (!server.listening) return resolve();
        server.close(() => resolve());
        for (const s of sockets) s.destroy();
      }),
    freeze: () => {
      held ??= [];
    },
    thaw: () => {
      const steps = held ?? [];
      held = null;
      for (const step of steps) step();
    },
  };
}
