import { describe, expect, it } from 'vitest';
import { PjsipCache, type AmiLike } from '../../src/telephony/pjsip-cache.js';

/** asterisk-manager rejects an action answered with Response: Error (the error carries the message). */
function fakeAmi(answer: (f: Record<string, string>) => string | null): AmiLike & { calls: Record<string, string>[] } {
  const calls: Record<string, string>[] = [];
  return {
    calls,
    async action(fields) {
      calls.push(fields);
      const error = answer(fields);
      if (error !== null) throw new Error(error);
      return { response: 'Success' };
    },
  };
}

const logged = () => {
  const warnings: object[] = [];
  return { warnings, log: { warn: (o: object) => warnings.push(o) } };
};

describe('PJSIP cache expiry', () => {
  it("expires the id from the endpoint, auth and AOR caches; an object not cached is no failure", async () => {
    const ami = fakeAmi((f) => (f['cache'] === 'pbx-aor' ? 'The provided object could not be expired from the cache' : null));
    const { warnings, log } = logged();
    await new PjsipCache(ami, log).changed('trunk-acme');
    expect(ami.calls).toEqual(['pbx-endpoint', 'pbx-auth', 'pbx-aor'].map((cache) => ({ action: 'SorceryMemoryCacheExpireObject', cache, object: 'trunk-acme' })));
    expect(warnings).toEqual([]);
  });

  it('never throws: a missing cache or AMI away is logged, and the other caches are still tried', async () => {
    const ami = fakeAmi((f) => (f['cache'] === 'pbx-endpoint' ? 'The provided cache does not exist' : null));
    const { warnings, log } = logged();
    await new PjsipCache(ami, log).changed('101');
    expect(ami.calls).toHaveLength(3);
    expect(warnings).toEqual([expect.objectContaining({ cache: 'pbx-endpoint', object: '101', err: 'The provided cache does not exist' })]);
    await new PjsipCache(fakeAmi(() => 'Asterisk AMI is not connected'), log).expireAll();
    expect(warnings).toHaveLength(4);
    await expect(new PjsipCache(null, log).changed('101')).resolves.toBeUndefined();
  });

  it('empties all three caches on expireAll', async () => {
    const ami = fakeAmi(() => null);
    await new PjsipCache(ami, logged().log).expireAll();
    expect(ami.calls).toEqual(['pbx-endpoint', 'pbx-auth', 'pbx-aor'].map((cache) => ({ action: 'SorceryMemoryCacheExpire', cache })));
  });
});
