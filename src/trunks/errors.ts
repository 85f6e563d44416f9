import { invalid } from '../errors.js';
import { compilePattern } from '../routing/pattern.js';

/** Compile a dial pattern from a request, or throw 400 naming the field and what is wrong. */
export function checkPattern(field: string, pattern: string): ReturnType<typeof compilePattern> & { ok: true } {
  const r = compilePattern(pattern);
  if (!r.ok) throw invalid(field, r.error.message, { pattern: { code: r.error.code, position: r.error.position } });
  return r;
}
