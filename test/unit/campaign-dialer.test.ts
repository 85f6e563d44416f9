/**
 * The AMI AttemptDialer (src/calls/campaign-dialer.ts) against a fake AMI: what it sends, and
 * which AMI events become which report (OriginateResponse with the leg's Hangup cause,
 * PbxCampaignUnserved); AMI down rejects.
 */
import { describe, expect, it } from 'vitest';
import { pino } from 'pino';
import { AmiAttemptDialer } from '../../src/calls/campaign-dialer.js';
import type { AmiEvent } from '../../src/telephony/ami.js';
import type { CampaignCallReports, OriginateRequest } from '../../src/campaigns/ports.js';
import { AppError } from '../../src/errors.js';
import { eventually } from '../support/wait.js';

const req: OriginateRequest = { attemptId: '42-1', campaignId: '7', number: '+4930123456', trunk: 'carrier', callerId: '+4930999000', callerName: null, ringSeconds: 20, amd: false };

function dialer(o: { down?: boolean } = {}) {
  const sent: Record<string, string>[] = [];
  const said: string[] = [];
  let handler: (e: AmiEvent) => void = () => undefined;
  let t = 1_000_000;
  const reports: CampaignCallReports = {
    notAnswered: async (id, outcome, d) => void said.push(`not-answered ${id} ${outcome} cause=${d.cause} ring=${d.ringMs}`),
    answered: async (id, channel, amd, ringMs) => (said.push(`answered ${id} ${amd?.status} ${amd?.cause} ring=${ringMs}`), { kind: 'hangup' }),
    connected: async () => undefined,
    abandoned: async () => undefined,
    ended: async (id) => void said.push(`ended ${id}`),
  };
  const d = new AmiAttemptDialer({
    ami: {
      action: async (fields) => {
        if (o.down) throw new AppError('asterisk-unavailable', 503, 'Asterisk AMI is not connected');
        sent.push(fields);
        return { response: 'Success' };
      },
      onEvent: (h) => (handler = h),
    },
    reports: () => reports,
    routes: async () => [{ id: '1', name: 'de', pattern: '_+49.', strip: 3, prepend: '0', trunkId: '1', priority: 1, requiredClass: 'national', trunkName: 'carrier' }],
    log: pino({ level: 'silent' }),
    now: () => t,
  });
  const event = (e: Record<string, string>) => handler(e as AmiEvent);
  return { d, sent, said, event, advance: (ms: number) => (t += ms) };
}

describe('AMI AttemptDialer', () => {
  it('originates on the trunk with the number its route makes', async () => {
    const { d, sent } = dialer();
    await d.originate(req);
    expect(sent[0]).toMatchObject({ action: 'Originate', channel: 'PJSIP/030123456@trunk-carrier', channelid: '42-1', actionid: 'campaign:42-1', async: 'true' });
  });

  it('rejects when AMI is down', async () => {
    await expect(dialer({ down: true }).d.originate(req)).rejects.toMatchObject({ code: 'asterisk-unavailable' });
  });

  it('busy: OriginateResponse reason 5, with the ring time', async () => {
    const { d, said, event, advance } = dialer();
    await d.originate(req);
    advance(1200);
    event({ event: 'OriginateResponse', actionid: 'campaign:42-1', response: 'Failure', reason: '5' });
    expect(said).toEqual(['not-answered 42-1 busy cause=null ring=1200']);
  });

  it('reason 1 (hung up): the leg\'s Hangup cause decides, even when it comes after the response', async () => {
    const { d, said, event } = dialer();
    await d.originate(req);
    event({ event: 'OriginateResponse', actionid: 'campaign:42-1', response: 'Failure', reason: '1' });
    event({ event: 'Hangup', uniqueid: '42-1', cause: '21' });
    await eventually(async () => (said.length ? true : undefined), 2000, 'reported');
    expect(said).toEqual(['not-answered 42-1 busy cause=21 ring=0']);
  });

  it('answered: nothing until the app has the call; a hangup during AMD is answered (HANGUP) then ended', async () => {
    const { d, said, event, advance } = dialer();
    await d.originate(req);
    advance(4000);
    event({ event: 'OriginateResponse', actionid: 'campaign:42-1', response: 'Success', reason: '4' });
    event({ event: 'Hangup', uniqueid: '42-1', cause: '16' });
    expect(said).toEqual([]);
    event({ event: 'UserEvent', userevent: 'PbxCampaignUnserved', attempt: '42-1', amdstatus: 'HANGUP', amdcause: 'HANGUP-1200' });
    await eventually(async () => (said.length === 2 ? true : undefined), 2000, 'reported');
    expect(said).toEqual(['answered 42-1 HANGUP HANGUP-1200 ring=4000', 'ended 42-1']);
  });

  it('a machine that hangs up while [pbx-campaign] waits for its beep: answered (MACHINE) then ended, not failed', async () => {
    const { d, said, event, advance } = dialer();
    await d.originate({ ...req, amd: true, machineMessage: true });
    advance(3000);
    event({ event: 'OriginateResponse', actionid: 'campaign:42-1', response: 'Success', reason: '4' });
    event({ event: 'UserEvent', userevent: 'PbxCampaignUnserved', attempt: '42-1', amdstatus: 'MACHINE', amdcause: 'MAXWORDS-3-2' });
    await eventually(async () => (said.length === 2 ? true : undefined), 2000, 'reported');
    expect(said).toEqual(['answered 42-1 MACHINE MAXWORDS-3-2 ring=3000', 'ended 42-1']);
  });

  it('answered but no daemon listened: failed; responses of other originates are not ours', async () => {
    const { d, said, event } = dialer();
    await d.originate(req);
    event({ event: 'OriginateResponse', actionid: '1765000', response: 'Failure', reason: '5' });
    event({ event: 'OriginateResponse', actionid: 'campaign:42-1', response: 'Success', reason: '4' });
    event({ event: 'UserEvent', userevent: 'PbxCampaignUnserved', attempt: '42-1', amdstatus: '' });
    expect(said).toEqual(['not-answered 42-1 failed cause=null ring=0']);
  });
});
