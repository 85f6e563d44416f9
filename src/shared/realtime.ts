/**
 * Text in the PJSIP realtime tables (ps_endpoints, ps_auths, ps_aors, ps_endpoint_id_ips,
 * ps_registrations, ps_contacts) as Asterisk's res_config_pgsql reads and writes it. For every
 * column it reads, Asterisk (main/config.c ast_realtime_decode_chunk, res_config_pgsql.c):
 *  - splits the text at each `;` into separate values of that option; for a single-valued option
 *    the last one wins (password `pw;tail` becomes `tail`; callerid `"x;comment" <102>` becomes
 *    `comment" <102>`), and a URI `sip:h:p;transport=tcp` makes the whole AOR fail to load;
 *  - trims each value, then decodes `^XX` (two hex digits, either case) into that byte, so a
 *    display name `^22^3C^0D^0A` reaches the caller ID as `"<` CR LF.
 * Checked against Asterisk 22.10 (`pjsip show endpoint|auth|aor`, test/e2e/realtime-values.test.ts).
 * Asterisk's own writes (ps_contacts) are encoded the same way (ast_realtime_encode_chunk).
 *
 * So every value the daemon writes there goes through realtimeRow() (encode `^` as `^5E` and `;`
 * as `^3B`; Asterisk decodes both back), and what it reads back goes through decodeRealtime().
 * Control characters cannot be encoded usefully (a CR/LF in a caller ID or a password is never
 * meant): the features refuse them with a 400 naming the field (realtimeTextProblem); reaching
 * realtimeRow() with one is a bug, and it throws.
 */

/** Why `value` cannot go into a realtime column, or null: control characters (CR/LF included). */
export function realtimeTextProblem(value: string): string | null {
  // eslint-disable-next-line no-control-regex
  return /[\u0000-\u001f\u007f]/.test(value) ? 'must not contain control characters (line breaks, tabs...)' : null;
}

/** `value` as Asterisk must find it in a realtime column to read back exactly `value`. */
export function encodeRealtime(value: string): string {
  const problem = realtimeTextProblem(value);
  if (problem) throw new Error(`realtime value ${JSON.stringify(value)} ${problem}`);
  return value.replace(/[\^;]/g, (c) => (c === '^' ? '^5E' : '^3B'));
}

/** What Asterisk makes of a realtime column's text (one value; `^XX` decoded): the inverse of encodeRealtime. */
export function decodeRealtime(text: string): string {
  if (!text.includes('^')) return text;
  // Byte-wise, as Asterisk does: `^C3^A9` is the UTF-8 of é.
  const bytes = Buffer.from(text, 'utf8');
  const out: number[] = [];
  for (let i = 0; i < bytes.length; i++) {
    const hex = bytes[i] === 0x5e ? bytes.subarray(i + 1, i + 3).toString('latin1') : '';
    if (/^[0-9A-Fa-f]{2}$/.test(hex)) {
      out.push(parseInt(hex, 16));
      i += 2;
    } else {
      out.push(bytes[i]!);
    }
  }
  return Buffer.from(out).toString('utf8');
}

/** A realtime row with every string column encoded (numbers and nulls as they are). */
export function realtimeRow<T extends object>(row: T): T {
  const out: Record<string, unknown> = {};
  for (const [column, value] of Object.entries(row)) out[column] = typeof value === 'string' ? encodeRealtime(value) : value;
  return out as T;
}
