/**
 * Prompts: audio that IVR flows play. An admin uploads WAV/MP3 or has text spoken by espeak-ng;
 * either way sox converts it in a private work folder into <id>.wav (8 kHz) and <id>.sln16
 * (16 kHz), the files are renamed into the prompts folder (atomic, world-readable: Asterisk may run
 * as another user) and a row records name, checksum and duration. A failure removes what was made.
 *
 * Text-to-speech is cached by the sha256 of text, language and voice: the same request again returns
 * the prompt already rendered. A prompt a published flow plays cannot be deleted.
 */
import { createHash, randomUUID } from 'node:crypto';
import { chmod, mkdir, mkdtemp, readFile, rename, rm, stat, writeFile } from 'node:fs/promises';
import path from 'node:path';
import type { Config } from '../config.js';
import type { Db } from '../db/database.js';
import type { Logger } from '../logger.js';
import { AppError, notFound } from '../errors.js';
import { recordAudit, type Actor } from '../audit/repository.js';
import { pgCode, UNIQUE_VIOLATION } from '../shared/pg-errors.js';
import { wavDurationMs } from '../voicemail/audio.js';
import * as repo from './repository.js';
import type { PromptRow, PromptSource } from './tables.js';
import {
  espeakCatalogue, espeakVoiceArg, isSilent, matchName, parseSoxStat, promptMediaUri, runTool, sha256Hex, sln16DurationMs,
  soxConvertArgs, soxReason, ToolError, ttsKey, uploadFormat, type EspeakCatalogue,
} from './media.js';

/** Names of the flows whose published or draft version plays a prompt ([] when none). */
export type PromptUsage = (promptId: string) => Promise<string[]>;

export const PROMPT_NAME = /^[A-Za-z0-9 _.-]{1,64}$/;
export const TTS_MAX_CHARS = 500;
const IVR_ACTOR: Actor = { userId: null, tokenId: null, label: 'ivr', requestId: null };

export interface PromptDeps {
  readonly db: Db;
  readonly settings: Config['prompts'];
  readonly usage: PromptUsage;
  readonly log: Logger;
  /** Longest a single sox/espeak-ng run may take (default 60 s). */
  readonly toolTimeoutMs?: number;
  /** Conversions at the same time (default 2); more wait their turn. */
  readonly maxConcurrent?: number;
}

export interface UploadInput {
  readonly name: string;
  readonly contentType: string | undefined;
  readonly audio: Buffer;
}

export interface TtsInput {
  readonly name: string;
  readonly text: string;
  readonly language: string;
  readonly voice?: string | undefined;
}

interface Converted {
  readonly wavFile: string;
  readonly slnFile: string;
  readonly checksum: string;
  readonly durationMs: number;
  readonly bytes: number;
}

export class PromptService {
  private catalogue: Promise<EspeakCatalogue> | null = null;
  private readonly limiter: Limiter;
  private readonly timeoutMs: number;

  constructor(private readonly deps: PromptDeps) {
    this.limiter = new Limiter(deps.maxConcurrent ?? 2);
    this.timeoutMs = deps.toolTimeoutMs ?? 60_000;
  }

  // ------------------------------------------------------------------ reads

  async list(): Promise<PromptRow[]> {
    return repo.listPrompts(this.deps.db);
  }

  async get(id: string): Promise<PromptRow> {
    const row = await repo.findPrompt(this.deps.db, id);
    if (!row) throw notFound('prompt-not-found', 'prompt', id);
    return row;
  }

  /** The media URI an ARI play uses: sound:<dir as Asterisk sees it>/<id>. */
  mediaUri(id: string): string {
    return promptMediaUri(this.deps.settings.asteriskDir, id);
  }

  /** The 8 kHz WAV of a prompt, with its size; 404 when the file is gone. */
  async audioFile(id: string): Promise<{ row: PromptRow; file: string; size: number }> {
    const row = await this.get(id);
    const file = this.file(id, 'wav');
    const info = await stat(file).catch(() => null);
    if (!info?.isFile()) throw notFound('prompt-not-found', 'audio of prompt', id);
    return { row, file, size: info.size };
  }

  // ------------------------------------------------------------------ changes

