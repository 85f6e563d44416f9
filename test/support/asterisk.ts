import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import path from 'node:path';

const run = promisify(execFile);
export const REPO = path.resolve(import.meta.dirname, '../..');

/** Drive deploy/asterisk-instance.sh, the same script `make run` uses. */
export async function asteriskInstance(
  command: 'start' | 'stop' | 'restart' | 'status' | 'path' | 'rx' | 'env',
  env: Record<string, string>,
  arg?: string,
): Promise<string> {
  const { stdout } = await run('bash', [path.join(REPO, 'deploy/asterisk-instance.sh'), command, ...(arg ? [arg] : [])], {
    env: { ...process.env, ...env },
    timeout: 120_000,
  });
  return stdout;
}
