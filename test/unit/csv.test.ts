import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { Writable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { csvDocument, csvField, csvReadable, csvRow } from '../../src/shared/csv.js';

/** A minimal RFC 4180 reader (test oracle): rows of fields, CRLF row ends, quoted fields. */
function parseCsv(text: string): string[][] {
  const rows: string[][] = [];
  let row: string[] = [];
  let field = '';
  let i = 0;
  let quoted = false;
  while (i < text.length) {
    const c = text[i]!;
    if (quoted) {
      if (c === '"' && text[i + 1] === '"') { field += '"'; i += 2; continue; }
      if (c === '"') { quoted = false; i++; continue; }
      field += c; i++; continue;
    }
    if (c === '"') { quoted = true; i++; continue; }
    if (c === ',') { row.push(field); field = ''; i++; continue; }
    if (c === '\r' && text[i + 1] === '\n') { row.push(field); rows.push(row); row = []; field = ''; i += 2; continue; }
    field += c; i++;
  }
  if (field !== '' || row.length > 0) throw new Error(`unterminated row: ${JSON.stringify(text.slice(-40))}`);
  return rows;
}

describe('csvField', () => {
  it('leaves plain text alone and quotes a comma, a quote, CR and LF', () => {
    expect(csvField('abc')).toBe('abc');
    expect(csvField('a,b')).toBe('"a,b"');
    expect(csvField('say "hi"')).toBe('"say ""hi"""');
    expect(csvField('a\nb')).toBe('"a\nb"');
    expect(csvField('a\r\nb')).toBe('"a\r\nb"');
    expect(csvField('')).toBe('');
  });

  it('writes null/undefined empty, numbers, bigints, booleans as printed, dates as ISO UTC', () => {
    expect(csvField(null)).toBe('');
    expect(csvField(undefined)).toBe('');
    expect(csvField(42)).toBe('42');
    expect(csvField(-3.5)).toBe('-3.5');
    expect(csvField(12345678901234567890n)).toBe('12345678901234567890');
    expect(csvField(true)).toBe('true');
    expect(csvField(new Date('2026-12-08T07:00:00.000Z'))).toBe('2026-12-08T07:00:00.000Z');
  });

  it('guards text that a spreadsheet would run as a formula with a leading apostrophe', () => {
    expect(csvField('=HYPERLINK("http://x","y")')).toBe(`"'=HYPERLINK(""http://x"",""y"")"`);
    expect(csvField('+4930123')).toBe("'+4930123");
    expect(csvField('-1+1')).toBe("'-1+1");
    expect(csvField('@SUM(A1)')).toBe("'@SUM(A1)");
    expect(csvField('\t=1')).toBe("'\t=1");
    expect(csvField('\r=1')).toBe(`"'\r=1"`);
    // only at the start, and typed numbers are never guarded
    expect(csvField('a=b')).toBe('a=b');
    expect(csvField(-3)).toBe('-3');
    expect(csvField("'quoted")).toBe("'quoted");
  });
});

describe('csvRow and csvDocument', () => {
  it('joins with commas and ends rows in CRLF, header first', () => {
    expect(csvRow(['a', 1, null, 'x,y'])).toBe('a,1,,"x,y"\r\n');
    expect(csvDocument(['h1', 'h2'], [['1', '2'], ['3', '4']])).toBe('h1,h2\r\n1,2\r\n3,4\r\n');
    expect(csvDocument(['only'], [])).toBe('only\r\n');
  });

  it('round-trips any text through an RFC 4180 reader (apostrophe added exactly where guarded)', () => {
    fc.assert(
      fc.property(fc.array(fc.array(fc.string({ unit: 'binary' }), { minLength: 1, maxLength: 6 }), { maxLength: 10 }), (rows) => {
        const header = rows[0]?.map((_, i) => `c${i}`) ?? ['c0'];
        const width = header.length;
        const fixed = rows.map((r) => Array.from({ length: width }, (_, i) => r[i] ?? ''));
        const back = parseCsv(csvDocument(header, fixed));
        expect(back[0]).toEqual(header);
        expect(back.slice(1)).toEqual(fixed.map((r) => r.map((v) => (/^[=+\-@\t\r]/.test(v) ? `'${v}` : v))));
      }),
    );
  }, 60_000);
});

async function collect(stream: NodeJS.ReadableStream): Promise<string> {
  let text = '';
  await pipeline(stream, new Writable({ write(chunk: Buffer, _e, done) { text += chunk.toString('utf8'); done(); } }));
  return text;
}

describe('csvReadable', () => {
  it('streams the header and every row, in chunks, as UTF-8 bytes', async () => {
    async function* rows() {
      for (let i = 0; i < 5000; i++) yield [i, `name ${i}`, 'Müller, "Jr"'];
    }
    const text = await collect(csvReadable(['n', 'name', 'who'], rows(), { chunkChars: 1000 }));
    const parsed = parseCsv(text);
    expect(parsed).toHaveLength(5001);
    expect(parsed[0]).toEqual(['n', 'name', 'who']);
    expect(parsed[4321]).toEqual(['4320', 'name 4320', 'Müller, "Jr"']);
  });

  it('writes only the header when there are no rows', async () => {
    async function* none(): AsyncGenerator<string[]> {}
    expect(await collect(csvReadable(['a', 'b'], none()))).toBe('a,b\r\n');
  });

  it('pulls rows only as the reader takes them, and destroying the stream ends the source', async () => {
    let produced = 0;
    let closed = false;
    async function* rows() {
      try {
        for (let i = 0; i < 1_000_000; i++) {
          produced++;
          yield [i, 'x'.repeat(100)];
        }
      } finally {
        closed = true;
      }
    }
    const stream = csvReadable(['n', 'x'], rows(), { chunkChars: 1024 });
    const first = await new Promise<Buffer>((resolve) => stream.once('data', resolve));
    stream.pause();
    expect(first.toString('utf8').startsWith('n,x\r\n')).toBe(true);
    // paused: the source is not drained (a few chunks of read-ahead at most)
    await new Promise((r) => setImmediate(r));
    expect(produced).toBeLessThan(2000);
    stream.destroy();
    await new Promise((r) => stream.once('close', r));
    await expect.poll(() => closed).toBe(true);
    expect(produced).toBeLessThan(2000);
  });

  it('an error from the source errors the stream', async () => {
    async function* rows() {
      yield ['1'];
      throw new Error('cursor failed');
    }
    await expect(collect(csvReadable(['a'], rows()))).rejects.toThrow('cursor failed');
  });
});
