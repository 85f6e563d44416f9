/**
 * Pure rules for extensions: number plan, forward targets, secrets. No I/O.
 */
import { randomInt, randomBytes, scrypt, timingSafeEqual } from 'node:crypto';
import { promisify } from 'node:util';

// Async scrypt: a PIN check (tens of ms of CPU) must not stall the ARI event loop.
const scryptAsync = promisify(scrypt) as (pin: string, salt: Buffer, len: number) => Promise<Buffer>;

/** Numbers that must always reach emergency services, never an extension. */
export const RESERVED_NUMBERS: ReadonlySet<string> = new Set(['000', '110', '112', '118', '119', '911', '999']);

export function extensionNumberProblem(n: string, reserved: ReadonlySet<string> = RESERVED_NUMBERS): string | null {
  if (!/^[0-9]+$/.test(n)) return 'must be digits only (feature codes start with * and cannot collide)';
  if (n.length < 2 || n.length > 16) return 'must be 2 to 16 digits';
  if (reserved.has(n)) return `${n} is an emergency number`;
  return null;
}

/** A forward goes to an extension or an external number; never back to itself. */
export function forwardTargetProblem(target: string, self: string): string | null {
  if (!/^\+?[0-9]{2,20}$/.test(target)) return 'must be an extension or phone number (digits, optional leading +)';
  if (target === self) return 'cannot forward an extension to itself';
  return null;
}

/** Display names go into SIP headers and phone screens: printable text, no quotes or angle brackets. */
export function displayNameProblem(name: string): string | null {
  // eslint-disable-next-line no-control-regex
  if (/["<>\\\u0000-\u001f\u007f]/.test(name)) return 'must not contain quotes, < > \\ or control characters';
  if (name.trim() === '') return 'must not be blank';
  return null;
}

export function callerIdString(displayName: string, number: string): string {
  return `"${displayName}" <${number}>`;
}

const ALPHABET = 'ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz23456789';

/** 24 characters from a 56-letter alphabet (about 139 bits); no symbols that phone keypads mangle. */
export function generateSipPassword(length = 24): string {
  let out = '';
  for (let i = 0; i < length; i++) out += ALPHABET[randomInt(ALPHABET.length)];
  return out;
}

export function pinProblem(pin: string): string | null {
  if (!/^[0-9]{4,10}$/.test(pin)) return 'must be 4 to 10 digits';
  if (/^(\d)\1+$/.test(pin) || '01234567890'.includes(pin) || '09876543210'.includes(pin)) return 'is too easy to guess';
  return null;
}

export async function hashPin(pin: string): Promise<string> {
  const salt = randomBytes(16);
  return `scrypt$${salt.toString('hex')}$${(await scryptAsync(pin, salt, 32)).toString('hex')}`;
}

export async function verifyPin(pin: string, stored: string | null): Promise<boolean> {
  if (!stored) return false;
  const [scheme, saltHex, hashHex] = stored.split('$');
  if (scheme !== 'scrypt' || !saltHex || !hashHex) return false;
  const want = Buffer.from(hashHex, 'hex');
  const got = await scryptAsync(pin, Buffer.from(saltHex, 'hex'), want.length);
  return got.length === want.length && timingSafeEqual(want, got);
}
