/**
 * The audio side of a scripted SIPp phone, in Node: a UDP socket whose port the phone's SDP offers
 * (SIPp's scenario takes it as -key rtpport), so Asterisk sends this call's RTP here. It sends a
 * steady tone (G.711 u-law, 20 ms packets) from the same port (symmetric RTP), sends RFC 4733 DTMF,
 * and keeps what it receives, decoded, with arrival times. toneLevel() measures how much of a
 * frequency a stretch of received audio holds (Goertzel): the amplitude of that sine, 0..32767.
 */
import dgram from 'node:dgram';
import { readFile } from 'node:fs/promises';
import { eventually } from './wait.js';

const RATE = 8000;
const FRAME = 160; // 20 ms
const PCMU = 0;
const TELEPHONE_EVENT = 101;

/** G.711 u-law: one byte -> a 16-bit sample. */
export function ulawDecode(byte: number): number {
  const u = ~byte & 0xff;
  const t = (((u & 0x0f) << 3) + 0x84) << ((u & 0x70) >> 4);
  return u & 0x80 ? 0x84 - t : t - 0x84;
}

/** G.711 u-law: a 16-bit sample -> one byte. */
export function ulawEncode(sample: number): number {
  const BIAS = 0x84;
  const sign = sample < 0 ? 0x80 : 0;
  let s = Math.min(Math.abs(sample), 32635) + BIAS;
  let exponent = 7;
  for (let mask = 0x4000; (s & mask) === 0 && exponent > 0; mask >>= 1) exponent--;
  const mantissa = (s >> (exponent + 3)) & 0x0f;
  s = ~(sign | (exponent << 4) | mantissa) & 0xff;
  return s;
}

/** The amplitude of the `freq` Hz sine in `samples` (Goertzel; 0 when there are none). */
export function toneLevel(samples: Int16Array | number[], freq: number): number {
  const n = samples.length;
  if (n === 0) return 0;
  const k = (2 * Math.cos((2 * Math.PI * freq) / RATE));
  let s1 = 0;
  let s2 = 0;
  for (let i = 0; i < n; i++) {
    const s0 = samples[i]! + k * s1 - s2;
    s2 = s1;
    s1 = s0;
  }
  const power = s1 * s1 + s2 * s2 - k * s1 * s2;
  return (2 * Math.sqrt(Math.max(power, 0))) / n;
}

const DIGIT_EVENTS: Readonly<Record<string, number>> = { '0': 0, '1': 1, '2': 2, '3': 3, '4': 4, '5': 5, '6': 6, '7': 7, '8': 8, '9': 9, '*': 10, '#': 11 };

export class RtpPhone {
  private seq = Math.floor(Math.random() * 0xffff);
  private ts = Math.floor(Math.random() * 0xffffff);
  private readonly ssrc = Math.floor(Math.random() * 0xffffffff) >>> 0;
  private timer: NodeJS.Timeout | null = null;
  private phase = 0;
  private remote: { host: string; port: number } | null = null;
  /** A DTMF event being sent instead of audio: packets left to send. */
  private dtmf: { event: number; sent: number } | null = null;
  /** Received audio: one entry per packet, [arrival ms, samples]. */
  private readonly received: [number, Int16Array][] = [];
  /** Audio sent instead of the tone (speak), and how far it is sent; silence after its end. */
  private script: { samples: Int16Array; at: number } | null = null;

  private constructor(
    private readonly socket: dgram.Socket,
    readonly port: number,
    /** The tone this phone sends (Hz), at `amplitude`. */
    readonly freq: number,
    private readonly amplitude = 6000,
  ) {
    socket.on('message', (msg) => this.onPacket(msg));
  }

  static async open(freq: number): Promise<RtpPhone> {
    const socket = dgram.createSocket('udp4');
    await new Promise<void>((resolve, reject) => {
      socket.once('error', reject);
      socket.bind(0, '127.0.0.1', () => resolve());
    });
    return new RtpPhone(socket, socket.address().port, freq);
  }

  /** Start sending the tone to `remote` (where the SIP peer's SDP said). */
  start(remote: { host: string; port: number }): void {
    this.remote = remote;
    this.timer ??= setInterval(() => this.tick(), 20);
  }

  /**
   * Send `segments` instead of the tone, from the next packet on: `[ms, toneHz]` each, 0 Hz for
   * silence (a machine's greeting, its beep); then silence for the rest of the call.
   */
  speak(segments: readonly (readonly [number, number])[]): void {
    const samples = new Int16Array(segments.reduce((n, [ms]) => n + ms * (RATE / 1000), 0));
    let i = 0;
    for (const [ms, hz] of segments) {
      for (let k = 0; k < ms * (RATE / 1000); k++, i++) samples[i] = hz ? Math.round(this.amplitude * Math.sin((2 * Math.PI * hz * k) / RATE)) : 0;
    }
    this.script = { samples, at: 0 };
  }

