import { describe, expect, it } from 'vitest';
import {
  ABANDON_LEAD_MS,
  LEGAL_CONNECT_MS,
  cleanCallerName,
  connectWaitMs,
  notAnsweredOf,
  originateAction,
  parseCampaignArgs,
  trunkNumber,
} from '../../src/calls/campaign-originate.js';
import type { OriginateRequest } from '../../src/campaigns/ports.js';

const req: OriginateRequest = {
  attemptId: '42-1',
  campaignId: '7',
  number: '+4930123456',
  trunk: 'carrier',
  callerId: '+4930999000',
  callerName: 'Acme Sales',
  ringSeconds: 20,
  amd: true,
};

describe('campaign originate', () => {
  it('is an async Originate on the trunk into [pbx-campaign], the attempt id as channel id, ring time in ms', () => {
    expect(originateAction(req, '030123456')).toEqual({
      action: 'Originate',
      actionid: 'campaign:42-1',
      channel: 'PJSIP/030123456@trunk-carrier',
      context: 'pbx-campaign',
      exten: 's',
      priority: '1',
      timeout: '20000',
      callerid: '"Acme Sales" <+4930999000>',
      channelid: '42-1',
      codecs: 'ulaw,alaw,g722,gsm,opus',
      variable: 'CAMPAIGN_AMD=1,CAMPAIGN_MACHINE_MESSAGE=0,CAMPAIGN_NUMBER=030123456',
      async: 'true',
    });
    expect(originateAction({ ...req, amd: false, callerName: null }, '+4930123456')).toMatchObject({ callerid: '<+4930999000>', variable: 'CAMPAIGN_AMD=0,CAMPAIGN_MACHINE_MESSAGE=0,CAMPAIGN_NUMBER=+4930123456' });
    // A machine gets a message: [pbx-campaign] waits for the end of the greeting first (only with AMD: no machine is known without it).
    expect(originateAction({ ...req, machineMessage: true }, '030123456').variable).toBe('CAMPAIGN_AMD=1,CAMPAIGN_MACHINE_MESSAGE=1,CAMPAIGN_NUMBER=030123456');
    expect(originateAction({ ...req, amd: false, machineMessage: true }, '030123456').variable).toBe('CAMPAIGN_AMD=0,CAMPAIGN_MACHINE_MESSAGE=0,CAMPAIGN_NUMBER=030123456');
  });

  it('refuses anything that is not safe in an AMI action or a dial string', () => {
    expect(() => originateAction({ ...req, attemptId: '42-1,x' }, '030')).toThrow(/attempt id/);
    expect(() => originateAction({ ...req, callerId: '123&Local/1' }, '030')).toThrow(/caller id/);
    expect(() => originateAction(req, '030&PJSIP/1')).toThrow(/number/);
    expect(() => originateAction({ ...req, trunk: 'x/y' }, '030')).toThrow(/trunk/);
    expect(() => originateAction({ ...req, ringSeconds: 14 }, '030')).toThrow(/ring time/);
    expect(cleanCallerName('"Evil" <1> \\ \r\nname')).toBe('Evil 1  name');
  });

  it("sends the trunk the number its outbound route makes of the E.164 number, else the E.164 number", () => {
    const route = (id: string, pattern: string, strip: number, prepend: string, trunkName: string, priority = 10) =>
      ({ id, name: id, pattern, strip, prepend, trunkId: '1', priority, requiredClass: 'national' as const, trunkName });
    const routes = [route('1', '_+49.', 3, '0', 'carrier', 20), route('2', '_+4930.', 3, '0', 'other', 5), route('3', '_+44.', 1, '00', 'carrier')];
    expect(trunkNumber(routes, 'carrier', '+4930123456')).toBe('030123456');
    expect(trunkNumber(routes, 'carrier', '+44201234567')).toBe('0044201234567');
    expect(trunkNumber(routes, 'carrier', '+33123456789')).toBe('+33123456789');
  });
});

describe('OriginateResponse -> not answered', () => {
  it.each([
    [5, null, 'busy'],
    [3, null, 'no-answer'],
    [8, null, 'failed'],
    [1, 17, 'busy'],
    [1, 21, 'busy'],
    [1, 19, 'no-answer'],
    [1, 18, 'no-answer'],
    [1, 16, 'no-answer'],
    [1, 1, 'failed'],
    [1, null, 'failed'],
    [0, 17, 'busy'],
    [0, 19, 'failed'],
    [0, null, 'failed'],
    [0, 34, 'failed'],
  ] as const)('reason %i, cause %s -> %s', (reason, cause, outcome) => {
    expect(notAnsweredOf(reason, cause)).toBe(outcome);
  });
});

describe('Stasis arguments of a campaign contact', () => {
  it('reads the attempt, AMD and the answer time', () => {
    expect(parseCampaignArgs(['42-1', 'HUMAN', 'HUMAN-800-800', '1765000000123', '+4930123456'])).toEqual({
      attemptId: '42-1',
      amd: { status: 'HUMAN', cause: 'HUMAN-800-800' },
      answeredAtMs: 1765000000123,
      number: '+4930123456',
    });
    expect(parseCampaignArgs(['42-1', '', '', '1765000000123', '030123456'])).toEqual({ attemptId: '42-1', amd: null, answeredAtMs: 1765000000123, number: '030123456' });
  });

  it('keeps nothing it does not know', () => {
    expect(parseCampaignArgs([])).toBeNull();
    expect(parseCampaignArgs(['x y'])).toBeNull();
    expect(parseCampaignArgs(['42-1', 'ROBOT', 'X', 'soon', '12*'])).toEqual({ attemptId: '42-1', amd: null, answeredAtMs: null, number: null });
  });
});

describe('connect deadline', () => {
  it('gives an agent the campaign\'s time, never past the law\'s 2 s less the time to start the message', () => {
    expect(LEGAL_CONNECT_MS).toBe(2000);
    expect(connectWaitMs(1000, 1000, 1000)).toBe(1000);
    expect(connectWaitMs(1000, 1000, 2000)).toBe(2000 - ABANDON_LEAD_MS);
    expect(connectWaitMs(1000, 1000, 5000)).toBe(2000 - ABANDON_LEAD_MS);
    expect(connectWaitMs(1000, 1400, 1000)).toBe(600);
  });

  it('gives up at once when the time is gone (the dialer was slow to answer)', () => {
    expect(connectWaitMs(1000, 3000, 2000)).toBe(0);
    expect(connectWaitMs(1000, 1000, -5)).toBe(0);
  });
});
