import { describe, expect, it } from 'vitest';
import { isPgUnreachable, markPgUnreachable } from '../../src/shared/pg-errors.js';

const withCode = (code: string): Error => Object.assign(new Error('whatever the text says'), { code });

describe('isPgUnreachable', () => {
  it('is true for the SQLSTATEs of a server that cannot serve us now', () => {
    for (const code of ['08000', '08001', '08003', '08006', '08P01', '53300', '57P01', '57P02', '57P03']) {
      expect(isPgUnreachable(withCode(code)), code).toBe(true);
    }
  });

  it('is false for statement errors, node errno codes on their own, and no code', () => {
    for (const code of ['23505', '23503', '40001', '57014', '42P01', 'ECONNREFUSED', 'EPIPE', '0800']) {
      expect(isPgUnreachable(withCode(code)), code).toBe(false);
    }
    expect(isPgUnreachable(new Error('Connection terminated unexpectedly'))).toBe(false);
    expect(isPgUnreachable('08006')).toBe(false);
    expect(isPgUnreachable(null)).toBe(false);
  });

  it('is true for an error the pool adapter marked, whatever its code or text', () => {
    const err = new Error('timeout exceeded when trying to connect');
    expect(markPgUnreachable(err)).toBe(err);
    expect(isPgUnreachable(err)).toBe(true);
    expect(isPgUnreachable(markPgUnreachable(withCode('ECONNREFUSED')))).toBe(true);
  });

  it('marks nothing it cannot: primitives and frozen objects pass through unchanged', () => {
    expect(markPgUnreachable('down')).toBe('down');
    const frozen = Object.freeze(new Error('frozen'));
    expect(markPgUnreachable(frozen)).toBe(frozen);
    expect(isPgUnreachable(frozen)).toBe(false);
  });
});
