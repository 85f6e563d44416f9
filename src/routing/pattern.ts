/**
 * Asterisk dial patterns, compiled to matchers. Pure: no I/O.
 *
 * A pattern either starts with `_` (a pattern) or is a literal number matched exactly.
 * After `_`:
 *   0-9 * # +   that character
 *   X  Z  N     one of [0-9], [1-9], [2-9] (case-insensitive, as in Asterisk)
 *   [15-7#]     one character of the class: single characters and ranges of digits
 *   .           one or more further characters  (only as the last character)
 *   !           zero or more further characters (only as the last character)
 * Unlike Asterisk, letters other than X Z N are refused: a dialed number only ever contains
 * 0-9 * # + (see DIAL_CHARS), so a pattern holding a letter could never match and is a typo.
 */

export const DIAL_CHARS = '0123456789*#+';
/** The longest dialed number (and literal pattern) accepted anywhere. */
export const MAX_DIALED_LENGTH = 32;
export const MAX_PATTERN_LENGTH = 64;

export type PatternErrorCode =
  | 'empty'
  | 'too-long'
  | 'bad-char'
  | 'unclosed-class'
  | 'empty-class'
  | 'bad-range'
  | 'wildcard-not-last';

export interface PatternError {
  readonly code: PatternErrorCode;
  readonly message: string;
  /** 0-based index into the pattern string. */
  readonly position: number;
}

/** One position of a pattern: the characters it accepts. */
type Element = ReadonlySet<string>;

export interface DialPattern {
  readonly source: string;
  /** True for a plain number (no leading `_`): matches exactly that number. */
  readonly literal: boolean;
  /** Fixed positions before any trailing wildcard. */
  readonly elements: readonly Element[];
  /** Trailing `.` (one or more) or `!` (zero or more), if any. */
  readonly wildcard: '.' | '!' | null;
  /** The length of the shortest string this pattern matches. */
  readonly minLength: number;
  matches(s: string): boolean;
}

export type CompileResult = { readonly ok: true; readonly pattern: DialPattern } | { readonly ok: false; readonly error: PatternError };

const DIGITS = '0123456789';
const CLASSES: Readonly<Record<string, string>> = { X: DIGITS, Z: DIGITS.slice(1), N: DIGITS.slice(2) };
const DIAL_SET: ReadonlySet<string> = new Set(DIAL_CHARS);

const fail = (code: PatternErrorCode, position: number, message: string): CompileResult => ({ ok: false, error: { code, position, message } });
const shown = (c: string): string => JSON.stringify(c);
const badChar = (c: string, i: number, where: string): CompileResult =>
  fail('bad-char', i, `${shown(c)} at position ${i} is not allowed ${where}`);

export function compilePattern(p: string): CompileResult {
  if (typeof p !== 'string' || p.length === 0) return fail('empty', 0, 'the pattern is empty');
  if (p.length > MAX_PATTERN_LENGTH) return fail('too-long', MAX_PATTERN_LENGTH, `the pattern is longer than ${MAX_PATTERN_LENGTH} characters`);
  if (!p.startsWith('_')) return compileLiteral(p);
  if (p.length === 1) return fail('empty', 1, "the pattern has nothing after '_'");

  const elements: Element[] = [];
  let wildcard: '.' | '!' | null = null;
  for (let i = 1; i < p.length; i++) {
    const c = p[i]!;
    if (wildcard) return fail('wildcard-not-last', i - 1, `${shown(wildcard)} must be the last character (it is at position ${i - 1})`);
    if (DIAL_SET.has(c)) {
      elements.push(new Set(c));
    } else if (CLASSES[c.toUpperCase()]) {
      elements.push(new Set(CLASSES[c.toUpperCase()]!));
    } else if (c === '.' || c === '!') {
      wildcard = c;
    } else if (c === '[') {
      const parsed = parseClass(p, i);
      if ('error' in parsed) return { ok: false, error: parsed.error };
      elements.push(parsed.set);
      i = parsed.end;
    } else {
      return badChar(c, i, "in a pattern: use digits, * # +, X Z N, [...] classes, and '.' or '!' at the end");
    }
  }
  if (elements.length > MAX_DIALED_LENGTH) {
    return fail('too-long', p.length - 1, `the pattern needs more than ${MAX_DIALED_LENGTH} characters, longer than any dialed number`);
  }
  return { ok: true, pattern: makePattern(p, false, elements, wildcard) };
}

