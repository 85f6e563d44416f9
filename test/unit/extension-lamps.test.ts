import { describe, expect, it } from 'vitest';
import { ExtensionLamps, contactChange } from '../../src/extensions/lamps.js';
import { createLogger } from '../../src/logger.js';
import type { DeviceStateValue } from '../../src/telephony/ari-types.js';

function world(registered: Map<string, boolean>) {
  const set: [string, DeviceStateValue][] = [];
  const reads: (readonly string[] | undefined)[] = [];
  let failNext = false;
  const lamps = new ExtensionLamps({
    control: {
      setDeviceState: async (name, state) => {
        if (failNext) {
          failNext = false;
          throw new Error('ARI down');
        }
        set.push([name, state]);
      },
    },
    registered: async (numbers) => {
      reads.push(numbers);
      const snapshot = new Map(registered); // as the database answers at this moment
      await new Promise((r) => setTimeout(r, 5));
      return numbers ? new Map([...snapshot].filter(([n]) => numbers.includes(n))) : snapshot;
    },
    log: createLogger('silent'),
  });
  return { lamps, set, reads, failOnce: () => (failNext = true) };
}

const settled = () => new Promise((r) => setTimeout(r, 50));

describe('ExtensionLamps', () => {
  it('shows every extension as registered (idle) or not (unavailable)', async () => {
    const w = world(new Map([['1001', true], ['1002', false]]));
    await w.lamps.showAll();
    expect(w.set).toEqual([['ext-1001', 'NOT_INUSE'], ['ext-1002', 'UNAVAILABLE']]);
  });

  it('follows a contact change of one extension, reading its registration anew each time, in order', async () => {
    const registered = new Map([['1001', false]]);
    const w = world(registered);
    registered.set('1001', true);
    w.lamps.contactChanged('1001'); // registered: reads true
    await new Promise((r) => setTimeout(r, 1));
    registered.set('1001', false);
    w.lamps.contactChanged('1001'); // removed right after: the second read, after the first
    await settled();
    expect(w.reads).toEqual([['1001'], ['1001']]);
    expect(w.set).toEqual([['ext-1001', 'NOT_INUSE'], ['ext-1001', 'UNAVAILABLE']]);
  });

  it('ignores contacts that are not extensions (trunks) and survives a failed update', async () => {
    const w = world(new Map([['1001', true]]));
    w.lamps.contactChanged('trunk-acme');
    w.failOnce();
    w.lamps.contactChanged('1001');
    await settled();
    expect(w.reads).toEqual([['1001']]);
    expect(w.set).toEqual([]);
    w.lamps.contactChanged('1001');
    await settled();
    expect(w.set).toEqual([['ext-1001', 'NOT_INUSE']]);
  });
});

describe('contactChange', () => {
  it("reads a pbx_contacts notice; a trunk's contact or anything else is not an extension's", () => {
    expect(contactChange('insert:1002')).toEqual({ op: 'insert', endpoint: '1002' });
    expect(contactChange('delete:1002')).toEqual({ op: 'delete', endpoint: '1002' });
    expect(contactChange('update:trunk-acme')).toBeNull();
    expect(contactChange('truncate:1002')).toBeNull();
    expect(contactChange('insert:1002:x')).toBeNull();
  });
});