  /** Press `digit` (RFC 4733, payload 101): ~200 ms of events, then the tone again. */
  press(digit: string): void {
    const event = DIGIT_EVENTS[digit];
    if (event === undefined) throw new Error(`no DTMF digit ${digit}`);
    this.dtmf = { event, sent: 0 };
  }

  /**
   * Type `digits` one after the other, each pressed once its previous key's packets are all sent.
   * One RTP stream with rising sequence numbers and timestamps carries them, so any order of keys
   * arrives (sip-tester's fixed DTMF pcaps could only send keys in ascending order within a call).
   */
  async type(digits: string): Promise<void> {
    for (const digit of digits) {
      this.press(digit);
      await eventually(async () => (this.dtmf === null ? true : undefined), 5000, `key ${digit} sent`, 10);
    }
  }

  /** Received audio from `fromMs` (Date.now() time) to `toMs`, decoded. */
  audio(fromMs: number, toMs = Date.now()): Int16Array {
    const parts = this.received.filter(([t]) => t >= fromMs && t <= toMs).map(([, s]) => s);
    const out = new Int16Array(parts.reduce((n, p) => n + p.length, 0));
    let at = 0;
    for (const p of parts) {
      out.set(p, at);
      at += p.length;
    }
    return out;
  }

  /** How much of `freq` the audio received in [fromMs, toMs] holds (amplitude), and how many samples it had. */
  level(freq: number, fromMs: number, toMs = Date.now()): { level: number; samples: number } {
    const samples = this.audio(fromMs, toMs);
    return { level: toneLevel(samples, freq), samples: samples.length };
  }

  close(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = null;
    this.socket.close();
  }

  private tick(): void {
    if (!this.remote) return;
    if (this.dtmf) return this.sendDtmf();
    const payload = Buffer.alloc(FRAME);
    const script = this.script;
    for (let i = 0; i < FRAME; i++) {
      payload[i] = ulawEncode(script ? (script.samples[script.at++] ?? 0) : Math.round(this.amplitude * Math.sin(this.phase)));
      this.phase += (2 * Math.PI * this.freq) / RATE;
    }
    this.phase %= 2 * Math.PI;
    this.send(PCMU, payload, false);
    this.ts = (this.ts + FRAME) >>> 0;
  }

  /** One event, 10 packets of 20 ms (the same timestamp, growing duration), the last three with E set. */
  private sendDtmf(): void {
    const d = this.dtmf!;
    const total = 10;
    const end = d.sent >= total - 3;
    const payload = Buffer.alloc(4);
    payload[0] = d.event;
    payload[1] = (end ? 0x80 : 0) | 10; // volume -10 dBm0
    payload.writeUInt16BE(Math.min((d.sent + 1) * FRAME, 0xffff), 2);
    this.send(TELEPHONE_EVENT, payload, d.sent === 0);
    d.sent += 1;
    if (d.sent >= total) {
      this.dtmf = null;
      this.ts = (this.ts + total * FRAME) >>> 0;
    }
  }

  private send(pt: number, payload: Buffer, marker: boolean): void {
    const header = Buffer.alloc(12);
    header[0] = 0x80;
    header[1] = (marker ? 0x80 : 0) | pt;
    header.writeUInt16BE(this.seq, 2);
    header.writeUInt32BE(this.ts, 4);
    header.writeUInt32BE(this.ssrc, 8);
    this.seq = (this.seq + 1) & 0xffff;
    this.socket.send(Buffer.concat([header, payload]), this.remote!.port, this.remote!.host);
  }

  private onPacket(msg: Buffer): void {
    if (msg.length <= 12 || (msg[1]! & 0x7f) !== PCMU) return;
    const cc = msg[0]! & 0x0f;
    const body = msg.subarray(12 + 4 * cc);
    const samples = new Int16Array(body.length);
    for (let i = 0; i < body.length; i++) samples[i] = ulawDecode(body[i]!);
    this.received.push([Date.now(), samples]);
  }
}

/** The remote media address a SIPp scenario logged ("remote-media <ip> <port>", rtp-*.xml) once the call is answered. */
export async function remoteMedia(logFile: string, timeoutMs = 20_000): Promise<{ host: string; port: number }> {
  return eventually(async () => {
    const m = /remote-media (\S+) (\d+)/.exec(await readFile(logFile, 'utf8').catch(() => ''));
    return m ? { host: m[1]!, port: Number(m[2]) } : undefined;
  }, timeoutMs, `remote media address in ${logFile}`, 50);
}
