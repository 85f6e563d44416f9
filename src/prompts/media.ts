/**
 * Audio tools for prompts: sox (probe, convert, level) and espeak-ng (text-to-speech). They are
 * always run with execFile (never a shell), a timeout and a working folder; their output is read by
 * the pure parsers below (unit-tested). Asterisk plays <id>.wav (8 kHz, 16-bit mono PCM WAV) or
 * <id>.sln16 (16 kHz signed-linear raw), whichever suits the channel, from `sound:<dir>/<id>`.
 */
import { execFile, type ExecFileException } from 'node:child_process';
import { createHash } from 'node:crypto';
import { setPriority } from 'node:os';

/** Upload content types and the sox input format each is read as. */
export const UPLOAD_CONTENT_TYPES = ['audio/wav', 'audio/x-wav', 'audio/mpeg'] as const;
export type UploadFormat = 'wav' | 'mp3';

/** The format of an upload from its Content-Type (parameters ignored); null when not one we take. */
export function uploadFormat(contentType: string | undefined): UploadFormat | null {
  const base = contentType?.split(';')[0]?.trim().toLowerCase();
  if (base === 'audio/wav' || base === 'audio/x-wav') return 'wav';
  if (base === 'audio/mpeg') return 'mp3';
  return null;
}

/** Where Asterisk finds a prompt (no extension: it picks .wav or .sln16 for the channel). */
export function promptMediaUri(asteriskDir: string, id: string): string {
  return `sound:${asteriskDir.replace(/\/+$/, '')}/${id}`;
}

/** Cache key of a text-to-speech prompt: the same text, language and voice render the same audio. */
export function ttsKey(text: string, language: string, voice: string | null): string {
  return createHash('sha256').update(JSON.stringify(['espeak-ng', text, language, voice ?? ''])).digest('hex');
}

export const sha256Hex = (buf: Buffer): string => createHash('sha256').update(buf).digest('hex');

/** Play time of 16 kHz, 16-bit mono raw audio. */
export const sln16DurationMs = (bytes: number): number => Math.floor(bytes / 32);

// ---------------------------------------------------------------------------------- running tools

export type ToolFailure = 'missing' | 'timeout' | 'failed';

export class ToolError extends Error {
  constructor(
    readonly tool: string,
    readonly failure: ToolFailure,
    readonly stderr: string,
    message: string,
  ) {
    super(message);
    this.name = 'ToolError';
  }
}

export interface ToolOutput {
  readonly stdout: string;
  readonly stderr: string;
}

/**
 * Run a program without a shell; ToolError says whether it is missing, timed out or failed.
 * `niceness`: the run's CPU priority is lowered to it as soon as it has started (work that can wait).
 */
export function runTool(tool: string, args: readonly string[], opts: { cwd?: string; timeoutMs: number; niceness?: number }): Promise<ToolOutput> {
  return new Promise((resolve, reject) => {
    const child = execFile(
      tool,
      args,
      { cwd: opts.cwd, timeout: opts.timeoutMs, killSignal: 'SIGKILL', maxBuffer: 4 * 1024 * 1024, encoding: 'utf8', windowsHide: true },
      (err: ExecFileException | null, stdout: string, stderr: string) => {
        if (!err) return resolve({ stdout, stderr });
        if (err.code === 'ENOENT') return reject(new ToolError(tool, 'missing', '', `${tool} is not installed (deploy/install.sh installs it)`));
        if (err.killed) return reject(new ToolError(tool, 'timeout', stderr, `${tool} did not finish within ${opts.timeoutMs} ms`));
        return reject(new ToolError(tool, 'failed', stderr, `${tool} failed: ${failLine(stderr) || `exit ${String(err.code)}`}`));
      },
    );
    if (opts.niceness !== undefined && child.pid !== undefined) {
      try {
        setPriority(child.pid, opts.niceness);
      } catch {
        // already gone: it ran at the daemon's priority
      }
    }
  });
}

/** The line that says why sox/soxi/espeak-ng failed (sox prints many WARN lines before it). */
export function failLine(stderr: string): string {
  const lines = stderr.split('\n').map((l) => l.trim()).filter(Boolean);
  return lines.find((l) => / FAIL /.test(l)) ?? lines.at(-1) ?? '';
}

