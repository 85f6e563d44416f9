/**
 * The IVR's edges: what running a flow needs from the rest of the daemon (IvrPort, filled in by
 * app.ts) and what a caller's time in flows leaves in the call's CDR (IvrRecord). Types only: the
 * IVR core imports nothing from calls/; calls/ivr-call.ts runs flows against these.
 */
import type { FlowDefinition } from './model.js';
import type { LookupError, PathEntry } from './interpreter.js';

export interface PublishedFlow {
  readonly name: string;
  readonly version: number;
  readonly definition: FlowDefinition;
}

export type LookupResult = { readonly ok: true; readonly body: unknown } | { readonly ok: false; readonly error: LookupError; readonly status?: number };

/** What the IVR needs from the rest of the daemon. */
export interface IvrPort {
  readonly siteTimezone: string;
  loadFlow(name: string): Promise<PublishedFlow | null>;
  /** Media URI of an uploaded prompt, or null when it is gone. */
  promptMedia(id: string): Promise<string | null>;
  /** Media URI of `text` spoken by espeak-ng (rendered once, then cached). */
  speak(text: string, language: string, voice: string | undefined): Promise<string>;
  /** GET `url` with the caller's and dialed number and `params` as query parameters; never throws. */
  lookup(
    url: string,
    params: Readonly<Record<string, string>>,
    timeoutMs: number,
    call: { readonly callerNumber: string | null; readonly dialedNumber: string | null },
  ): Promise<LookupResult>;
}

/** What the CDR keeps of the caller's time in IVR flows. */
export interface IvrRecord {
  readonly flows: readonly { readonly name: string; readonly version: number }[];
  readonly path: readonly PathEntry[];
}
