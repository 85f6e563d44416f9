import { describe, expect, it } from 'vitest';
import { connected, fakeQueueAcd, fakeRecordingDeps as recording, setup, target } from '../support/session-harness.js';

const bridges = (calls: string[]) => calls.filter((c) => c.startsWith('createBridge'));

describe('the call bridge raises key events only where the handset recording key can work (session.ts)', () => {
  it('an extension calls an extension, policy on-demand: dtmf events (the key works)', async () => {
    const s = await connected({ recording: recording('on-demand') });
    expect(bridges(s.calls)).toEqual(['createBridge call-1-bridge {"dtmfEvents":true}']);
  });

  it('policy never: a plain mixing bridge (Asterisk may relay the media natively)', async () => {
    const s = await connected({ recording: recording('never') });
    expect(bridges(s.calls)).toEqual(['createBridge call-1-bridge {"dtmfEvents":false}']);
  });

  it('no recording at all (no recording deps): a plain bridge', async () => {
    const s = await connected();
    expect(bridges(s.calls)).toEqual(['createBridge call-1-bridge {"dtmfEvents":false}']);
  });

  it('a carrier\'s caller forwarded to an outside number: no phone of ours on the call, a plain bridge', async () => {
    const s = await connected({
      recording: recording('on-demand'),
      channelName: 'PJSIP/trunk-carrier-00000001',
      caller: ['4930222444', 'Outside'],
      dialed: '0301234567',
      route: { kind: 'outbound', dialed: '0301234567' },
      lookup: async (n) => ({ ...target(n), endpoint: `PJSIP/${n}@trunk-main` }),
    });
    expect(bridges(s.calls)).toEqual(['createBridge call-1-bridge {"dtmfEvents":false}']);
  });

  it('a carrier\'s caller to an extension: the extension\'s phone may press the key, dtmf events', async () => {
    const s = await connected({ recording: recording(null), channelName: 'PJSIP/trunk-carrier-00000001', caller: ['4930222444', 'Outside'] });
    expect(bridges(s.calls)).toEqual(['createBridge call-1-bridge {"dtmfEvents":true}']);
  });

  it('a queue call: the agent\'s phone, dtmf events unless never', async () => {
    for (const [policy, dtmf] of [['on-demand', true], ['never', false]] as const) {
      const { acd, offer } = fakeQueueAcd();
      const s = setup({ recording: recording(policy), acd, route: { kind: 'queue', queue: 'support' }, channelName: 'PJSIP/trunk-carrier-00000001' });
      await s.session.enqueue({ type: 'stasis-start' });
      void offer();
      await s.session.enqueue({ type: 'playback-finished', playbackId: 'none' }); // after the offer's event: the agent's phone rings
      const leg = [...s.legs.keys()].find((l) => l.includes('-agent-'))!;
      await s.session.enqueue({ type: 'b-answered', legId: leg });
      expect(bridges(s.calls), policy).toEqual([`createBridge call-1-bridge {"dtmfEvents":${dtmf}}`]);
    }
  });

  it('*# from the carrier\'s caller does nothing; from the extension\'s phone it starts the recording', async () => {
    const recorded: string[] = [];
    const s = await connected({ recording: recording('on-demand', recorded), channelName: 'PJSIP/trunk-carrier-00000001', caller: ['4930222444', 'Outside'] });
    await s.session.enqueue({ type: 'dtmf', digit: '*', fromPhone: false });
    await s.session.enqueue({ type: 'dtmf', digit: '#', fromPhone: false });
    await s.session.recordingCommand('resume', 'api');
    expect(recorded).toEqual([]);
    await s.session.enqueue({ type: 'dtmf', digit: '*', fromLeg: true, fromPhone: true });
    await s.session.enqueue({ type: 'dtmf', digit: '#', fromLeg: true, fromPhone: true });
    await s.session.recordingCommand('resume', 'api');
    expect(recorded).toEqual(['start chan-a']);
  });
});

