/**
 * A queue call with a post-call survey, in the call session against a fake Asterisk
 * (docs/acd.md#post-call-survey): the agent hangs up, the caller is not hung up but goes into the
 * queue's survey flow as the call's next part; the queue call's CDR ends there (endedBy agent), the
 * survey's is its own (linked); the answers go to the survey port with the queue call's id, queue
 * and agent. Without a survey, or when the caller hung up first, the call ends as before.
 */
import { describe, expect, it, vi } from 'vitest';
import { fakeQueueAcd, setup } from '../support/session-harness.js';
import type { IvrPort } from '../../src/ivr/port.js';
import type { FlowDefinition } from '../../src/ivr/model.js';
import type { SurveyAnswerRow, SurveyPort } from '../../src/surveys/port.js';

const flow: FlowDefinition = {
  language: 'en',
  start: 'csat',
  nodes: {
    csat: { kind: 'survey', question: 'csat', scale: '1-5', prompt: { sound: 'rate-us' }, next: 'bye' },
    bye: { kind: 'hangup' },
  },
};
const ivr: IvrPort = {
  siteTimezone: 'UTC',
  loadFlow: async (name) => (name === 'after-call' ? { name, version: 3, definition: flow } : null),
  promptMedia: async () => null,
  speak: async () => 'sound:tts',
  lookup: async () => ({ ok: false, error: 'network' }),
};

function surveys(flowName: string | null): SurveyPort & { answers: SurveyAnswerRow[]; asked: [string, string | null][] } {
  const answers: SurveyAnswerRow[] = [];
  const asked: [string, string | null][] = [];
  return {
    answers,
    asked,
    surveyFor: async (queue, agent) => (asked.push([queue, agent]), flowName ? { flow: flowName, queueId: '9', agentId: '5' } : null),
    record: async (a) => void answers.push(a),
  };
}

/** A caller of queue support talked 6 s with agent 7001 (desk phone 2001) after waiting 10 s; returns before anyone hangs up. */
async function talking(port: SurveyPort) {
  const { acd, offer } = fakeQueueAcd();
  const s = setup({ acd, ivr, surveys: port, route: { kind: 'queue', queue: 'support' } });
  await s.session.enqueue({ type: 'stasis-start' });
  s.advance(9_000);
  offer();
  await s.session.enqueue({ type: 'playback-finished', playbackId: 'none' });
  const leg = [...s.legs.keys()].find((l) => l.includes('-agent-'))!;
  s.advance(1_000);
  await s.session.enqueue({ type: 'b-answered', legId: leg });
  s.advance(6_000);
  return { ...s, leg };
}

describe('post-call survey in the session', () => {
  it('the agent hangs up: the caller stays, the survey runs as the next part, the answer goes with the queue call', async () => {
    const port = surveys('after-call');
    const s = await talking(port);
    await s.session.enqueue({ type: 'b-ended', legId: s.leg, cause: 16 });
    expect(port.asked).toEqual([['support', '7001']]);
    expect(s.calls).not.toContain('hangup chan-a normal');
    expect(s.calls).toContain('destroyBridge call-1-bridge');
    expect(s.calls.some((c) => c.startsWith('play chan-a') && c.includes('sound:rate-us'))).toBe(true);
    // The queue call's CDR is written now, as it was: the agent ended the conversation.
    expect(s.cdrs).toHaveLength(1);
    expect(s.cdrs[0]).toMatchObject({ call_id: 'call-1', linked_id: 'call-1', ended_by: 'agent', queue: 'support', agent: '7001', answered_by: '2001', wait_seconds: 10, talk_seconds: 6, ivr_path: null });
    expect(s.rows).toContain('call-1-s1'); // the survey part's live row

    s.advance(3_000);
    await s.session.enqueue({ type: 'dtmf', digit: '4' });
    expect(port.answers).toEqual([{ callId: 'call-1', queueId: '9', agentId: '5', question: 'csat', scale: '1-5', score: 4 }]);
    expect(s.calls).toContain('hangup chan-a normal'); // the flow's hangup node
    await s.session.enqueue({ type: 'destroyed', cause: 16, causeText: 'Normal Clearing' });
    expect(s.cdrs).toHaveLength(2);
    expect(s.cdrs[1]).toMatchObject({
      call_id: 'call-1-s1', linked_id: 'call-1', ended_by: 'system', queue: null, agent: null, answered_by: null, digits: '4', wait_seconds: 0, talk_seconds: 3, dialed_number: '1002',
    });
    expect(JSON.parse(s.cdrs[1]!.ivr_path!)).toMatchObject({ flows: [{ name: 'after-call', version: 3 }], path: [{ node: 'csat', kind: 'survey', digits: '4', score: 4, outcome: 'next' }, { node: 'bye', outcome: 'hangup' }] });
  });

  it('the caller hangs up during the question: no response (null); the survey part is ended by the caller', async () => {
    const port = surveys('after-call');
    const s = await talking(port);
    await s.session.enqueue({ type: 'b-ended', legId: s.leg, cause: 16 });
    s.advance(2_000);
    await s.session.enqueue({ type: 'hangup-request', cause: 16 });
    await s.session.enqueue({ type: 'destroyed', cause: 16, causeText: 'Normal Clearing' });
    // Stored in the background as the call closes.
    await vi.waitFor(() => expect(port.answers).toEqual([{ callId: 'call-1', queueId: '9', agentId: '5', question: 'csat', scale: '1-5', score: null }]));
    expect(s.cdrs.map((c) => [c.call_id, c.ended_by])).toEqual([['call-1', 'agent'], ['call-1-s1', 'caller']]);
  });

  it('a queue without a survey: the agent hanging up ends the call, one CDR', async () => {
    const port = surveys(null);
    const s = await talking(port);
    await s.session.enqueue({ type: 'b-ended', legId: s.leg, cause: 16 });
    expect(s.calls).toContain('hangup chan-a normal');
    await s.session.enqueue({ type: 'destroyed', cause: 16, causeText: 'Normal Clearing' });
    expect(s.cdrs.map((c) => [c.call_id, c.ended_by])).toEqual([['call-1', 'agent']]);
    expect(port.answers).toEqual([]);
  });

  it('the caller hangs up on the agent: nothing is surveyed', async () => {
    const port = surveys('after-call');
    const s = await talking(port);
    await s.session.enqueue({ type: 'hangup-request', cause: 16 });
    await s.session.enqueue({ type: 'destroyed', cause: 16, causeText: 'Normal Clearing' });
    expect(port.asked).toEqual([]);
    expect(s.cdrs.map((c) => [c.call_id, c.ended_by])).toEqual([['call-1', 'caller']]);
  });
});