  /** An uploaded WAV or MP3 (the raw request body) becomes a prompt. */
  async upload(actor: Actor, input: UploadInput): Promise<PromptRow> {
    const format = uploadFormat(input.contentType);
    if (!format) {
      throw new AppError('unsupported-media-type', 415, 'send the audio as the raw request body with Content-Type audio/wav, audio/x-wav or audio/mpeg', {
        contentType: input.contentType ?? null,
      });
    }
    this.checkName(input.name);
    if (input.audio.length === 0) throw new AppError('prompt-empty', 400, 'the upload is empty (0 bytes)');
    const max = this.deps.settings.maxBytes;
    if (input.audio.length > max) throw tooLarge(input.audio.length, max);
    await this.requireFreeName(input.name);
    const what = format === 'wav' ? 'WAV file' : 'MP3 file';
    return this.inWorkDir(async (work) => {
      const source = path.join(work, `upload.${format}`);
      await writeFile(source, input.audio, { mode: 0o600 });
      const converted = await this.convert(work, source, what);
      return this.store(actor, { name: input.name, source: 'upload', text: null, language: null, voice: null, tts_key: null }, converted);
    });
  }

  /** Text spoken by espeak-ng becomes a prompt; an identical earlier request's prompt is returned instead. */
  async tts(actor: Actor, input: TtsInput): Promise<{ prompt: PromptRow; created: boolean }> {
    this.checkName(input.name);
    const text = input.text.trim();
    if (text.length === 0 || text.length > TTS_MAX_CHARS) {
      throw new AppError('validation-failed', 400, `body.text: must be 1 to ${TTS_MAX_CHARS} characters of text`, { field: 'body.text' });
    }
    const catalogue = await this.espeak();
    const language = matchName(catalogue.languages, input.language);
    if (!language) {
      throw new AppError('prompt-language-unknown', 400, `body.language: espeak-ng has no language "${input.language}" (e.g. en, en-us, fr, de, es)`, {
        field: 'body.language', language: input.language, known: catalogue.languages,
      });
    }
    let voice: string | null = null;
    if (input.voice !== undefined && input.voice !== '') {
      voice = matchName(catalogue.variants, input.voice);
      if (!voice) {
        throw new AppError('prompt-voice-unknown', 400, `body.voice: espeak-ng has no voice "${input.voice}" (e.g. f3, m3, klatt)`, {
          field: 'body.voice', voice: input.voice, known: catalogue.variants,
        });
      }
    }
    const key = ttsKey(text, language, voice);
    const cached = await repo.findPromptByTtsKey(this.deps.db, key);
    if (cached) return { prompt: cached, created: false };
    await this.requireFreeName(input.name);
    try {
      const prompt = await this.inWorkDir(async (work) => {
        await writeFile(path.join(work, 'text.txt'), text, { mode: 0o600 });
        try {
          // Text goes in a file, not an argument: text starting with "-" must never read as an option.
          await runTool('espeak-ng', ['-b', '1', '-v', espeakVoiceArg(language, voice), '-f', 'text.txt', '-w', 'speech.wav'], { cwd: work, timeoutMs: this.timeoutMs });
        } catch (err) {
          throw toolAppError(err);
        }
        const converted = await this.convert(work, path.join(work, 'speech.wav'), 'speech');
        return this.store(actor, { name: input.name, source: 'tts', text, language, voice, tts_key: key }, converted);
      });
      return { prompt, created: true };
    } catch (err) {
      // The same text rendered by a request running at the same time: return that one.
      if (err instanceof DuplicateKey) return { prompt: (await repo.findPromptByTtsKey(this.deps.db, key))!, created: false };
      throw err;
    }
  }

  /**
   * Text an IVR flow speaks (a `say` prompt): rendered once by espeak-ng like a TTS prompt (named
   * `tts-<hash>`), then reused by every call; returns the media URI.
   */
  async speak(text: string, language: string, voice: string | undefined): Promise<string> {
    const name = `tts-${createHash('sha256').update(`${language}\n${voice ?? ''}\n${text}`).digest('hex').slice(0, 16)}`;
    const { prompt } = await this.tts(IVR_ACTOR, { name, text, language, voice });
    return this.mediaUri(prompt.id);
  }

