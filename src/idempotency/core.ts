/**
 * Idempotency keys, the pure part: which key is valid, what identifies a request (method, path,
 * body hash), which headers of an answer are replayed, and the sealing of a stored answer's body.
 * The plugin (plugin.ts) and the table (repository.ts) use these; nothing here does I/O.
 */
import { createCipheriv, createDecipheriv, createHash, createHmac, randomBytes } from 'node:crypto';

/** The header a client sends, and the one a replayed answer carries. */
export const KEY_HEADER = 'idempotency-key';
export const REPLAYED_HEADER = 'idempotent-replayed';

/** Methods whose requests honour a key; GET, HEAD and OPTIONS change nothing and ignore it. */
export const KEYED_METHODS: ReadonlySet<string> = new Set(['POST', 'PUT', 'PATCH', 'DELETE']);

export const MAX_KEY_LENGTH = 255;

/** 1-255 printable ASCII characters (0x20-0x7e). */
export function validKey(key: string): boolean {
  return key.length >= 1 && key.length <= MAX_KEY_LENGTH && /^[\x20-\x7e]+$/.test(key);
}

/**
 * JSON with object keys in sorted order at every level, so `{"a":1,"b":2}` and `{"b":2,"a":1}`
 * are the same text. Arrays keep their order; undefined members are left out, as JSON.stringify does.
 */
export function canonicalJson(value: unknown): string {
  if (value === null || typeof value !== 'object') return JSON.stringify(value) ?? 'null';
  if (Array.isArray(value)) return `[${value.map((v) => (v === undefined ? 'null' : canonicalJson(v))).join(',')}]`;
  const entries = Object.keys(value)
    .sort()
    .filter((k) => (value as Record<string, unknown>)[k] !== undefined)
    .map((k) => `${JSON.stringify(k)}:${canonicalJson((value as Record<string, unknown>)[k])}`);
  return `{${entries.join(',')}}`;
}

/**
 * SHA-256 (hex) of the body as the route received it: raw bytes (a prompt upload) as they are,
 * anything else (parsed JSON, after schema validation) as canonical JSON; no body hashes as `null`.
 */
export function bodyHash(body: unknown): string {
  const hash = createHash('sha256');
  hash.update(Buffer.isBuffer(body) ? body : canonicalJson(body ?? null));
  return hash.digest('hex');
}

/** What a key is bound to by its first request. */
export interface Fingerprint {
  readonly method: string;
  readonly path: string;
  readonly bodyHash: string;
}

/** What differs between the key's first request and this one, or null when nothing does. */
export function mismatch(first: Fingerprint, now: Fingerprint): 'method and path' | 'body' | null {
  if (first.method !== now.method || first.path !== now.path) return 'method and path';
  if (first.bodyHash !== now.bodyHash) return 'body';
  return null;
}

/** Headers of one exchange, not of the answer: never stored, never replayed. */
const NOT_REPLAYED = new Set(['content-length', 'transfer-encoding', 'connection', 'keep-alive', 'date', 'set-cookie', REPLAYED_HEADER]);

/** The answer's headers worth replaying (content-type, location, anything a route sets), as strings. */
export function replayableHeaders(headers: Record<string, number | string | string[] | undefined>): Record<string, string | string[]> {
  const kept: Record<string, string | string[]> = {};
  for (const [name, value] of Object.entries(headers)) {
    if (value === undefined || NOT_REPLAYED.has(name.toLowerCase())) continue;
    kept[name.toLowerCase()] = Array.isArray(value) ? value : String(value);
  }
  return kept;
}

/**
 * A stored answer's body is sealed (AES-256-GCM) with a key made from the request's bearer token
 * and the idempotency key. The database holds only the token's hash, so a copy of the table does
 * not give away what an answer held (a new token's secret, a SIP password), and only a request
 * with the same token can replay it. Layout: 12-byte IV, 16-byte tag, ciphertext.
 */
function sealingKey(bearer: string, key: string): Buffer {
  return createHmac('sha256', bearer).update(`pbx idempotency\0${key}`).digest();
}

export function seal(body: Buffer, bearer: string, key: string): Buffer {
  const iv = randomBytes(12);
  const cipher = createCipheriv('aes-256-gcm', sealingKey(bearer, key), iv);
  const sealed = Buffer.concat([cipher.update(body), cipher.final()]);
  return Buffer.concat([iv, cipher.getAuthTag(), sealed]);
}

/** The body `seal` sealed; throws when the bearer token or key differs or the bytes were changed. */
export function unseal(sealed: Buffer, bearer: string, key: string): Buffer {
  const decipher = createDecipheriv('aes-256-gcm', sealingKey(bearer, key), sealed.subarray(0, 12));
  decipher.setAuthTag(sealed.subarray(12, 28));
  return Buffer.concat([decipher.update(sealed.subarray(28)), decipher.final()]);
}
