/**
 * A callback's id is the id of the queued call it replaces plus `-cb` (a queued call asks for at
 * most one callback). The ACD's call log, the live rows and the CDRs tell a callback's call from
 * a caller's own by it (docs/acd.md#callbacks).
 */
const SUFFIX = '-cb';

export const callbackIdOf = (callId: string): string => `${callId}${SUFFIX}`;

export const isCallbackId = (id: string): boolean => id.endsWith(SUFFIX);

/** The queued call a callback belongs to (the id itself when it is none). */
export const callerCallIdOf = (id: string): string => (isCallbackId(id) ? id.slice(0, -SUFFIX.length) : id);
