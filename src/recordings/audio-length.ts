/**
 * Play time of the recordings' own files, read in the daemon instead of by a `sox --i` run each
 * (pure: bytes in, numbers out). A process start of sox costs ~1.5 ms of CPU, and a recording was
 * asked its length three times (the merged WAV twice, the MP3 once: 4 ms, it scans the frames),
 * about a third of the sox CPU of a short call (docs/benchmarks.md#cpu-per-recording-the-sox-work).
 * - WAV: the RIFF header (what sox and Asterisk write: PCM, a `fmt ` and a `data` chunk).
 * - MP3: the frames counted one by one (MPEG 1, 2 and 2.5 layer III, as LAME writes them; an ID3v2
 *   tag in front and an ID3v1 tag at the end are skipped). A frame cut short at the end is not
 *   counted, and anything that is not a frame ends the count: a cut or broken encode comes out short.
 */

export interface WavFormat {
  readonly channels: number;
  readonly rate: number;
  readonly bitsPerSample: number;
  /** Where the samples start, and how many bytes of them the header says there are. */
  readonly dataOffset: number;
  readonly dataBytes: number;
}

/** The format and data chunk of a WAV file from its first bytes (a few hundred are plenty); null when it is not one. */
export function parseWavHeader(head: Buffer): WavFormat | null {
  if (head.length < 12 || head.toString('ascii', 0, 4) !== 'RIFF' || head.toString('ascii', 8, 12) !== 'WAVE') return null;
  let fmt: { channels: number; rate: number; bitsPerSample: number } | null = null;
  for (let at = 12; at + 8 <= head.length;) {
    const id = head.toString('ascii', at, at + 4);
    const size = head.readUInt32LE(at + 4);
    if (id === 'fmt ' && at + 24 <= head.length) {
      fmt = { channels: head.readUInt16LE(at + 10), rate: head.readUInt32LE(at + 12), bitsPerSample: head.readUInt16LE(at + 22) };
    } else if (id === 'data') {
      return fmt && fmt.channels > 0 && fmt.rate > 0 && fmt.bitsPerSample > 0 ? { ...fmt, dataOffset: at + 8, dataBytes: size } : null;
    }
    at += 8 + size + (size % 2);
  }
  return null;
}

/** Play time in ms of a WAV file of `fileBytes` bytes: its header's data size, or what the file holds if that is less (cut short). */
export function wavDurationMs(f: WavFormat, fileBytes: number): number {
  const bytes = Math.min(f.dataBytes, Math.max(0, fileBytes - f.dataOffset));
  const frames = Math.floor(bytes / (f.channels * Math.ceil(f.bitsPerSample / 8)));
  return Math.round((frames * 1000) / f.rate);
}

// Layer III tables, by MPEG version (bits 19-20 of the header: 0 = 2.5, 2 = 2, 3 = 1).
const KBPS_V1 = [0, 32, 40, 48, 56, 64, 80, 96, 112, 128, 160, 192, 224, 256, 320, 0];
const KBPS_V2 = [0, 8, 16, 24, 32, 40, 48, 56, 64, 80, 96, 112, 128, 144, 160, 0];
const RATES: Record<number, readonly number[]> = { 3: [44100, 48000, 32000], 2: [22050, 24000, 16000], 0: [11025, 12000, 8000] };

/** One layer III frame header at `at`: its length in bytes, samples and rate; null when the bytes there are not one. */
function frameAt(buf: Buffer, at: number): { bytes: number; samples: number; rate: number } | null {
  if (at + 4 > buf.length || buf[at] !== 0xff || (buf[at + 1]! & 0xe0) !== 0xe0) return null;
  const version = (buf[at + 1]! >> 3) & 3;
  const layer = (buf[at + 1]! >> 1) & 3;
  const rate = RATES[version]?.[(buf[at + 2]! >> 2) & 3];
  const kbps = (version === 3 ? KBPS_V1 : KBPS_V2)[buf[at + 2]! >> 4]!;
  if (layer !== 1 || rate === undefined || kbps === 0) return null;
  const padding = (buf[at + 2]! >> 1) & 1;
  const samples = version === 3 ? 1152 : 576;
  return { bytes: Math.floor(((samples / 8) * kbps * 1000) / rate) + padding, samples, rate };
}

/**
 * Play time of an MP3 stream, counted frame by frame as its bytes come (push each chunk, then read
 * `ms`): the file is read once, with its sha256, and never held whole.
 */
export class Mp3Length {
  private tail: Buffer = Buffer.alloc(0);
  private skip = 0;
  private started = false;
  private stopped = false;
  private samples = 0;
  private rate = 0;

  push(chunk: Buffer): void {
    if (this.stopped) return;
    let buf = this.tail.length > 0 ? Buffer.concat([this.tail, chunk]) : chunk;
    if (!this.started) {
      if (buf.length < 10) {
        this.tail = buf;
        return;
      }
      this.started = true;
      if (buf.toString('ascii', 0, 3) === 'ID3') this.skip = 10 + (((buf[6]! & 0x7f) << 21) | ((buf[7]! & 0x7f) << 14) | ((buf[8]! & 0x7f) << 7) | (buf[9]! & 0x7f));
    }
    const skipped = Math.min(this.skip, buf.length);
    this.skip -= skipped;
    buf = buf.subarray(skipped);
    let at = 0;
    for (;;) {
      if (at + 4 > buf.length) break;
      const frame = frameAt(buf, at);
      if (!frame || (this.rate !== 0 && frame.rate !== this.rate)) {
        this.stopped = true; // not a frame: the count ends here (an ID3v1 tag, or a broken file)
        break;
      }
      if (at + frame.bytes > buf.length) break; // the rest of it comes with the next chunk (or never: cut short)
      this.samples += frame.samples;
      this.rate = frame.rate;
      at += frame.bytes;
    }
    this.tail = Buffer.from(buf.subarray(at));
  }

  /** Play time in ms of the whole frames so far (0 when none). */
  get ms(): number {
    return this.rate === 0 ? 0 : Math.round((this.samples * 1000) / this.rate);
  }
}
