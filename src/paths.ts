import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

/** The install's root folder (holding package.json), from src/ or from the compiled dist/src/. */
function findRoot(): string {
  let dir = path.dirname(fileURLToPath(import.meta.url));
  for (let i = 0; i < 4; i++) {
    const pkg = path.join(dir, 'package.json');
    if (existsSync(pkg) && (JSON.parse(readFileSync(pkg, 'utf8')) as { name?: string }).name === 'pbx') return dir;
    dir = path.dirname(dir);
  }
  throw new Error('cannot find the pbx install folder (package.json)');
}

export const ROOT = findRoot();
