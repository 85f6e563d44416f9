import { describe, expect, it } from 'vitest';
import { ExtensionLamps, contactChange } from '../../src/extensions/lamps.js';
import { createLogger } from '../../src/logger.js';
import type { DeviceStateValue } from '../../src/telephony/ari-types.js';
import { drained, eventually } from '../support/wait.js';

/**
 * Lamps against fakes: every lamp set is recorded (`failOnce`: the next one fails), every
 * registration read too. Reads answer at once, or, after `holdReads()`, each only when
 * `answerRead()` lets the oldest one go (a read still under way while the next change comes).
 */
function world(registered: Map<string, boolean>) {
  const set: [string, DeviceStateValue][] = [];
  const reads: (readonly string[] | undefined)[] = [];
  let failNext = false;
  let attempts = 0;
  let holding = false;
  const held: (() => void)[] = [];
  const lamps = new ExtensionLamps({
    control: {
      setDeviceState: async (name, state) => {
        attempts++;
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
      if (holding) await new Promise<void>((answer) => held.push(answer));
      return numbers ? new Map([...snapshot].filter(([n]) => numbers.includes(n))) : snapshot;
    },
    log: createLogger('silent'),
  });
  return {
    lamps, set, reads,
    attempts: () => attempts,
    failOnce: () => (failNext = true),
    holdReads: () => (holding = true),
    answerRead: () => held.shift()!(),
  };
}

const until = (check: () => boolean, what: string) => eventually(async () => (check() ? true : undefined), 5_000, what, 1);

describe('ExtensionLamps', () => {
  it('shows every extension as registered (idle) or not (unavailable)', async () => {
    const w = world(new Map([['1001', true], ['1002', false]]));
    await w.lamps.showAll();
    expect(w.set).toEqual([['ext-1001', 'NOT_INUSE'], ['ext-1002', 'UNAVAILABLE']]);
  });

  it('follows a contact change of one extension, reading its registration anew each time, in order', async () => {
    const registered = new Map([['1001', false]]);
    const w = world(registered);
    w.holdReads();
    registered.set('1001', true);
    w.lamps.contactChanged('1001'); // registered: reads true
    await until(() => w.reads.length === 1, 'the first read under way');
    registered.set('1001', false);
    w.lamps.contactChanged('1001'); // removed while that read runs: the second read, after the first
    await drained();
    expect(w.reads).toHaveLength(1);
    w.answerRead();
    await until(() => w.reads.length === 2, 'the second read');
    w.answerRead();
    await until(() => w.set.length === 2, 'both lamp updates');
    expect(w.reads).toEqual([['1001'], ['1001']]);
    expect(w.set).toEqual([['ext-1001', 'NOT_INUSE'], ['ext-1001', 'UNAVAILABLE']]);
  });

  it('ignores contacts that are not extensions (trunks) and survives a failed update', async () => {
    const w = world(new Map([['1001', true]]));
    w.lamps.contactChanged('trunk-acme');
    w.failOnce();
    w.lamps.contactChanged('1001');
    await until(() => w.attempts() === 1, 'the failed lamp update');
    await drained();
    expect(w.reads).toEqual([['1001']]);
    expect(w.set).toEqual([]);
    w.lamps.contactChanged('1001');
    await until(() => w.set.length === 1, 'the lamp updated');
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
