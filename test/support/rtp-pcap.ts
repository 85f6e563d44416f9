/**
 * One RTP stream as a phone sends it, written as a pcap for SIPp's play_pcap_audio: u-law audio
 * (PT 0, 20 ms packets) and RFC 4733 key presses (PT 101, as sip-tester's dtmf_2833_*.pcap: a
 * marker packet, duration growing by 160 every 20 ms, three end packets) in ONE stream: one SSRC,
 * sequence numbers and timestamps running on across audio and keys, from one socket.
 *
 * Why not SIPp's rtp_stream for the audio plus sip-tester's dtmf_2833_*.pcap for the keys: those
 * pcaps carry fixed sequence numbers and timestamps, so a key can be sent once per call only (a
 * second `*#` is old news to Asterisk and dropped); the handset test presses `*#` twice.
 */
import { writeFile } from 'node:fs/promises';

export type RtpStep = { readonly audioMs: number } | { readonly key: string };

const EVENT: Record<string, number> = { '*': 10, '#': 11 };
const eventOf = (key: string): number => {
  if (/^[0-9]$/.test(key)) return Number(key);
  const e = EVENT[key];
  if (e === undefined) throw new Error(`not a DTMF key: ${key}`);
  return e;
};

/** Writes the pcap; `ulaw` is looped for the audio (8 kHz u-law bytes, e.g. from sox `-t ul`). */
export async function writePhoneRtpPcap(file: string, ulaw: Buffer, steps: readonly RtpStep[]): Promise<void> {
  const packets: { atUs: number; rtp: Buffer }[] = [];
  const ssrc = 0x5eed1234;
  let seq = 1000;
  let ts = 16000;
  let atUs = 0;
  let audioAt = 0;
  const push = (pt: number, marker: boolean, timestamp: number, payload: Buffer, sameSeq = false) => {
    const rtp = Buffer.alloc(12 + payload.length);
    rtp[0] = 0x80;
    rtp[1] = (marker ? 0x80 : 0) | pt;
    if (!sameSeq) seq = (seq + 1) & 0xffff;
    rtp.writeUInt16BE(seq, 2);
    rtp.writeUInt32BE(timestamp >>> 0, 4);
    rtp.writeUInt32BE(ssrc, 8);
    payload.copy(rtp, 12);
    packets.push({ atUs, rtp });
  };
  for (const step of steps) {
    if ('audioMs' in step) {
      for (let i = 0; i < Math.round(step.audioMs / 20); i++) {
        const chunk = Buffer.alloc(160);
        for (let j = 0; j < 160; j++) chunk[j] = ulaw[(audioAt + j) % ulaw.length]!;
        audioAt += 160;
        push(0, false, ts, chunk);
        ts += 160;
        atUs += 20_000;
      }
      continue;
    }
    // A key press of 200 ms: 8 updates (the first with the marker), then the end packet three times.
    const event = eventOf(step.key);
    const start = ts;
    for (let i = 0; i < 8; i++) {
      push(101, i === 0, start, Buffer.from([event, 0x0a, (i * 160) >> 8, (i * 160) & 0xff]));
      atUs += 20_000;
    }
    const end = Buffer.from([event, 0x8a, 1280 >> 8, 1280 & 0xff]);
    for (let i = 0; i < 3; i++) push(101, false, start, end, i > 0);
    ts = start + 1280;
  }
  await writeFile(file, pcap(packets));
}

/** pcap (Ethernet) of UDP packets 192.168.0.3:49176 -> 192.168.0.1:10000; SIPp replaces the addresses and ports. */
function pcap(packets: readonly { atUs: number; rtp: Buffer }[]): Buffer {
  const head = Buffer.alloc(24);
  head.writeUInt32LE(0xa1b2c3d4, 0);
  head.writeUInt16LE(2, 4);
  head.writeUInt16LE(4, 6);
  head.writeUInt32LE(0xffff, 16);
  head.writeUInt32LE(1, 20);
  const base = 1_765_000_000;
  const out = [head];
  packets.forEach(({ atUs, rtp }, n) => {
    const frame = Buffer.alloc(14 + 20 + 8 + rtp.length);
    frame.writeUInt16BE(0x0800, 12);
    const ip = 14;
    frame[ip] = 0x45;
    frame.writeUInt16BE(20 + 8 + rtp.length, ip + 2);
    frame.writeUInt16BE(n & 0xffff, ip + 4);
    frame[ip + 8] = 64;
    frame[ip + 9] = 17;
    Buffer.from([192, 168, 0, 3]).copy(frame, ip + 12);
    Buffer.from([192, 168, 0, 1]).copy(frame, ip + 16);
    let sum = 0;
    for (let i = 0; i < 20; i += 2) sum += frame.readUInt16BE(ip + i);
    while (sum > 0xffff) sum = (sum & 0xffff) + (sum >>> 16);
    frame.writeUInt16BE(~sum & 0xffff, ip + 10);
    const udp = ip + 20;
    frame.writeUInt16BE(49176, udp);
    frame.writeUInt16BE(10000, udp + 2);
    frame.writeUInt16BE(8 + rtp.length, udp + 4);
    rtp.copy(frame, udp + 8);
    const rec = Buffer.alloc(16);
    rec.writeUInt32LE(base + Math.floor(atUs / 1e6), 0);
    rec.writeUInt32LE(atUs % 1e6, 4);
    rec.writeUInt32LE(frame.length, 8);
    rec.writeUInt32LE(frame.length, 12);
    out.push(rec, frame);
  });
  return Buffer.concat(out);
}
