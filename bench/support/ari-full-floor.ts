/**
 * The ARI floor of the full path (bench/capacity-full.ts): the least a Stasis app can do for a
 * caller of an IVR menu that leads to a queue, with recording. The caller is answered and hears
 * the menu prompt; on its first key the prompt stops, Asterisk's MixMonitor starts on the
 * caller's channel over AMI (r()/t(): two files, as the daemon records, src/calls/recorder.ts),
 * and the next phone of a fixed list (round robin: no agent state, no decision) is originated
 * with the caller's number as caller ID; when it answers (its StasisStart) both go into a mixing
 * bridge. Either side's hang-up hangs up the other. No database, no session, no log; the daemon's
 * own REST client (keep-alive HTTP), AMI connection and WebSocket library. What ARI itself costs
 * on this path, to tell from what the daemon adds.
 */
import { AriRest, seg } from '../../src/telephony/ari-rest.js';
import { AmiConnection } from '../../src/telephony/ami.js';
import { MixMonitorRecorder } from '../../src/calls/recorder.js';
import { createLogger } from '../../src/logger.js';
import { openStasisSocket } from './stasis-socket.js';

export interface FullFloorSettings {
  readonly ari: { readonly host: string; readonly port: number; readonly user: string; readonly password: string };
  readonly ami: { readonly host: string; readonly port: number; readonly user: string; readonly password: string };
  /** Stasis application name (the dialplan context of the floor's carrier sends calls to it). */
  readonly app: string;
  /** ARI media URI of the menu prompt, e.g. sound:hello-world. */
  readonly menu: string;
  /** Endpoints to ring in turn, e.g. PJSIP/6201. */
  readonly endpoints: readonly string[];
  /** The recordings folder as Asterisk sees it: files go to <dir>/incoming/<channel id>-{rx,tx}.wav. */
  readonly recordingsDir: string;
}

export interface FullFloor {
  /** Agents rung, calls bridged, and requests Asterisk refused (the caller gone already, mostly). */
  readonly counts: { rung: number; bridged: number; failed: number };
  stop(): Promise<void>;
}

export async function startFullFloor(s: FullFloorSettings): Promise<FullFloor> {
  const rest = new AriRest(s.ari);
  const ami = new AmiConnection(s.ami, { baseMs: 500, maxMs: 5_000 }, createLogger('error', 'bench-floor'));
  const amiUp = new Promise<void>((resolve) => ami.onConnected(resolve));
  ami.start();
  await amiUp;
  const recorder = new MixMonitorRecorder(ami, s.recordingsDir);
  const counts = { rung: 0, bridged: 0, failed: 0 };
  /** Per caller: its menu playback, and whether it has keyed. Per leg: the other leg and the bridge. */
  const menus = new Map<string, { playback: string; keyed: boolean }>();
  const peer = new Map<string, string>();
  const bridgeOf = new Map<string, string>();
  let next = 0;
  const failed = () => {
    counts.failed++;
  };

  const onCaller = async (id: string) => {
    await rest.json('POST', `/channels/${seg(id)}/answer`);
    const playback = `${id}-menu`;
    menus.set(id, { playback, keyed: false });
    await rest.json('POST', `/channels/${seg(id)}/play/${seg(playback)}`, { media: s.menu });
  };
  const onKey = async (id: string, number: string) => {
    const menu = menus.get(id);
    if (!menu || menu.keyed) return;
    menu.keyed = true;
    rest.json('DELETE', `/playbacks/${seg(menu.playback)}`).catch(() => undefined); // done already: fine
    await recorder.start(id, id);
    const endpoint = s.endpoints[next++ % s.endpoints.length]!;
    const agent = await rest.json<{ id: string }>('POST', '/channels', { endpoint, app: s.app, appArgs: `agent,${id}`, callerId: number, timeout: 15 });
    counts.rung++;
    if (!menus.has(id)) {
      rest.json('DELETE', `/channels/${seg(agent.id)}`).catch(() => undefined); // the caller left meanwhile
      return;
    }
    peer.set(id, agent.id);
    peer.set(agent.id, id);
  };
  const onAgent = async (agentId: string, callerId: string) => {
    if (peer.get(agentId) !== callerId) {
      rest.json('DELETE', `/channels/${seg(agentId)}`).catch(() => undefined); // the caller left while it rang
      return;
    }
    const bridge = await rest.json<{ id: string }>('POST', '/bridges', { type: 'mixing' });
    bridgeOf.set(agentId, bridge.id);
    bridgeOf.set(callerId, bridge.id);
    await rest.json('POST', `/bridges/${seg(bridge.id)}/addChannel`, { channel: `${callerId},${agentId}` });
    counts.bridged++;
  };
  const onEnd = (id: string) => {
    menus.delete(id);
    const other = peer.get(id);
    peer.delete(id);
    const bridge = bridgeOf.get(id);
    bridgeOf.delete(id);
    if (other) {
      peer.delete(other);
      rest.json('DELETE', `/channels/${seg(other)}`).catch(() => undefined);
    }
    // The first leg out: the bridge goes (the second's DELETE finds it gone).
    if (bridge && other) rest.json('DELETE', `/bridges/${seg(bridge)}`).catch(() => undefined);
  };

  const socket = await openStasisSocket(s.ari, s.app, (event) => {
    const id = event.channel?.id;
    if (!id) return;
    if (event.type === 'StasisStart') {
      const [role, callerId] = event.args ?? [];
      if (role === 'agent' && callerId) onAgent(id, callerId).catch(failed);
      else onCaller(id).catch(failed);
    } else if (event.type === 'ChannelDtmfReceived' && event.digit === '1') {
      onKey(id, event.channel?.caller?.number ?? '').catch(failed);
    } else if (event.type === 'StasisEnd') {
      onEnd(id);
    }
  });
  return {
    counts,
    async stop() {
      socket.close();
      rest.close();
      await ami.stop();
    },
  };
}
