/**
 * What the rate-stepping benches read back from SIPp (bench/capacity.ts, bench/capacity-full.ts):
 * its RTD samples (-trace_rtt), its final statistics line (-trace_stat), and wall-clock stamps the
 * scenarios log (-trace_logs), plus the quantile they are summed up with.
 */
import { readFile, readdir } from 'node:fs/promises';
import path from 'node:path';

/** The p-quantile (0-1) of an ascending list; NaN when it is empty. */
export const quantile = (sorted: number[], p: number): number => sorted[Math.min(sorted.length - 1, Math.floor(p * sorted.length))] ?? NaN;

/** SIPp's RTD samples in `dir`, ascending: rtd 1 = INVITE -> 200 (answered), rtd 2 = INVITE -> 503 (refused). */
export async function readRtts(dir: string): Promise<{ answered: number[]; refused: number[] }> {
  const file = (await readdir(dir)).find((f) => f.endsWith('_rtt.csv'));
  const out = { answered: [] as number[], refused: [] as number[] };
  if (!file) return out;
  for (const line of (await readFile(path.join(dir, file), 'utf8')).trim().split('\n').slice(1)) {
    const [, ms, rtd] = line.split(';');
    (rtd?.trim() === '2' ? out.refused : out.answered).push(Number(ms));
  }
  out.answered.sort((a, b) => a - b);
  out.refused.sort((a, b) => a - b);
  return out;
}

/** SIPp's final statistics line (-trace_stat): calls it counted failed. */
export async function readFailed(file: string): Promise<number> {
  const lines = (await readFile(file, 'utf8').catch(() => '')).trim().split('\n');
  const head = (lines[0] ?? '').split(';');
  const last = (lines.at(-1) ?? '').split(';');
  return Number(last[head.indexOf('FailedCall(C)')] ?? NaN);
}

/** "<word> <number> <seconds> <microseconds>" lines of a SIPp log (gettimeofday): number -> epoch ms. */
export async function stamps(file: string, word: string): Promise<Map<string, number>> {
  const text = await readFile(file, 'utf8').catch(() => '');
  const out = new Map<string, number>();
  for (const m of text.matchAll(new RegExp(`^${word} (\\S+) ([0-9.]+) ([0-9.]+)\\s*$`, 'gm'))) out.set(m[1]!, Number(m[2]) * 1000 + Number(m[3]) / 1000);
  return out;
}
