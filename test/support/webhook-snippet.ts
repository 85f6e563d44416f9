/**
 * The receiver's verification snippet of docs/webhooks.md (the ```js receiver-verify block), loaded
 * as a module as a receiver would paste it: the tests run the documented code, not a copy.
 */
import { mkdtemp, readFile, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { pathToFileURL } from 'node:url';

export type Verify = (secret: string, header: string | undefined, rawBody: string, toleranceSeconds?: number) => boolean;

export async function documentedVerifier(): Promise<Verify> {
  const doc = await readFile(path.join(import.meta.dirname, '../../docs/webhooks.md'), 'utf8');
  const m = /```js receiver-verify\n([\s\S]*?)```/.exec(doc);
  if (!m) throw new Error('docs/webhooks.md has no ```js receiver-verify block');
  const file = path.join(await mkdtemp(path.join(tmpdir(), 'pbx-webhook-snippet-')), 'verify.mjs');
  await writeFile(file, m[1]!);
  const mod = (await import(pathToFileURL(file).href)) as { verifyPbxSignature: Verify };
  return mod.verifyPbxSignature;
}
