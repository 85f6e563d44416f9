import { describe, expect, it } from 'vitest';
import { AppError } from '../../src/errors.js';
import { logRejection, logRejectionUnlessGone } from '../../src/shared/log-rejection.js';

function recorder() {
  const lines: { fields: Record<string, unknown>; message: string }[] = [];
  const warn = (fields: Record<string, unknown>, message: string): void => {
    lines.push({ fields, message });
  };
  return { lines, log: { warn } };
}

const settled = (p: Promise<unknown>) => p.then(() => undefined, () => undefined).then(() => new Promise((r) => setImmediate(r)));

describe('logRejection', () => {
  it('logs a rejection at warn, saying what failed, with the fields and the message', async () => {
    const { lines, log } = recorder();
    const work = Promise.reject(new Error('boom'));
    logRejection(work, log, 'lamp not set', { extension: '1001' });
    await settled(work);
    expect(lines).toEqual([{ fields: { extension: '1001', err: 'boom' }, message: 'lamp not set' }]);
  });

  it('logs nothing for work that succeeds, or no work at all', async () => {
    const { lines, log } = recorder();
    const work = Promise.resolve(1);
    logRejection(work, log, 'x');
    logRejection(undefined, log, 'y');
    await settled(work);
    expect(lines).toEqual([]);
  });

  it('UnlessGone: a channel gone already is no failure; anything else is logged', async () => {
    const { lines, log } = recorder();
    const gone = Promise.reject(new AppError('call-not-found', 404, 'Channel not found'));
    const down = Promise.reject(new AppError('asterisk-unavailable', 503, 'ARI DELETE /channels/x: no answer'));
    logRejectionUnlessGone(gone, log, 'leg not hung up');
    logRejectionUnlessGone(down, log, 'leg not hung up', { leg: 'x' });
    await settled(gone);
    await settled(down);
    expect(lines).toEqual([{ fields: { leg: 'x', err: 'ARI DELETE /channels/x: no answer' }, message: 'leg not hung up' }]);
  });
});
