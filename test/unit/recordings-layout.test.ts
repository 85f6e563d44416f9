/** Recording file layout and HTTP Range parsing (pure). */
import { describe, expect, it } from 'vitest';
import { idOfFile, incomingId, recordingPath, resolveInside, safeCallId, withExtension } from '../../src/recordings/layout.js';
import { parseRange } from '../../src/recordings/range.js';

const ID = '0b0e4d2c-5f7a-4c1e-9a3b-2d6f8e1c4a7b';

describe('layout', () => {
  it('YYYY/MM/DD (UTC) / <call id>-<id>.<ext>', () => {
    expect(recordingPath(new Date('2026-01-02T23:59:59.999Z'), '1733400000.42', ID, 'wav')).toBe(`2026/01/02/1733400000.42-${ID}.wav`);
    expect(recordingPath(new Date('2026-12-31T00:00:00+02:00'), 'a/b c', ID, 'wav')).toBe(`2026/12/30/a_b_c-${ID}.wav`);
  });

  it('a call id is made safe for a file name', () => {
    expect(safeCallId('../../etc/passwd')).toBe('.._.._etc_passwd');
    expect(safeCallId('')).toBe('call');
  });

  it('the compressed file sits beside the original', () => {
    expect(withExtension(`2026/01/02/c-${ID}.wav`, 'mp3')).toBe(`2026/01/02/c-${ID}.mp3`);
    expect(withExtension(`2026/01/02/c-${ID}.wav`, 'part.mp3')).toBe(`2026/01/02/c-${ID}.part.mp3`);
  });

  it('the id a file name carries, the compression\'s partial file too; none for other files', () => {
    expect(idOfFile(`2026/01/02/17334.1-${ID}.mp3`)).toBe(ID);
    expect(idOfFile(`2026/01/02/17334.1-${ID}.part.mp3`)).toBe(ID);
    expect(idOfFile('2026/01/02/notes.txt')).toBeNull();
    expect(idOfFile(`x-${ID}`)).toBeNull();
  });

  it('the directions of a call in progress in incoming/', () => {
    expect(incomingId(`incoming/${ID}-rx.wav`)).toBe(ID);
    expect(incomingId(`incoming/${ID}-tx.wav`)).toBe(ID);
    expect(incomingId(`incoming/${ID}-xx.wav`)).toBeNull();
    expect(incomingId(`2026/01/02/${ID}-rx.wav`)).toBeNull();
  });

  it('a stored path never leaves the folder', () => {
    expect(resolveInside('/r', '2026/01/02/a.wav')).toBe('/r/2026/01/02/a.wav');
    expect(() => resolveInside('/r', '../x.wav')).toThrow(/outside/);
    expect(() => resolveInside('/r', '/etc/passwd')).toThrow(/outside/);
    expect(() => resolveInside('/r', '2026/../../x')).toThrow(/outside/);
  });
});

describe('Range', () => {
  it.each([
    [undefined, { kind: 'full' }],
    ['bytes=0-99', { kind: 'partial', start: 0, end: 99 }],
    ['bytes=100-', { kind: 'partial', start: 100, end: 999 }],
    ['bytes=900-5000', { kind: 'partial', start: 900, end: 999 }],
    ['bytes=-10', { kind: 'partial', start: 990, end: 999 }],
    ['bytes=-5000', { kind: 'partial', start: 0, end: 999 }],
    ['bytes=999-999', { kind: 'partial', start: 999, end: 999 }],
    ['bytes=1000-', { kind: 'unsatisfiable' }],
    ['bytes=-0', { kind: 'unsatisfiable' }],
    ['bytes=0-9,20-29', { kind: 'full' }],
    ['bytes=9-0', { kind: 'full' }],
    ['items=0-9', { kind: 'full' }],
    ['bytes=x', { kind: 'full' }],
  ])('%s of 1000 bytes', (header, want) => {
    expect(parseRange(header, 1000)).toEqual(want);
  });
});
