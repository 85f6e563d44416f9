/**
 * The docs say what the code does: every setting the daemon reads is in docs/operations.md, every
 * error code the API can return is in docs/api.md, and every relative link in README.md and docs/
 * leads to a file (and heading) that exists.
 */
import { describe, expect, it } from 'vitest';
import { existsSync, readFileSync, readdirSync } from 'node:fs';
import path from 'node:path';
import { CONFIG_VARIABLES } from '../../src/config.js';

const ROOT = path.resolve(import.meta.dirname, '../..');
const read = (file: string): string => readFileSync(path.join(ROOT, file), 'utf8');
const pages = ['README.md', ...readdirSync(path.join(ROOT, 'docs')).filter((f) => f.endsWith('.md')).map((f) => `docs/${f}`)];

/** The codes of the ErrorCode union in src/errors.ts. */
function errorCodes(): string[] {
  const source = read('src/errors.ts');
  const start = source.indexOf('export type ErrorCode =');
  const union = source.slice(start, source.indexOf(';', start));
  return [...union.matchAll(/\|\s*'([a-z0-9-]+)'/g)].map((m) => m[1]!);
}

/** GitHub-style anchor of a heading. */
const anchor = (heading: string): string =>
  heading.trim().toLowerCase().replace(/[^\p{L}\p{N}\s_-]/gu, '').replace(/\s/g, '-');

describe('docs match the code', () => {
  it('docs/operations.md lists every setting', () => {
    const ops = read('docs/operations.md');
    const missing = CONFIG_VARIABLES.map((v) => v.name).filter((name) => !ops.includes(name));
    expect(missing).toEqual([]);
  });

  it('docs/api.md lists every error code', () => {
    const codes = errorCodes();
    expect(codes.length).toBeGreaterThan(20);
    const api = read('docs/api.md');
    expect(codes.filter((code) => !api.includes(`\`${code}\``))).toEqual([]);
  });

  it('every relative link in README.md and docs/ resolves, anchors included', () => {
    const broken: string[] = [];
    for (const page of pages) {
      for (const [, target] of read(page).matchAll(/\]\(([^)\s]+)\)/g)) {
        if (/^[a-z]+:/i.test(target!)) continue;
        const [file, hash] = target!.split('#');
        const resolved = file ? path.join(path.dirname(page), file) : page;
        if (!existsSync(path.join(ROOT, resolved))) {
          broken.push(`${page}: ${target}`);
          continue;
        }
        if (hash && resolved.endsWith('.md')) {
          const headings = [...read(resolved).matchAll(/^#+\s+(.+)$/gm)].map((m) => anchor(m[1]!));
          if (!headings.includes(hash)) broken.push(`${page}: ${target} (no such heading)`);
        }
      }
    }
    expect(broken).toEqual([]);
  });
});