  /** Delete row (audited) and files; refused while a published flow plays the prompt. */
  async remove(actor: Actor, id: string): Promise<void> {
    const row = await this.get(id);
    const flows = await this.deps.usage(id);
    if (flows.length > 0) {
      throw new AppError('prompt-in-use', 409, `prompt "${row.name}" is played by flow(s) (published or draft) ${flows.join(', ')}; take it out of them first`, { id, flows });
    }
    await this.deps.db.transaction().execute(async (tx) => {
      const deleted = await repo.deletePromptRow(tx, id);
      if (!deleted) throw notFound('prompt-not-found', 'prompt', id);
      await recordAudit(tx, actor, { action: 'prompt.delete', entity: 'prompt', entityId: id, details: { name: deleted.name } });
    });
    await this.removeFiles(id);
    this.deps.log.info({ promptId: id, name: row.name }, 'prompt deleted');
  }

  // ------------------------------------------------------------------ helpers

  private checkName(name: string): void {
    if (!PROMPT_NAME.test(name)) {
      throw new AppError('validation-failed', 400, 'name: 1 to 64 letters, digits, spaces, _ . -', { field: 'name' });
    }
  }

  private async requireFreeName(name: string): Promise<void> {
    if (await repo.findPromptByName(this.deps.db, name)) throw nameTaken(name);
  }

  private espeak(): Promise<EspeakCatalogue> {
    if (!this.catalogue) {
      const pending = espeakCatalogue(this.timeoutMs).catch((err: unknown) => {
        this.catalogue = null; // espeak-ng installed later is picked up on the next request
        throw toolAppError(err);
      });
      this.catalogue = pending;
    }
    return this.catalogue;
  }

  private file(id: string, ext: 'wav' | 'sln16'): string {
    return path.join(this.deps.settings.dir, `${id}.${ext}`);
  }

  /** A private folder inside the prompts folder (so the final rename is atomic), always removed. */
  private inWorkDir<T>(fn: (work: string) => Promise<T>): Promise<T> {
    return this.limiter.run(async () => {
      await mkdir(this.deps.settings.dir, { recursive: true, mode: 0o755 });
      const work = await mkdtemp(path.join(this.deps.settings.dir, '.work-'));
      try {
        return await fn(work);
      } finally {
        await rm(work, { recursive: true, force: true }).catch((err: Error) => this.deps.log.warn({ err: err.message, work }, 'prompt work folder not removed'));
      }
    });
  }

  /** source -> out.wav (8 kHz) + out.sln16 (16 kHz) in `work`, refusing what is not audio, too long or silent. */
  private async convert(work: string, source: string, what: string): Promise<Converted> {
    const maxSeconds = this.deps.settings.maxSeconds;
    let seconds: number;
    try {
      seconds = Number((await runTool('soxi', ['-V1', '-D', source], { cwd: work, timeoutMs: this.timeoutMs })).stdout.trim());
    } catch (err) {
      throw notAudio(err, what);
    }
    if (!Number.isFinite(seconds)) throw new AppError('prompt-not-audio', 400, `the body is not a readable ${what}: no length`, { reason: 'no length' });
    if (seconds > maxSeconds) throw tooLong(seconds * 1000, maxSeconds);

    const wavFile = path.join(work, 'out.wav');
    const slnFile = path.join(work, 'out.sln16');
    // Cut just past the limit: a file whose header claims less than it holds is still caught below.
    const limit = maxSeconds + 1;
    try {
      await Promise.all([
        runTool('sox', soxConvertArgs(source, wavFile, 8000, limit), { cwd: work, timeoutMs: this.timeoutMs }),
        runTool('sox', soxConvertArgs(source, slnFile, 16000, limit), { cwd: work, timeoutMs: this.timeoutMs }),
      ]);
    } catch (err) {
      throw notAudio(err, what);
    }
    const wav = await readFile(wavFile);
    const slnBytes = (await stat(slnFile)).size;
    const durationMs = wavDurationMs(wav) ?? 0;
    if (durationMs <= 0 || sln16DurationMs(slnBytes) <= 0) throw new AppError('prompt-empty', 400, `the ${what} holds no audio (0 s)`);
    if (durationMs > maxSeconds * 1000) throw tooLong(durationMs, maxSeconds);
    let level;
    try {
      level = parseSoxStat((await runTool('sox', ['-V1', wavFile, '-n', 'stat'], { cwd: work, timeoutMs: this.timeoutMs })).stderr);
    } catch (err) {
      throw toolAppError(err);
    }
    if (isSilent(level)) throw new AppError('prompt-empty', 400, `the ${what} is silent (peak below -60 dBFS)`, { peak: level.peak });
    return { wavFile, slnFile, checksum: sha256Hex(wav), durationMs, bytes: wav.length };
  }

