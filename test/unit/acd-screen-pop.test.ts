import { describe, expect, it } from 'vitest';
import {
  alertInfoProblem,
  AUTO_ANSWER_ALERT_INFO,
  cut,
  DISPLAY_WIDTH,
  offerHeaders,
  parseCallerIdTemplate,
  renderCallerIdName,
  sanitize,
  type CallerIdTemplate,
} from '../../src/acd/screen-pop.js';
import { handsetOffer } from '../../src/calls/handset-offer.js';

function parsed(template: string): CallerIdTemplate {
  const t = parseCallerIdTemplate(template);
  if ('problem' in t) throw new Error(t.problem);
  return t;
}
const problem = (template: string) => {
  const t = parseCallerIdTemplate(template);
  return 'problem' in t ? t.problem : null;
};

describe('caller-ID name template', () => {
  it('takes a label, the caller and one IVR variable', () => {
    const t = parsed('SALES:{caller} #{account}');
    expect(t.variable).toBe('account');
    expect(renderCallerIdName(t, { name: 'Ada Lovelace', number: '4930222333', variables: { account: '1234' } })).toBe('SALES:Ada Lovelace #1234');
  });

  it('shows the number when the caller has no name; a missing variable shows as nothing', () => {
    const t = parsed('SALES: {caller} {account}');
    expect(renderCallerIdName(t, { name: null, number: '4930222333', variables: {} })).toBe('SALES: 4930222333');
    expect(renderCallerIdName(parsed('{number}'), { name: 'Ada', number: null, variables: {} })).toBe('');
  });

  it('refuses what is not a template, naming the problem', () => {
    expect(problem('')).toMatch(/1 to 64/);
    expect(problem('x'.repeat(65) + '{caller}')).toMatch(/1 to 64/);
    expect(problem('SALES:')).toMatch(/must show the caller/);
    expect(problem('{account}')).toMatch(/must show the caller/);
    expect(problem('{caller} {a} {b}')).toMatch(/at most one IVR variable/);
    expect(problem('{caller} {Account}')).toMatch(/not a placeholder/);
    expect(problem('{caller')).toMatch(/unmatched/);
    expect(problem('"VIP" {caller}')).toMatch(/quotes/);
    expect(problem('<b>{caller}')).toMatch(/angle brackets/);
    expect(problem('A\u0007{caller}')).toMatch(/control/);
    expect(problem('A\\{caller}')).toMatch(/backslash/);
    // The same variable twice is one variable.
    expect(problem('{caller} {acct} {acct}')).toBeNull();
  });

  it('sanitises what the caller and the IVR supply (quotes, brackets, control characters)', () => {
    const t = parsed('Q:{caller}/{account}');
    const name = renderCallerIdName(t, { name: '"Evil" <sip:x@y>\r\nVia: z', number: '1', variables: { account: '12\u0000"3' } });
    expect([...name].filter((c) => '"<>\r\n\u0000'.includes(c))).toEqual([]);
    expect(name.startsWith('Q:Evil sip:x@y Via:')).toBe(true);
    expect(sanitize('a\u200bb\tc  d')).toBe('a b c d');
  });

  it(`is cut to the display width (${DISPLAY_WIDTH}), shortening the caller's name first`, () => {
    const t = parsed('SALES:{caller} #{account}');
    const out = renderCallerIdName(t, { name: 'Maximilian Alexander Fitzgerald-Smythe', number: '1', variables: { account: '98765' } });
    expect(Array.from(out).length).toBeLessThanOrEqual(DISPLAY_WIDTH);
    expect(out.startsWith('SALES:Maximilian')).toBe(true);
    expect(out.endsWith(' #98765')).toBe(true);
    // A number is never shortened in the middle: the whole is cut at the end.
    const n = renderCallerIdName(parsed('SUPPORT-LINE-LONG:{caller}'), { name: null, number: '4930222333444', variables: {} });
    expect(n).toBe('SUPPORT-LINE-LONG:493022');
    expect(renderCallerIdName(t, { name: 'Ada', number: '1', variables: {} }, 5)).toBe('SALES');
  });

  it('counts characters, not UTF-16 units', () => {
    expect(cut('😀😀😀', 2)).toBe('😀😀');
    expect(renderCallerIdName(parsed('{caller}'), { name: 'Zoë 😀 Müller', number: null, variables: {} }, 6)).toBe('Zoë 😀');
  });
});

describe('Alert-Info and auto-answer', () => {
  it('accepts the forms phones map, refuses header injection', () => {
    for (const ok of ['<http://127.0.0.1/Bellcore-dr2>', '<http://127.0.0.1>;info=ring2', 'info=ring2', '<sip:ring@pbx>;info=alert-group;x']) expect(alertInfoProblem(ok)).toBeNull();
    for (const bad of ['', 'ring 2', 'info=ring2\r\nX: y', '<javascript:x>', '"ring2"', '<http://a b>', 'x'.repeat(201)]) expect(alertInfoProblem(bad)).not.toBeNull();
  });

  it('sets the queue ring, or auto-answer (which replaces it) for a headset agent', () => {
    expect(offerHeaders({ alertInfo: null, autoAnswer: false })).toEqual({});
    expect(offerHeaders({ alertInfo: 'info=ring2', autoAnswer: false })).toEqual({ 'PJSIP_HEADER(add,Alert-Info)': 'info=ring2' });
    const auto = offerHeaders({ alertInfo: 'info=ring2', autoAnswer: true });
    expect(auto['PJSIP_HEADER(add,Alert-Info)']).toBe(AUTO_ANSWER_ALERT_INFO);
    expect(auto['PJSIP_HEADER(add,Call-Info)']).toMatch(/answer-after=0$/);
  });
});

describe('handsetOffer (what the agent leg is originated with)', () => {
  const caller = { name: 'Ada "A" Lovelace', number: '4930222333', variables: { account: '1234' } };
  it('without settings: the caller name, sanitised, and no headers', () => {
    expect(handsetOffer(undefined, caller)).toEqual({ name: 'Ada A Lovelace', variables: {} });
  });
  it("with the queue's template and ring, and auto-answer", () => {
    const handset = { callerIdTemplate: 'SALES:{caller} #{account}', alertInfo: '<http://127.0.0.1/Bellcore-dr2>', autoAnswer: false };
    expect(handsetOffer(handset, caller)).toEqual({ name: 'SALES:Ada A Lovela #1234', variables: { 'PJSIP_HEADER(add,Alert-Info)': '<http://127.0.0.1/Bellcore-dr2>' } });
    expect(Object.keys(handsetOffer({ ...handset, autoAnswer: true }, caller).variables)).toEqual(['PJSIP_HEADER(add,Alert-Info)', 'PJSIP_HEADER(add,Call-Info)']);
    // A stored template that no longer parses shows the plain caller.
    expect(handsetOffer({ ...handset, callerIdTemplate: '{' }, caller).name).toBe('Ada A Lovelace');
  });
});
