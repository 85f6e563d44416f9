/**
 * Secrets the daemon must read back in plaintext (an extension's SIP password, for the phone's
 * provisioning file), kept in Postgres encrypted with AES-256-GCM under PBX_SECRET_KEY. The key is
 * in the env file only (mode 600, never rendered into an Asterisk config), so the database login
 * that Asterisk's res_pgsql.conf holds reads ciphertext, not passwords.
 *
 * Sealed text: `v1:<iv>:<tag>:<ciphertext>` (base64 each; 12-byte random IV, 16-byte tag). The
 * `context` (e.g. `sip-password:1001`) is bound as additional authenticated data: a sealed value
 * moved to another row does not open there. The format is frozen: migration
 * 2026-12-07T03-00-00_sip_password_digest writes it with its own copy of this code.
 */
import { createCipheriv, createDecipheriv, randomBytes } from 'node:crypto';

const VERSION = 'v1';

export class SecretBox {
  private readonly key: Buffer;

  constructor(key: Buffer) {
    if (key.length !== 32) throw new Error('a SecretBox key is 32 bytes (AES-256)');
    this.key = Buffer.from(key);
  }

  seal(plaintext: string, context: string): string {
    const iv = randomBytes(12);
    const cipher = createCipheriv('aes-256-gcm', this.key, iv);
    cipher.setAAD(Buffer.from(context, 'utf8'));
    const data = Buffer.concat([cipher.update(plaintext, 'utf8'), cipher.final()]);
    return [VERSION, iv.toString('base64'), cipher.getAuthTag().toString('base64'), data.toString('base64')].join(':');
  }

  /** The plaintext; throws when the text was sealed under another key or context, or was altered. */
  open(sealed: string, context: string): string {
    const [version, iv, tag, data, ...rest] = sealed.split(':');
    if (version !== VERSION || iv === undefined || tag === undefined || data === undefined || rest.length > 0) {
      throw new Error('sealed secret: unknown format');
    }
    const decipher = createDecipheriv('aes-256-gcm', this.key, Buffer.from(iv, 'base64'));
    decipher.setAAD(Buffer.from(context, 'utf8'));
    decipher.setAuthTag(Buffer.from(tag, 'base64'));
    try {
      return Buffer.concat([decipher.update(Buffer.from(data, 'base64')), decipher.final()]).toString('utf8');
    } catch {
      throw new Error('sealed secret does not open with PBX_SECRET_KEY (another key, or altered)');
    }
  }
}

/** PBX_SECRET_KEY's text (base64 of 32 random bytes, as deploy/gen-env.sh writes it) -> the key, or null if malformed. */
export function parseSecretKey(text: string): Buffer | null {
  if (!/^[A-Za-z0-9+/]{43}=$/.test(text.trim())) return null;
  const key = Buffer.from(text.trim(), 'base64');
  return key.length === 32 ? key : null;
}
