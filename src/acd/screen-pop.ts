/**
 * Screen pop on the handset (docs/acd.md#screen-pop-on-the-handset): what an agent's desk phone
 * shows and does while an ACD call rings it. Pure: the queue's caller-ID name template, checked
 * when a queue is saved and filled in for each offer (sanitised, cut to the display width); the
 * queue's Alert-Info (distinctive ring), checked; the SIP headers an offer's leg carries (the
 * distinctive ring, and auto-answer for an agent on a headset).
 *
 * Template: literal text (the queue's label, e.g. `SALES:`) and placeholders: `{caller}` (the
 * caller's name, else their number), `{name}`, `{number}`, and at most one IVR variable by its
 * name (`{account}`: what the caller's flow collected). Example: `SALES:{caller} {account}`.
 */

/** Characters a phone's caller-ID line shows without wrapping on the common desk phones (docs). */
export const DISPLAY_WIDTH = 24;
export const TEMPLATE_MAX = 64;
export const ALERT_INFO_MAX = 200;

const CALLER_FIELDS = new Set(['caller', 'name', 'number']);
const VARIABLE = /^[a-z][a-z0-9_]{0,39}$/;
/** What a display name may not carry: quotes, angle brackets and backslash break SIP's quoted-string; braces are the template's own. */
const UNSAFE = /["<>\\{}]/gu;
const CONTROL = /[\p{Cc}\p{Cf}\p{Zl}\p{Zp}]/gu;

type Part = { readonly kind: 'text'; readonly text: string } | { readonly kind: 'field'; readonly name: string };

export interface CallerIdTemplate {
  readonly parts: readonly Part[];
  /** The IVR variable it shows, if any. */
  readonly variable: string | null;
}

/** A problem with a template (the text for a 400 naming the field), or the parsed template. */
export function parseCallerIdTemplate(template: string): CallerIdTemplate | { readonly problem: string } {
  if (template.length === 0 || template.length > TEMPLATE_MAX) return { problem: `1 to ${TEMPLATE_MAX} characters` };
  const parts: Part[] = [];
  let variable: string | null = null;
  const re = /\{([^{}]*)\}|([^{}]+)|([{}])/gu;
  for (const m of template.matchAll(re)) {
    if (m[3] !== undefined) return { problem: `an unmatched "${m[3]}" (placeholders are {caller}, {name}, {number} or one IVR variable such as {account})` };
    if (m[2] !== undefined) {
      if (/["<>\\\p{Cc}\p{Cf}\p{Zl}\p{Zp}]/u.test(m[2])) return { problem: 'text may not hold quotes, angle brackets, backslashes or control characters' };
      parts.push({ kind: 'text', text: m[2] });
      continue;
    }
    const name = m[1]!.trim();
    if (!CALLER_FIELDS.has(name)) {
      if (!VARIABLE.test(name)) return { problem: `{${m[1]}} is not a placeholder: {caller}, {name}, {number} or an IVR variable name (a lower-case letter, then lower-case letters, digits or _)` };
      if (variable !== null && variable !== name) return { problem: `at most one IVR variable ({${variable}} and {${name}})` };
      variable = name;
    }
    parts.push({ kind: 'field', name });
  }
  if (!parts.some((p) => p.kind === 'field' && CALLER_FIELDS.has(p.name))) return { problem: 'must show the caller: {caller}, {name} or {number}' };
  return { parts, variable };
}

/** Printable text for a display name: no control or format characters, quotes, angle brackets, backslashes or braces; spaces collapsed. */
export function sanitize(text: string): string {
  return text.normalize('NFC').replace(CONTROL, ' ').replace(UNSAFE, '').replace(/\s+/gu, ' ');
}

/** The first `width` characters (code points, so a letter outside the BMP is never split). */
export function cut(text: string, width: number): string {
  const chars = Array.from(text);
  return chars.length <= width ? text : chars.slice(0, width).join('');
}

export interface CallerFacts {
  readonly name: string | null;
  readonly number: string | null;
  /** What the caller's IVR flow collected (name -> value). */
  readonly variables: Readonly<Record<string, string>>;
}

/**
 * The caller-ID name for an offer: the template filled in, every value sanitised, then cut to
 * `width`. When too long, the caller's name is shortened first (so the label and the IVR value
 * stay on screen), then the whole is cut. A missing value shows as nothing.
 */
export function renderCallerIdName(template: CallerIdTemplate, caller: CallerFacts, width = DISPLAY_WIDTH): string {
  const name = sanitize(caller.name ?? '').trim();
  const number = sanitize(caller.number ?? '').trim();
  const value = (field: string): string => {
    if (field === 'caller') return name || number;
    if (field === 'name') return name;
    if (field === 'number') return number;
    return sanitize(caller.variables[field] ?? '').trim();
  };
  const isName = (p: Part) => p.kind === 'field' && (p.name === 'name' || (p.name === 'caller' && name !== ''));
  const pieces = template.parts.map((p) => ({ text: p.kind === 'text' ? sanitize(p.text) : value(p.name), shrinkable: isName(p) }));
  const length = (s: string) => Array.from(s).length;
  let total = pieces.reduce((n, p) => n + length(p.text), 0);
  for (const p of pieces) {
    if (total <= width || !p.shrinkable) continue;
    const keep = Math.max(0, length(p.text) - (total - width));
    total -= length(p.text) - keep;
    p.text = cut(p.text, keep).trimEnd();
  }
  return cut(pieces.map((p) => p.text).join('').replace(/\s+/gu, ' ').trim(), width).trim();
}

/**
 * A problem with a queue's Alert-Info value, or null. Accepted: `<uri>` (http, https, sip or
 * sips) with optional `;name=value` parameters, e.g. `<http://127.0.0.1/Bellcore-dr2>` or
 * `<http://127.0.0.1>;info=ring2`, or parameters alone (`info=ring2`): sent as is.
 */
export function alertInfoProblem(value: string): string | null {
  if (value.length === 0 || value.length > ALERT_INFO_MAX) return `1 to ${ALERT_INFO_MAX} characters`;
  const param = '[A-Za-z][A-Za-z0-9_.-]*(?:=[A-Za-z0-9_.:/+-]+)?';
  const uri = '<(?:https?|sips?):[!#-;=?-~]+>';
  const form = new RegExp(`^(?:${uri}(?:;${param})*|${param}(?:;${param})*)$`, 'u');
  return form.test(value) ? null : 'an Alert-Info value: <http://host/Bellcore-dr2>, <http://host>;info=ring2 or info=ring2 (no spaces, quotes or other headers)';
}

/** Alert-Info and Call-Info a phone auto-answers on (with a beep): docs say which vendor honours which. */
export const AUTO_ANSWER_ALERT_INFO = '<http://127.0.0.1>;info=alert-autoanswer';
export const AUTO_ANSWER_CALL_INFO = '<sip:127.0.0.1>;answer-after=0';

/**
 * The channel variables an offer's originate sets: SIP headers added to the INVITE the agent's
 * phone receives (PJSIP_HEADER on the outgoing channel). Auto-answer's Alert-Info replaces the
 * queue's ring: a phone answering at once does not ring.
 */
export function offerHeaders(o: { readonly alertInfo: string | null; readonly autoAnswer: boolean }): Record<string, string> {
  if (o.autoAnswer) return { 'PJSIP_HEADER(add,Alert-Info)': AUTO_ANSWER_ALERT_INFO, 'PJSIP_HEADER(add,Call-Info)': AUTO_ANSWER_CALL_INFO };
  return o.alertInfo ? { 'PJSIP_HEADER(add,Alert-Info)': o.alertInfo } : {};
}
