import { describe, expect, it } from 'vitest';
import { routingFromVars } from '../../src/calls/queue-call.js';

describe('queue routing from IVR variables', () => {
  it('reads priority and required skills', () => {
    expect(routingFromVars({ queue_priority: '10', queue_skills: 'billing:3, german:2' })).toEqual({
      priority: 10,
      requiredSkills: [{ skill: 'billing', minLevel: 3 }, { skill: 'german', minLevel: 2 }],
    });
    expect(routingFromVars({})).toEqual({ priority: 0, requiredSkills: null });
  });

  it('ignores what is malformed: the queue decides then', () => {
    expect(routingFromVars({ queue_priority: '-1' })).toEqual({ priority: 0, requiredSkills: null });
    expect(routingFromVars({ queue_priority: '5.5', queue_skills: 'billing:9' })).toEqual({ priority: 0, requiredSkills: null });
    expect(routingFromVars({ queue_priority: '101', queue_skills: 'Billing:3' })).toEqual({ priority: 0, requiredSkills: null });
    expect(routingFromVars({ queue_skills: 'billing:3,' })).toEqual({ priority: 0, requiredSkills: null });
  });
});
