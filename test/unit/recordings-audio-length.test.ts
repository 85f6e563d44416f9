/** Play time of recording files read in the daemon (src/recordings/audio-length.ts, pure): WAV headers, MP3 frames. */
import { describe, expect, it } from 'vitest';
import { Mp3Length, parseWavHeader, wavDurationMs } from '../../src/recordings/audio-length.js';

/** A PCM WAV header (44 bytes, or more with extra chunks before `data`) saying `dataBytes`. */
function wavHeader(channels: number, rate: number, dataBytes: number, extra: Buffer[] = []): Buffer {
  const fmt = Buffer.alloc(24);
  fmt.write('fmt ', 0, 'ascii');
  fmt.writeUInt32LE(16, 4);
  fmt.writeUInt16LE(1, 8);
  fmt.writeUInt16LE(channels, 10);
  fmt.writeUInt32LE(rate, 12);
  fmt.writeUInt32LE(rate * channels * 2, 16);
  fmt.writeUInt16LE(channels * 2, 20);
  fmt.writeUInt16LE(16, 22);
  const data = Buffer.alloc(8);
  data.write('data', 0, 'ascii');
  data.writeUInt32LE(dataBytes, 4);
  const body = Buffer.concat([Buffer.from('WAVE', 'ascii'), fmt, ...extra, data]);
  const riff = Buffer.alloc(8);
  riff.write('RIFF', 0, 'ascii');
  riff.writeUInt32LE(body.length + dataBytes, 4);
  return Buffer.concat([riff, body]);
}

/** `n` MPEG 2.5 layer III frames, 32 kbit/s, 8 kHz (what LAME writes for the default recording): 288 bytes and 576 samples (72 ms) each. */
function frames8k(n: number): Buffer {
  const frame = Buffer.alloc(288, 0x55);
  Buffer.from([0xff, 0xe3, 0x48, 0x64]).copy(frame);
  return Buffer.concat(Array.from({ length: n }, () => frame));
}

function lengthOf(bytes: Buffer, chunk = bytes.length): number {
  const l = new Mp3Length();
  for (let at = 0; at < bytes.length; at += chunk) l.push(bytes.subarray(at, at + chunk));
  return l.ms;
}

describe('WAV header', () => {
  it('stereo 8 kHz 16-bit: its data size says the play time', () => {
    const head = wavHeader(2, 8000, 64_000);
    expect(parseWavHeader(head)).toEqual({ channels: 2, rate: 8000, bitsPerSample: 16, dataOffset: 44, dataBytes: 64_000 });
    expect(wavDurationMs(parseWavHeader(head)!, 44 + 64_000)).toBe(2000);
  });

  it('a chunk before data is stepped over; a file shorter than its header says plays what it holds', () => {
    const list = Buffer.alloc(8 + 26);
    list.write('LIST', 0, 'ascii');
    list.writeUInt32LE(26, 4);
    const f = parseWavHeader(wavHeader(1, 8000, 16_000, [list]))!;
    expect(f).toMatchObject({ channels: 1, dataOffset: 44 + 34, dataBytes: 16_000 });
    expect(wavDurationMs(f, 78 + 16_000)).toBe(1000);
    expect(wavDurationMs(f, 78 + 8_000)).toBe(500);
  });

  it('while Asterisk records, the header says no data; not a WAV: null', () => {
    expect(parseWavHeader(wavHeader(1, 8000, 0))!.dataBytes).toBe(0);
    expect(parseWavHeader(Buffer.from('ID3 not a wav file at all, no'))).toBeNull();
    expect(parseWavHeader(wavHeader(2, 8000, 10).subarray(0, 30))).toBeNull();
  });
});

describe('MP3 frames', () => {
  it('frames x 576 samples at 8 kHz, however the bytes come in chunks', () => {
    const mp3 = frames8k(100);
    expect(lengthOf(mp3)).toBe(7200);
    for (const chunk of [1, 3, 7, 287, 289, 1000]) expect(lengthOf(mp3, chunk)).toBe(7200);
  });

  it('a frame cut short at the end is not counted; bytes that are not a frame end the count', () => {
    expect(lengthOf(frames8k(100).subarray(0, 288 * 99 + 100))).toBe(99 * 72);
    const broken = Buffer.concat([frames8k(10), Buffer.alloc(288), frames8k(10)]);
    expect(lengthOf(broken, 100)).toBe(720);
    expect(lengthOf(Buffer.alloc(1000))).toBe(0);
    expect(lengthOf(Buffer.alloc(0))).toBe(0);
  });

  it('an ID3v2 tag in front and an ID3v1 tag at the end are not audio', () => {
    const id3v2 = Buffer.alloc(10 + 300);
    id3v2.write('ID3', 0, 'ascii');
    id3v2[8] = 2; // syncsafe size 2 * 128 + 44 = 300
    id3v2[9] = 44;
    const id3v1 = Buffer.alloc(128);
    id3v1.write('TAG', 0, 'ascii');
    const file = Buffer.concat([id3v2, frames8k(50), id3v1]);
    expect(lengthOf(file)).toBe(3600);
    expect(lengthOf(file, 5)).toBe(3600);
  });

  it('MPEG 1 layer III: 1152 samples a frame, its length with the padding bit', () => {
    const plain = Buffer.alloc(417);
    Buffer.from([0xff, 0xfb, 0x90, 0x64]).copy(plain); // 128 kbit/s, 44.1 kHz: 417 bytes
    const padded = Buffer.alloc(418);
    Buffer.from([0xff, 0xfb, 0x92, 0x64]).copy(padded); // the same with padding: 418
    expect(lengthOf(Buffer.concat([plain, padded, plain]))).toBe(Math.round((3 * 1152 * 1000) / 44100));
  });
});