/** Why sox could not read an upload, without our file names: "WAVE: RIFF header not found". */
export function soxReason(stderr: string): string {
  const line = failLine(stderr)
    .replace(/^\S+\s+FAIL\s+\S+:\s*/, '')
    .replace(/can't open input file `[^']*':\s*/, '')
    .replace(/`[^']*'/g, 'the file')
    .trim();
  return line || 'sox found no audio it can decode';
}

// ---------------------------------------------------------------------------------- sox

export interface SoxStat {
  readonly lengthSeconds: number | null;
  /** Largest absolute sample value, 0..1 (1 = full scale). */
  readonly peak: number | null;
}

/** Read `sox FILE -n stat` output (it is written to stderr). */
export function parseSoxStat(text: string): SoxStat {
  const num = (label: string): number | null => {
    const m = new RegExp(`^${label}:\\s*(-?[0-9.]+(?:e[-+]?[0-9]+)?)\\s*$`, 'mi').exec(text);
    return m ? Number(m[1]) : null;
  };
  const max = num('Maximum amplitude');
  const min = num('Minimum amplitude');
  return { lengthSeconds: num('Length \\(seconds\\)'), peak: max === null || min === null ? null : Math.max(Math.abs(max), Math.abs(min)) };
}

/** Below -60 dBFS nothing is audible on a phone: such a "prompt" is silence (or dither noise). */
export const SILENCE_PEAK = 0.001;
export const isSilent = (stat: SoxStat): boolean => stat.peak !== null && stat.peak < SILENCE_PEAK;

/** Arguments for one sox conversion: input -> mono 16-bit at `rate`, cut at `limitSeconds`. */
export function soxConvertArgs(input: string, output: string, rate: 8000 | 16000, limitSeconds: number): string[] {
  // -R: repeatable (dither seeded), so the same upload gives the same file and checksum.
  // -G: guard against clipping from resampling. `trim` bounds the work for a file that lies about its length.
  const type = rate === 8000 ? 'wav' : 'raw';
  return ['-R', '-G', '-V1', input, '-r', String(rate), '-c', '1', '-b', '16', '-e', 'signed-integer', '-t', type, output, 'trim', '0', String(limitSeconds)];
}

// ---------------------------------------------------------------------------------- espeak-ng

/** Languages in `espeak-ng --voices` output: the Language column and the "Other Languages" codes. */
export function parseEspeakLanguages(stdout: string): string[] {
  const out = new Set<string>();
  for (const line of stdout.split('\n').slice(1)) {
    const fields = line.trim().split(/\s+/);
    if (fields.length < 5 || !/^\d+$/.test(fields[0]!)) continue;
    out.add(fields[1]!.toLowerCase());
    for (const m of line.matchAll(/\(([A-Za-z0-9-]+) \d+\)/g)) out.add(m[1]!.toLowerCase());
  }
  return [...out].sort();
}

/** Voice variants in `espeak-ng --voices=variant` output: the file names after !v/ (f3, m1, klatt...). */
export function parseEspeakVariants(stdout: string): string[] {
  const out = new Set<string>();
  for (const line of stdout.split('\n').slice(1)) {
    const file = line.trim().split(/\s+/).find((f) => f.startsWith('!v/'));
    if (file && file.length > 3) out.add(file.slice(3));
  }
  return [...out].sort((a, b) => a.localeCompare(b));
}

/** espeak-ng's -v argument: language, plus "+variant" when a voice is chosen. */
export const espeakVoiceArg = (language: string, voice: string | null): string => (voice ? `${language}+${voice}` : language);

/** Find `wanted` in `known` ignoring case; returns the spelling espeak-ng uses, or null. */
export function matchName(known: readonly string[], wanted: string): string | null {
  const w = wanted.toLowerCase();
  return known.find((k) => k.toLowerCase() === w) ?? null;
}

export interface EspeakCatalogue {
  readonly languages: readonly string[];
  readonly variants: readonly string[];
}

/** What espeak-ng offers on this machine. */
export async function espeakCatalogue(timeoutMs: number): Promise<EspeakCatalogue> {
  const [langs, variants] = await Promise.all([
    runTool('espeak-ng', ['--voices'], { timeoutMs }),
    runTool('espeak-ng', ['--voices=variant'], { timeoutMs }),
  ]);
  return { languages: parseEspeakLanguages(langs.stdout), variants: parseEspeakVariants(variants.stdout) };
}

/** Versions of the prompt tools for `pbx doctor`; null when a tool is missing. */
export async function promptToolVersions(timeoutMs = 3_000): Promise<{ sox: string | null; soxMp3: boolean; espeak: string | null }> {
  const version = async (tool: string, args: string[]): Promise<string | null> => {
    try {
      const out = await runTool(tool, args, { timeoutMs });
      return `${out.stdout}${out.stderr}`.trim().split('\n')[0] ?? '';
    } catch (err) {
      if (err instanceof ToolError && err.failure === 'missing') return null;
      throw err;
    }
  };
  const [sox, espeak] = await Promise.all([version('sox', ['--version']), version('espeak-ng', ['--version'])]);
  let soxMp3 = false;
  if (sox !== null) {
    // `sox -h` lists the formats this build reads and writes; mp3 comes with libsox-fmt-mp3.
    const help = await runTool('sox', ['-h'], { timeoutMs }).catch(() => ({ stdout: '', stderr: '' }));
    soxMp3 = /AUDIO FILE FORMATS:.*\bmp3\b/.test(help.stdout);
  }
  return { sox, soxMp3, espeak };
}
