/**
 * One call's recording as a state machine, pure (docs/recording.md#on-demand-and-pci-pause):
 *
 *   idle --start--> recording --pause--> paused --resume--> recording --stop--> stopped
 *                       \------------------------------------------stop--/
 *
 * A paused recording keeps running in Asterisk with its audio muted (the file holds silence), and
 * each pause stretch is kept with its times and who asked (the API, an IVR node, the handset). A
 * stopped recording is not started again on the same call: a second start makes a second recording.
 * Refusals carry the stable error codes the API answers with (409).
 */
import type { RecordingPause } from '../recordings/tables.js';

export type RecordingPhase = 'idle' | 'recording' | 'paused' | 'stopped';
export type PauseBy = RecordingPause['by'];

export interface RecordingMachine {
  readonly phase: RecordingPhase;
  readonly pauses: readonly RecordingPause[];
}

export type RecordingCommand =
  | { readonly type: 'start' }
  | { readonly type: 'stop'; readonly at: Date }
  | { readonly type: 'pause'; readonly at: Date; readonly by: PauseBy }
  | { readonly type: 'resume'; readonly at: Date };

export type RecordingRefusal = 'recording-already-active' | 'recording-not-active' | 'recording-already-paused' | 'recording-not-paused';

export type RecordingStep =
  | { readonly ok: true; readonly machine: RecordingMachine; readonly effect: 'start' | 'stop' | 'mute' | 'unmute' }
  | { readonly ok: false; readonly refusal: RecordingRefusal };

export const idleRecording: RecordingMachine = { phase: 'idle', pauses: [] };

export function stepRecording(m: RecordingMachine, cmd: RecordingCommand): RecordingStep {
  switch (cmd.type) {
    case 'start':
      if (m.phase === 'recording' || m.phase === 'paused') return { ok: false, refusal: 'recording-already-active' };
      return { ok: true, machine: { phase: 'recording', pauses: [] }, effect: 'start' };
    case 'stop':
      if (m.phase !== 'recording' && m.phase !== 'paused') return { ok: false, refusal: 'recording-not-active' };
      return { ok: true, machine: { phase: 'stopped', pauses: closePauses(m.pauses, cmd.at) }, effect: 'stop' };
    case 'pause':
      if (m.phase === 'paused') return { ok: false, refusal: 'recording-already-paused' };
      if (m.phase !== 'recording') return { ok: false, refusal: 'recording-not-active' };
      return { ok: true, machine: { phase: 'paused', pauses: [...m.pauses, { from: cmd.at.toISOString(), to: null, by: cmd.by }] }, effect: 'mute' };
    case 'resume':
      if (m.phase === 'recording') return { ok: false, refusal: 'recording-not-paused' };
      if (m.phase !== 'paused') return { ok: false, refusal: 'recording-not-active' };
      return { ok: true, machine: { phase: 'recording', pauses: closePauses(m.pauses, cmd.at) }, effect: 'unmute' };
  }
}

/** Every open pause stretch ends at `at` (a resume, a stop, the call's end). */
export function closePauses(pauses: readonly RecordingPause[], at: Date): RecordingPause[] {
  return pauses.map((p) => (p.to === null ? { ...p, to: at.toISOString() } : p));
}
