/**
 * Capped exponential backoff with "equal jitter": the delay for attempt n is
 * uniformly drawn from [d/2, d] where d = min(max, base * 2^n). Never zero, never above the cap,
 * and reconnecting daemons spread out instead of stampeding a restarted Asterisk.
 */
export interface BackoffPolicy {
  readonly baseMs: number;
  readonly maxMs: number;
}

export function backoffDelay(attempt: number, policy: BackoffPolicy, random: () => number = Math.random): number {
  const exp = Math.min(policy.maxMs, policy.baseMs * 2 ** Math.min(Math.max(attempt, 0), 30));
  const half = exp / 2;
  return Math.round(half + random() * half);
}
