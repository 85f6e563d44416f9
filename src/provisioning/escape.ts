/**
 * Text that goes into phone files comes from people (display names, labels) and from other tables
 * (SIP passwords). Nothing may change a file's structure: control characters (CR/LF included) are
 * removed everywhere, XML special characters are escaped.
 */

// C0 and C1 controls, DEL, Unicode line/paragraph separators, non-characters, lone surrogates.
// eslint-disable-next-line no-control-regex -- matching control characters is the point
const UNSAFE = /[\u0000-\u001f\u007f-\u009f\u2028\u2029\ufffe\uffff]|[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/g;

export function stripControl(s: string): string {
  return s.replace(UNSAFE, '');
}

/** For XML text and attribute values (double- or single-quoted). */
export function xmlEscape(s: string): string {
  return stripControl(s).replace(/[&<>"']/g, (c) => XML_ENTITIES[c]!);
}

const XML_ENTITIES: Record<string, string> = { '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&apos;' };

/**
 * For a `key = value` line: one line, no surrounding blanks (Yealink trims them anyway), and not
 * one of Yealink's reserved placeholders (%NULL%, %EMPTY%) that would change the meaning.
 */
export function kvValue(s: string): string {
  const v = stripControl(s).trim();
  return /^%[A-Z_]+%$/.test(v) ? v.slice(1, -1) : v;
}
