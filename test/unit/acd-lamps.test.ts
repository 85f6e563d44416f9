import { describe, expect, it } from 'vitest';
import { pino } from 'pino';
import { AgentLamps, LAMP_OF, lampExtension } from '../../src/acd/lamps.js';

function setup(amiAnswer: Record<string, string> = { response: 'Success' }) {
  const ami: Record<string, string>[] = [];
  const states: string[] = [];
  const lamps = new AgentLamps({
    ami: { action: async (f) => (ami.push(f), amiAnswer) },
    control: { setDeviceState: async (name, state) => void states.push(`${name}=${state}`) },
    context: 'pbx-inbound',
    log: pino({ level: 'silent' }),
  });
  return { lamps, ami, states };
}

describe('agent BLF lamps', () => {
  it('adds the hint once per Asterisk start, then sets the device state for each change', async () => {
    const { lamps, ami, states } = setup();
    await lamps.show('2001', 'ready');
    await lamps.show('2001', 'on-call');
    expect(ami).toEqual([{ Action: 'DialplanExtensionAdd', Context: 'pbx-inbound', Extension: '*802001', Priority: 'hint', Application: 'Stasis:agent-2001', Replace: 'yes' }]);
    expect(states).toEqual(['agent-2001=NOT_INUSE', 'agent-2001=INUSE']);
    lamps.forgetHints();
    await lamps.show('2001', 'paused');
    expect(ami).toHaveLength(2);
    expect(lampExtension('2001')).toBe('*802001');
  });

  it('every agent state has a lamp; a refused hint or a bad number never throws', async () => {
    expect(Object.keys(LAMP_OF).sort()).toEqual(['logged-out', 'on-call', 'paused', 'ready', 'reserved', 'wrap-up']);
    const { lamps, states } = setup({ response: 'Error', message: 'nope' });
    await lamps.show('2001', 'ready');
    await lamps.show('12;x', 'ready');
    expect(states).toEqual([]);
  });
});
