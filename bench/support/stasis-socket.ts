/**
 * The bare ARI floors' event socket (bench/support/ari-*-floor.ts): one WebSocket on a Stasis
 * application, each message parsed and handed on, open once this resolves. The daemon's own
 * WebSocket library, nothing else: what any ARI client pays to hear its events.
 */
import WebSocket from 'ws';

export interface StasisSocketSettings {
  readonly host: string;
  readonly port: number;
  readonly user: string;
  readonly password: string;
}

/** The fields of an ARI event the floors read. */
export interface StasisEvent {
  type: string;
  args?: string[];
  digit?: string;
  channel?: { id: string; caller?: { number?: string } };
}

export async function openStasisSocket(s: StasisSocketSettings, app: string, onEvent: (event: StasisEvent) => void): Promise<WebSocket> {
  const url = `ws://${s.host}:${s.port}/ari/events?app=${encodeURIComponent(app)}&api_key=${encodeURIComponent(`${s.user}:${s.password}`)}`;
  const socket = new WebSocket(url);
  socket.on('message', (data: WebSocket.RawData) => onEvent(JSON.parse(data.toString()) as StasisEvent));
  await new Promise<void>((resolve, reject) => {
    socket.once('open', () => resolve());
    socket.once('error', reject);
  });
  return socket;
}
