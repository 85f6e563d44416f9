/**
 * Runs before each e2e file in its worker: with several worlds (PBX_E2E_WORKERS, see global-setup.ts)
 * the file's `inject('e2e')` becomes the world of its worker, so two files running at once never share
 * an Asterisk, a database or a daemon port. With one world it changes nothing.
 */
import { inject } from 'vitest';

const worlds = inject('e2eWorlds');
const worker = Number(process.env['VITEST_POOL_ID'] ?? '1');
const mine = worlds[worker - 1];
if (!mine) throw new Error(`e2e worker ${worker} has no world of its own: run with PBX_E2E_WORKERS=${worker} (or more), or --no-file-parallelism`);
if (worker > 1) Object.assign(inject('e2e'), mine);