function compileLiteral(p: string): CompileResult {
  for (let i = 0; i < p.length; i++) {
    const c = p[i]!;
    if (!DIAL_SET.has(c)) {
      return badChar(c, i, "in a plain number: only digits, * # + (start with '_' for a pattern)");
    }
  }
  if (p.length > MAX_DIALED_LENGTH) return fail('too-long', MAX_DIALED_LENGTH, `a plain number has at most ${MAX_DIALED_LENGTH} characters`);
  return { ok: true, pattern: makePattern(p, true, [...p].map((c) => new Set(c)), null) };
}

/** `p[start]` is '['. Returns the set and the index of the closing ']'. */
function parseClass(p: string, start: number): { set: Element; end: number } | { error: PatternError } {
  const close = p.indexOf(']', start + 1);
  if (close < 0) return { error: { code: 'unclosed-class', position: start, message: `'[' at position ${start} is never closed with ']'` } };
  if (close === start + 1) return { error: { code: 'empty-class', position: start, message: `the class '[]' at position ${start} is empty` } };
  const set = new Set<string>();
  for (let i = start + 1; i < close; i++) {
    const c = p[i]!;
    if (p[i + 1] === '-' && i + 2 < close) {
      const to = p[i + 2]!;
      if (!DIGITS.includes(c) || !DIGITS.includes(to) || c > to) {
        return { error: { code: 'bad-range', position: i, message: `the range '${c}-${to}' at position ${i} must go from a digit up to a digit` } };
      }
      for (let d = Number(c); d <= Number(to); d++) set.add(String(d));
      i += 2;
    } else if (c === '-') {
      return { error: { code: 'bad-range', position: i, message: `'-' at position ${i} must stand between two digits` } };
    } else if (DIAL_SET.has(c)) {
      set.add(c);
    } else {
      const err = badChar(c, i, 'in a class: only digits, * # + and digit ranges like 2-5');
      return { error: (err as { error: PatternError }).error };
    }
  }
  return { set, end: close };
}

function makePattern(source: string, literal: boolean, elements: Element[], wildcard: '.' | '!' | null): DialPattern {
  const minLength = elements.length + (wildcard === '.' ? 1 : 0);
  return {
    source,
    literal,
    elements,
    wildcard,
    minLength,
    matches(s: string): boolean {
      if (typeof s !== 'string' || s.length < minLength) return false;
      if (!wildcard && s.length !== elements.length) return false;
      for (let i = 0; i < s.length; i++) {
        const c = s[i]!;
        const el = elements[i];
        if (el ? !el.has(c) : !DIAL_SET.has(c)) return false;
      }
      return true;
    },
  };
}

/**
 * Orders two patterns from more to less specific, the way Asterisk ranks its own: position by
 * position, the element accepting fewer characters wins; a trailing `.`/`!` accepts the most
 * (`!` more than `.`), and a pattern that has already ended accepts nothing more, so it ranks
 * first (`_91` before `_91!`). Negative when `a` is more specific, 0 when equally specific.
 */
export function compareSpecificity(a: DialPattern, b: DialPattern): number {
  const n = Math.max(a.elements.length, b.elements.length) + 1;
  for (let i = 0; i < n; i++) {
    const d = weight(a, i) - weight(b, i);
    if (d !== 0) return d;
  }
  return 0;
}

function weight(p: DialPattern, i: number): number {
  const el = p.elements[i];
  if (el) return el.size;
  if (p.wildcard === '.') return 100;
  if (p.wildcard === '!') return 101;
  return 0; // the pattern has ended: it accepts no further character
}
