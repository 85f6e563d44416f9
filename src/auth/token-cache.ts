/**
 * A short-lived memory of the tokens this daemon has found valid, so that a burst of requests with
 * one token costs one Postgres query per TOKEN_CACHE_MS instead of one per request (docs/api.md, tokens).
 * Pure: the clock is passed in.
 *
 * Correctness:
 * - Only valid tokens are kept (a miss is never remembered: a token created on another daemon or
 *   by `pbx token create` works at once).
 * - The expiry and the role are checked on every use from the kept row (an expired token is
 *   refused the moment it expires).
 * - A revocation on this daemon forgets the token at once (`forget`); a lookup that read the row
 *   before the revocation committed cannot put it back (`generation`: a row read under an older
 *   generation is not kept).
 * - On other daemons (and for a user disabled in SQL), the kept row is at most TOKEN_CACHE_MS old:
 *   that is the bound after which a revoked token stops working everywhere.
 */

/** How long a valid token's row is used without asking Postgres again. */
export const TOKEN_CACHE_MS = 5_000;
/** More distinct tokens than this within TOKEN_CACHE_MS: everything kept is dropped (a bound on memory). */
export const TOKEN_CACHE_MAX = 10_000;

interface Kept<Row> {
  readonly row: Row;
  readonly until: number;
}

export class TokenCache<Row extends { readonly tokenId: string }> {
  private readonly kept = new Map<string, Kept<Row>>();
  private gen = 0;

  constructor(
    private readonly ttlMs = TOKEN_CACHE_MS,
    private readonly max = TOKEN_CACHE_MAX,
  ) {}

  /** The generation to pass to `keep` for a row read from now on. */
  get generation(): number {
    return this.gen;
  }

  /** The kept row for this token hash, if younger than the TTL. */
  get(hash: string, nowMs: number): Row | undefined {
    const k = this.kept.get(hash);
    if (!k) return undefined;
    if (k.until <= nowMs) {
      this.kept.delete(hash);
      return undefined;
    }
    return k.row;
  }

  /** Keeps a valid token's row, unless a token was forgotten since it was read (`readAt` generation). */
  keep(hash: string, row: Row, readAt: number, nowMs: number): void {
    if (readAt !== this.gen) return;
    if (this.kept.size >= this.max && !this.kept.has(hash)) this.kept.clear();
    this.kept.set(hash, { row, until: nowMs + this.ttlMs });
  }

  /** Replaces a kept row (e.g. its last-used time) without extending its life. */
  update(hash: string, row: Row): void {
    const k = this.kept.get(hash);
    if (k) this.kept.set(hash, { row, until: k.until });
  }

  /** Forgets a token (revoked): its next use reads Postgres. */
  forget(tokenId: string): void {
    this.gen++;
    for (const [hash, k] of this.kept) if (k.row.tokenId === tokenId) this.kept.delete(hash);
  }
}
