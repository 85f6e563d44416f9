/**
 * The ARI floor (bench/acd-vs-app-queue.ts): the least any ACD driven over ARI can do for a queue
 * call, to tell the cost of the ARI design itself from the cost of our ACD. A caller entering
 * Stasis(<app>) has the next phone of a fixed list (round robin) originated at once, with the
 * caller's number as caller ID, then is answered; no database, no agent state, no decision, no
 * log. Each side's hang-up hangs up the other. It uses the daemon's own REST client (keep-alive
 * HTTP) and WebSocket library, so the only difference left to the daemon is what the daemon does.
 */
import { AriRest, seg } from '../../src/telephony/ari-rest.js';
import { openStasisSocket } from './stasis-socket.js';

export interface AriFloorSettings {
  readonly host: string;
  readonly port: number;
  readonly user: string;
  readonly password: string;
  /** Stasis application name (the dialplan context of the floor's carrier sends calls to it). */
  readonly app: string;
  /** Endpoints to ring in turn, e.g. PJSIP/6201. */
  readonly endpoints: readonly string[];
}

export interface AriFloor {
  /** Calls offered so far, and requests ARI refused. */
  readonly counts: { offered: number; failed: number };
  stop(): Promise<void>;
}

export async function startAriFloor(s: AriFloorSettings): Promise<AriFloor> {
  const rest = new AriRest(s);
  const peer = new Map<string, string>(); // channel id -> the other leg's id
  const counts = { offered: 0, failed: 0 };
  let next = 0;
  const failed = () => {
    counts.failed++;
  };
  const hangup = (id: string | undefined) => {
    if (id) rest.json('DELETE', `/channels/${seg(id)}`).catch(() => undefined);
  };

  const onCaller = async (callerId: string, number: string) => {
    const endpoint = s.endpoints[next++ % s.endpoints.length]!;
    const agent = await rest.json<{ id: string }>('POST', '/channels', { endpoint, app: s.app, appArgs: 'agent', callerId: number, timeout: 15 });
    counts.offered++;
    peer.set(callerId, agent.id);
    peer.set(agent.id, callerId);
    await rest.json('POST', `/channels/${seg(callerId)}/answer`);
  };

  const socket = await openStasisSocket(s, s.app, (event) => {
    const id = event.channel?.id;
    if (!id) return;
    if (event.type === 'StasisStart' && event.args?.[0] !== 'agent') onCaller(id, event.channel?.caller?.number ?? '').catch(failed);
    if (event.type === 'StasisEnd' || event.type === 'ChannelDestroyed') {
      const other = peer.get(id);
      peer.delete(id);
      if (other) peer.delete(other);
      hangup(other);
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
