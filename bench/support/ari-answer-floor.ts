/**
 * The ARI floor of the `*99` path (bench/capacity.ts): the least a Stasis app can do for a caller
 * the test service answers: answer, play the greeting, and nothing more (the caller hangs up). No
 * database, no session, no log; the daemon's own REST client (keep-alive HTTP) and WebSocket
 * library. What ARI itself costs Asterisk and a client, to tell from what the daemon adds.
 */
import WebSocket from 'ws';
import { AriRest, seg } from '../../src/telephony/ari-rest.js';

export interface AnswerFloorSettings {
  readonly host: string;
  readonly port: number;
  readonly user: string;
  readonly password: string;
  /** Stasis application name (the dialplan context of the floor's caller sends calls to it). */
  readonly app: string;
  /** ARI media URI played after the answer, e.g. sound:hello-world. */
  readonly media: string;
}

export interface AnswerFloor {
  /** Calls answered, and requests ARI refused (the caller gone already, mostly). */
  readonly counts: { answered: number; failed: number };
  stop(): Promise<void>;
}

export async function startAnswerFloor(s: AnswerFloorSettings): Promise<AnswerFloor> {
  const rest = new AriRest(s);
  const counts = { answered: 0, failed: 0 };
  const onCaller = async (id: string) => {
    await rest.json('POST', `/channels/${seg(id)}/answer`);
    counts.answered++;
    await rest.json('POST', `/channels/${seg(id)}/play`, { media: s.media });
  };
  const url = `ws://${s.host}:${s.port}/ari/events?app=${encodeURIComponent(s.app)}&api_key=${encodeURIComponent(`${s.user}:${s.password}`)}`;
  const socket = new WebSocket(url);
  socket.on('message', (data: WebSocket.RawData) => {
    const event = JSON.parse(data.toString()) as { type: string; channel?: { id: string } };
    if (event.type === 'StasisStart' && event.channel) {
      onCaller(event.channel.id).catch(() => {
        counts.failed++;
      });
    }
  });
  await new Promise<void>((resolve, reject) => {
    socket.once('open', () => resolve());
    socket.once('error', reject);
  });
  return {
    counts,
    async stop() {
      socket.close();
      rest.close();
    },
  };
}
