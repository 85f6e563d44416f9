/**
 * Asterisk's own recorder, MixMonitor, driven over AMI (docs/recording.md#how-it-records). It is
 * started on the caller's channel, so it follows the caller through the IVR, the queue, the
 * agent's talk and transfers; its audio never passes through the daemon, it costs what
 * MixMonitor in the dialplan costs, and it keeps recording when the daemon dies. Options r() and
 * t() write the two directions as two mono WAV files (from the caller; to the caller), kept in
 * step by MixMonitor (it pads the quieter side with silence); after the call they become one
 * stereo file (recording-files.ts). MixMonitorMute writes silence for a PCI pause.
 *
 * AMI needs only the `system` write class for these actions (manager.conf). Every value sent is
 * made here from ids the daemon made: never caller-controlled text.
 */
import type { AmiResponse } from '../telephony/ami.js';
import { AppError } from '../errors.js';

export interface AmiActions {
  action(fields: Record<string, string>): Promise<AmiResponse>;
}

/** What a call's recording needs from Asterisk (faked in unit tests). */
export interface Recorder {
  /** Start recording `channelId` into the two files of recording `id`. */
  start(channelId: string, id: string): Promise<void>;
  /** Mute (true) or unmute both directions: the files hold silence meanwhile. */
  mute(channelId: string, on: boolean): Promise<void>;
  /** Stop recording the channel (its files are closed). */
  stop(channelId: string): Promise<void>;
}

const ID = /^[A-Za-z0-9._-]{1,128}$/;

/** The two files of recording `id`, under `dir` (the recordings folder as Asterisk or the daemon sees it). */
export function directionFiles(dir: string, id: string): { rx: string; tx: string } {
  if (!ID.test(id)) throw new Error(`invalid recording id ${JSON.stringify(id)}`);
  return { rx: `${dir}/incoming/${id}-rx.wav`, tx: `${dir}/incoming/${id}-tx.wav` };
}

export class MixMonitorRecorder implements Recorder {
  /** `asteriskDir`: the recordings folder as Asterisk sees it (it may run chrooted). */
  constructor(
    private readonly ami: AmiActions,
    private readonly asteriskDir: string,
  ) {}

  async start(channelId: string, id: string): Promise<void> {
    const { rx, tx } = directionFiles(this.asteriskDir, id);
    await this.run({ action: 'MixMonitor', channel: channel(channelId), options: `r(${rx})t(${tx})` });
  }

  async mute(channelId: string, on: boolean): Promise<void> {
    await this.run({ action: 'MixMonitorMute', channel: channel(channelId), direction: 'both', state: on ? '1' : '0' });
  }

  async stop(channelId: string): Promise<void> {
    await this.run({ action: 'StopMixMonitor', channel: channel(channelId) });
  }

  private async run(fields: Record<string, string>): Promise<void> {
    let res: AmiResponse;
    try {
      res = await this.ami.action(fields);
    } catch (err) {
      // AMI answers "Response: Error" with the message: a channel gone is the call gone.
      if (/no such channel/i.test((err as Error).message)) throw new AppError('call-not-found', 404, 'call not found');
      throw err;
    }
    if (String(res['response'] ?? '').toLowerCase() !== 'success') {
      throw new AppError('asterisk-unavailable', 503, `${fields['action']}: ${res['message'] ?? 'failed'}`);
    }
  }
}

/** AMI takes the channel's name or its unique id; the daemon knows channels by their ARI id (= unique id). */
function channel(channelId: string): string {
  if (!ID.test(channelId)) throw new Error(`invalid channel id ${JSON.stringify(channelId)}`);
  return channelId;
}
