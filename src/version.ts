import { readFileSync } from 'node:fs';
import path from 'node:path';
import { ROOT } from './paths.js';

/** package.json version, read once at start. */
export const VERSION = (JSON.parse(readFileSync(path.join(ROOT, 'package.json'), 'utf8')) as { version: string }).version;
