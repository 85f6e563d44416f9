/**
 * Distinctive ring and auto-answer in the phone files (docs/acd.md#distinctive-ring): which
 * queues' Alert-Info values the files map to a ring tone, and whether they let the phone answer
 * by itself when the daemon asks (an agent with autoAnswer). Pure: the queues and the flag in,
 * the rules out; render.ts writes them in each vendor's words.
 */

/** Rules a phone file carries: Yealink and Grandstream have 10 slots for Alert-Info texts. */
export const MAX_RING_RULES = 10;

export interface RingRule {
  /** 1..MAX_RING_RULES: the slot, and the ring tone picked for it (each vendor's table in render.ts) */
  readonly tone: number;
  /** the Alert-Info value as the daemon sends it */
  readonly alertInfo: string;
  /** its `info=` text (what Yealink and Grandstream match); null for a bare URI such as Bellcore-drN */
  readonly info: string | null;
  /** the queues that send it, by name */
  readonly queues: readonly string[];
}

export interface RingSettings {
  readonly rules: readonly RingRule[];
  /** some agent has autoAnswer: the phone may answer when the offer's headers ask it to */
  readonly autoAnswer: boolean;
}

export const NO_RING_SETTINGS: RingSettings = { rules: [], autoAnswer: false };

/** The `info=` parameter of an Alert-Info value (`<uri>;info=x` or `info=x`), or null. */
export function infoText(alertInfo: string): string | null {
  const params = alertInfo.startsWith('<') ? alertInfo.slice(alertInfo.indexOf('>') + 1) : `;${alertInfo}`;
  const m = /;info=([^;]+)/i.exec(params);
  return m ? m[1]! : null;
}

/**
 * One rule per distinct Alert-Info value, in queue-name order (a value's first queue places it);
 * values past MAX_RING_RULES are left out (the phone plays its default ring for them).
 */
export function ringRules(queues: readonly { readonly name: string; readonly alertInfo: string }[]): RingRule[] {
  const byValue = new Map<string, string[]>();
  for (const q of [...queues].sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0))) {
    const names = byValue.get(q.alertInfo);
    if (names) names.push(q.name);
    else byValue.set(q.alertInfo, [q.name]);
  }
  return [...byValue]
    .slice(0, MAX_RING_RULES)
    .map(([alertInfo, names], i) => ({ tone: i + 1, alertInfo, info: infoText(alertInfo), queues: names }));
}
