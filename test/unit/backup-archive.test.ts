/**
 * The backup archive's pure parts: the tar renaming of a folder, overlapping folders, the
 * manifest check, what makes a database a site, the count comparison and the progress lines.
 */
import { describe, expect, it } from 'vitest';
import {
  BackupError, ProgressMeter, compareCounts, countLines, formatBytes, overlappingFolders, parseManifest, siteTablesWithRows, tarRestoreTransform, tarTransform,
} from '../../src/backup/archive.js';

const manifest = {
  format: 'pbx-backup/1',
  version: '0.1.0',
  createdAt: '2026-12-06T10:00:00.000Z',
  host: 'pbx1',
  database: { name: 'pbx', migration: '2026-12-08T09-30-00_handset_screen_pop', serverVersion: '15.20', file: 'database.pgdump', dumpFormat: 'custom', bytes: 1000, counts: { cdrs: 3, extensions: 2 } },
  folders: {
    recordings: { from: '/var/lib/pbx/recordings', present: true, files: 1, bytes: 10 },
    voicemail: { from: '/var/lib/pbx/voicemail', present: false, files: 0, bytes: 0 },
    prompts: { from: '/var/lib/pbx/prompts', present: true, files: 2, bytes: 20 },
  },
  env: { file: 'pbx.env', from: '/etc/pbx/pbx.env', secret: true },
};

describe('tarTransform', () => {
  it('renames the folder and what is under it, nothing that only starts with its name', () => {
    expect(tarTransform('/var/lib/pbx/recordings/', 'recordings')).toBe('s\u0001^var/lib/pbx/recordings\\(/.*\\)\\{0,1\\}$\u0001files/recordings\\1\u0001S');
  });

  it('escapes what a basic regular expression would read; the delimiter is a control character no path has', () => {
    expect(tarTransform('/srv/a.b[1]*|x$,y', 'prompts')).toBe('s\u0001^srv/a\\.b\\[1\\]\\*|x\\$,y\\(/.*\\)\\{0,1\\}$\u0001files/prompts\\1\u0001S');
    expect(() => tarTransform('/srv/a\u0001b', 'prompts')).toThrow(BackupError);
  });
});

describe('tarRestoreTransform', () => {
  it('renames files/<name> to this machine\'s folder from the root, escaping what a replacement would read', () => {
    expect(tarRestoreTransform('voicemail', '/srv/pbx&co/vm\\x/')).toBe('s\u0001^files/voicemail\\(/.*\\)\\{0,1\\}$\u0001srv/pbx\\&co/vm\\\\x\\1\u0001S');
  });
});

describe('overlappingFolders', () => {
  it('names a folder inside another; siblings sharing a name prefix are fine', () => {
    expect(overlappingFolders([{ name: 'recordings', dir: '/var/lib/pbx/rec' }, { name: 'voicemail', dir: '/var/lib/pbx/recx' }])).toBeNull();
    expect(overlappingFolders([{ name: 'voicemail', dir: '/var/lib/pbx/' }, { name: 'recordings', dir: '/var/lib/pbx/recordings' }]))
      .toBe('the recordings folder /var/lib/pbx/recordings/ is inside the voicemail folder /var/lib/pbx/');
  });
});

describe('parseManifest', () => {
  it('takes a manifest pbx backup writes', () => {
    expect(parseManifest(JSON.stringify(manifest))).toEqual(manifest);
  });

  it.each([
    ['not JSON', 'PK\u0003\u0004', /not JSON/],
    ['another format', JSON.stringify({ ...manifest, format: 'other/1' }), /not a pbx backup/],
    ['a negative count', JSON.stringify({ ...manifest, database: { ...manifest.database, counts: { cdrs: -1 } } }), /database section/],
    ['a folder missing', JSON.stringify({ ...manifest, folders: { recordings: manifest.folders.recordings } }), /folders section/],
    ['an env section without its file', JSON.stringify({ ...manifest, env: { secret: true } }), /env section/],
  ])('refuses %s', (_what, text, message) => {
    expect(() => parseManifest(text)).toThrow(BackupError);
    expect(() => parseManifest(text)).toThrow(message);
  });
});

describe('counts', () => {
  it('a database is a site when a site table holds rows; seeded tables do not count', () => {
    expect(siteTablesWithRows({ pause_reasons: 6, emergency_numbers: 2, extensions: 0 })).toEqual([]);
    expect(siteTablesWithRows({ pause_reasons: 6, extensions: 2, cdrs: 10 })).toEqual(['extensions', 'cdrs']);
  });

  it('compares both sides, tables new or gone included, and says whether all match', () => {
    const rows = compareCounts({ cdrs: 3, extensions: 2, old_table: 1 }, { cdrs: 3, extensions: 1, campaigns: 0 });
    expect(rows).toEqual([
      { table: 'campaigns', backup: null, now: 0 },
      { table: 'cdrs', backup: 3, now: 3 },
      { table: 'extensions', backup: 2, now: 1 },
      { table: 'old_table', backup: 1, now: null },
    ]);
    const lines = countLines(rows);
    expect(lines).toContain('extensions          2          1  DIFFERS');
    expect(lines).toContain('campaigns           -          0  (new table)');
    expect(lines.at(-1)).toBe('counts: 1 table(s) differ from the backup (a migration may move rows; see above)');
    expect(countLines(compareCounts({ cdrs: 3, queues: 0 }, { cdrs: 3, queues: 0 }))).toEqual([
      'table     backup        now',
      'cdrs           3          3',
      'counts: every table as in the backup (2 tables)',
    ]);
  });
});

describe('progress', () => {
  it('prints at most every interval, never 100 % before the end', () => {
    const meter = new ProgressMeter(1000, 5_000, 0);
    expect(meter.update(100, 1_000)).toBeNull();
    expect(meter.update(500, 5_000)).toBe('50% (500 B of about 1000 B)');
    expect(meter.update(600, 9_999)).toBeNull();
    expect(meter.update(1200, 10_000)).toBe('99% (1.2 KB of about 1000 B)');
  });

  it('formats sizes', () => {
    expect([formatBytes(0), formatBytes(1536), formatBytes(5 * 1024 ** 3)]).toEqual(['0 B', '1.5 KB', '5.0 GB']);
  });
});
