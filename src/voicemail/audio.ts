/**
 * Pure facts about recorded audio: how long a WAV file plays, and whether a message is worth
 * keeping. Asterisk's `wav` format is 8 kHz, 16-bit, mono PCM.
 */

/** Shorter than this is a hang-up at the beep, not a message. */
export const MIN_MESSAGE_MS = 500;

/** Play time of a RIFF/WAVE buffer in ms, from its fmt and data chunks; null if it is not one. */
export function wavDurationMs(buf: Buffer): number | null {
  if (buf.length < 12 || buf.toString('ascii', 0, 4) !== 'RIFF' || buf.toString('ascii', 8, 12) !== 'WAVE') return null;
  let byteRate: number | null = null;
  let offset = 12;
  while (offset + 8 <= buf.length) {
    const id = buf.toString('ascii', offset, offset + 4);
    const size = buf.readUInt32LE(offset + 4);
    const body = offset + 8;
    if (id === 'fmt ' && body + 12 <= buf.length) byteRate = buf.readUInt32LE(body + 8);
    if (id === 'data') {
      if (!byteRate) return null;
      // A file cut short (or a header not yet updated) counts what is really there.
      const bytes = Math.min(size, buf.length - body);
      return Math.floor((bytes * 1000) / byteRate);
    }
    offset = body + size + (size % 2);
  }
  return null;
}

export function isKeepableMessage(durationMs: number | null): durationMs is number {
  return durationMs !== null && durationMs >= MIN_MESSAGE_MS;
}

/** A WAV buffer of `ms` milliseconds of 8 kHz 16-bit mono silence (tests, fixtures). */
export function silentWav(ms: number): Buffer {
  const data = Math.floor((ms * 16_000) / 1000);
  const buf = Buffer.alloc(44 + data);
  buf.write('RIFF', 0, 'ascii');
  buf.writeUInt32LE(36 + data, 4);
  buf.write('WAVE', 8, 'ascii');
  buf.write('fmt ', 12, 'ascii');
  buf.writeUInt32LE(16, 16);
  buf.writeUInt16LE(1, 20); // PCM
  buf.writeUInt16LE(1, 22); // mono
  buf.writeUInt32LE(8000, 24);
  buf.writeUInt32LE(16_000, 28);
  buf.writeUInt16LE(2, 32);
  buf.writeUInt16LE(16, 34);
  buf.write('data', 36, 'ascii');
  buf.writeUInt32LE(data, 40);
  return buf;
}
