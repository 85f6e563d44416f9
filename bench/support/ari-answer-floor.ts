/**
 * The ARI floor of the `*99` path (bench/capacity.ts): the least a Stasis app can do for a caller
 * the test service answers: answer, play the greeting, and nothing more (the caller hangs up). No
 * database, no session, no log; the daemon's own REST client (keep-alive HTTP) and WebSocket
 * library. What ARI itself costs Asterisk and a client, to tell from what the daemon adds.
 */
import { AriRest, seg } from '../../src/telephony/ari-rest.js';
import { openStasisSocket } from './stasis-socket.js';

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
  const socket = await openStasisSocket(s, s.app, (event) => {
    if (event.type === 'StasisStart' && event.channel) {
      onCaller(event.channel.id).catch(() => {
        counts.failed++;
      });
    }
  });
  return {
    counts,
    async stop() {
      socket.close();
      rest.close();
    },
  };
}
