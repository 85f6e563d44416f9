import { AppError } from '../errors.js';
import { compilePattern } from '../routing/pattern.js';

/** 400 naming the field, shaped like schema validation errors (details.problems). */
export function invalid(field: string, problem: string, extra: Record<string, unknown> = {}): AppError {
  const message = `${field}: ${problem}`;
  return new AppError('validation-failed', 400, message, { field, problems: [{ field, message: problem }], ...extra });
}

/** Compile a dial pattern from a request, or throw 400 naming the field and what is wrong. */
export function checkPattern(field: string, pattern: string): ReturnType<typeof compilePattern> & { ok: true } {
  const r = compilePattern(pattern);
  if (!r.ok) throw invalid(field, r.error.message, { pattern: { code: r.error.code, position: r.error.position } });
  return r;
}

/** The SQLSTATE of a Postgres error, if it is one. */
export const pgCode = (err: unknown): string | undefined =>
  typeof err === 'object' && err !== null && typeof (err as { code?: unknown }).code === 'string' ? (err as { code: string }).code : undefined;

export const UNIQUE_VIOLATION = '23505';
export const FOREIGN_KEY_VIOLATION = '23503';
