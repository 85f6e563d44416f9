import { describe, expect, it, vi } from 'vitest';
import { pino } from 'pino';
import { AgentLamps, LAMP_OF, LAMP_SETTLE_MS, lampExtension } from '../../src/acd/lamps.js';

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

  it('follows state changes once they settle: a quick run of changes is one update, the latest', async () => {
    vi.useFakeTimers();
    try {
      const { lamps, states } = setup();
      lamps.follow('2001', 'reserved');
      lamps.follow('2001', 'on-call');
      lamps.follow('2002', 'paused');
      expect(states).toEqual([]);
      await vi.advanceTimersByTimeAsync(LAMP_SETTLE_MS);
      expect(states).toEqual(['agent-2001=INUSE', 'agent-2002=ONHOLD']);
      lamps.follow('2001', 'wrap-up');
      await vi.advanceTimersByTimeAsync(LAMP_SETTLE_MS);
      expect(states).toEqual(['agent-2001=INUSE', 'agent-2002=ONHOLD', 'agent-2001=BUSY']);
    } finally {
      vi.useRealTimers();
    }
  });
});