  /** Move the converted files into place (world-readable) and write the row; undo the files if the row fails. */
  private async store(
    actor: Actor,
    fields: { name: string; source: PromptSource; text: string | null; language: string | null; voice: string | null; tts_key: string | null },
    c: Converted,
  ): Promise<PromptRow> {
    const id = randomUUID();
    await chmod(c.wavFile, 0o644);
    await chmod(c.slnFile, 0o644);
    try {
      await rename(c.wavFile, this.file(id, 'wav'));
      await rename(c.slnFile, this.file(id, 'sln16'));
      const row = await this.deps.db.transaction().execute(async (tx) => {
        const inserted = await repo.insertPrompt(tx, { id, ...fields, checksum: c.checksum, duration_ms: c.durationMs, bytes: c.bytes });
        await recordAudit(tx, actor, {
          action: 'prompt.create', entity: 'prompt', entityId: id, details: { name: fields.name, source: fields.source, durationMs: c.durationMs, checksum: c.checksum },
        });
        return inserted;
      });
      this.deps.log.info({ promptId: id, name: fields.name, source: fields.source, durationMs: c.durationMs }, 'prompt created');
      return row;
    } catch (err) {
      await this.removeFiles(id);
      if (pgCode(err) === UNIQUE_VIOLATION) {
        const constraint = (err as { constraint?: string }).constraint ?? '';
        if (constraint.includes('tts_key')) throw new DuplicateKey();
        throw nameTaken(fields.name);
      }
      throw err;
    }
  }

  private async removeFiles(id: string): Promise<void> {
    for (const ext of ['wav', 'sln16'] as const) {
      const file = this.file(id, ext);
      await rm(file, { force: true }).catch((err: Error) => this.deps.log.warn({ err: err.message, file }, 'prompt file not removed'));
    }
  }
}

class DuplicateKey extends Error {}

const nameTaken = (name: string): AppError => new AppError('prompt-exists', 409, `a prompt named "${name}" already exists`, { field: 'name', name });

const tooLarge = (bytes: number, max: number): AppError =>
  new AppError('payload-too-large', 413, `the upload is ${bytes} bytes; prompts may be at most ${max} bytes (PBX_PROMPT_MAX_BYTES)`, { bytes, maxBytes: max });

const tooLong = (ms: number, maxSeconds: number): AppError =>
  new AppError('prompt-too-long', 400, `the audio plays ${(ms / 1000).toFixed(1)} s; prompts may be at most ${maxSeconds} s (PBX_PROMPT_MAX_SECONDS)`, {
    durationMs: Math.round(ms), maxSeconds,
  });

/** sox could not read it: the upload is not audio (of the declared type). Missing tools and timeouts are the server's problem. */
function notAudio(err: unknown, what: string): Error {
  if (err instanceof ToolError && err.failure === 'failed') {
    const reason = soxReason(err.stderr);
    return new AppError('prompt-not-audio', 400, `the body is not a readable ${what}: ${reason}`, { reason });
  }
  return toolAppError(err);
}

function toolAppError(err: unknown): Error {
  if (!(err instanceof ToolError)) return err as Error;
  if (err.failure === 'missing') {
    return new AppError('service-unavailable', 503, `${err.tool} is not installed on the server; deploy/install.sh installs sox, libsox-fmt-mp3 and espeak-ng`, { tool: err.tool });
  }
  if (err.failure === 'timeout') return new AppError('service-unavailable', 503, err.message, { tool: err.tool });
  return new AppError('internal-error', 500, err.message, { tool: err.tool });
}

/** At most `max` jobs at once; the rest wait in order. */
class Limiter {
  private active = 0;
  private readonly waiting: (() => void)[] = [];
  constructor(private readonly max: number) {}

  async run<T>(fn: () => Promise<T>): Promise<T> {
    while (this.active >= this.max) await new Promise<void>((resolve) => this.waiting.push(resolve));
    this.active++;
    try {
      return await fn();
    } finally {
      this.active--;
      this.waiting.shift()?.();
    }
  }
}
