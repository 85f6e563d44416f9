import { describe, expect, it } from 'vitest';
import type { FlowDefinition, FlowNode } from '../../src/ivr/model.js';
import { checkFlow, silentLoops, validateFlow, type FlowCatalog } from '../../src/ivr/validate.js';

const catalog: FlowCatalog = {
  extensions: new Set(['1001', '1002']),
  mailboxes: new Set(['1001']),
  flows: new Set(['support', 'main']),
  prompts: new Set(['welcome-2026', '3f2b8c1e-9a7d-4c1b-8e2f-0a1b2c3d4e5f']),
  queues: null,
  externalAllowed: (n) => n.startsWith('0') && n.length >= 10,
  self: 'main',
};
const flow = (nodes: Record<string, FlowNode>, start = Object.keys(nodes)[0]!): FlowDefinition => ({ language: 'en', start, nodes });
const codes = (def: FlowDefinition, c: FlowCatalog = catalog) => validateFlow(def, c).map((p) => [p.node, p.field, p.code]);
const bye: FlowNode = { kind: 'hangup' };

/** Every node kind, all wired correctly. */
const good: FlowDefinition = flow({
  hours: {
    kind: 'schedule', timezone: 'Europe/Paris',
    hours: { mon: [{ from: '09:00', to: '17:00' }] }, holidays: [{ date: '2026-12-25', name: 'Christmas' }],
    open: 'greet', closed: 'closed', holiday: 'closed',
  },
  greet: { kind: 'play', prompt: [{ prompt: 'welcome-2026' }, { sound: 'vm-intro' }], next: 'account' },
  account: { kind: 'gather', prompt: { say: 'Your account number, then hash' }, variable: 'account', minDigits: 4, maxDigits: 8, terminator: '#', timeoutMs: 4000, next: 'crm', timeout: 'main' },
  crm: { kind: 'lookup', url: 'https://crm.example.com/api/customer', timeoutMs: 2000, params: { account: '${account}', from: '${caller}' }, map: { tier: 'customer.tier' }, next: 'vip', error: 'main' },
  vip: { kind: 'branch', on: { variable: 'tier' }, cases: [{ equals: 'gold', next: 'tagged' }, { oneOf: ['silver', 'bronze'], next: 'main' }], default: 'main' },
  tagged: { kind: 'set', variable: 'note', value: 'gold ${account}', next: 'toSales' },
  main: {
    kind: 'menu', prompt: { sound: 'press-1-sales' }, options: { '1': 'toSales', '2': 'toVm', '3': 'toFlow', '0': 'toOut', '#': 'greet' },
    timeoutMs: 5000, maxRetries: 2, invalidPrompt: { sound: 'option-is-invalid' }, fallback: 'toSales',
  },
  toSales: { kind: 'transfer', target: { kind: 'extension', number: '1001' } },
  toVm: { kind: 'transfer', target: { kind: 'voicemail', mailbox: '1001' } },
  toFlow: { kind: 'transfer', target: { kind: 'flow', flow: 'support' } },
  toOut: { kind: 'transfer', target: { kind: 'external', number: '0140000000' } },
  closed: { kind: 'play', prompt: { sound: 'closed' }, next: 'bye' },
  bye,
});

describe('validateFlow', () => {
  it('a flow using every node kind, correctly wired, has no problems', () => {
    expect(validateFlow(good, catalog)).toEqual([]);
    expect(checkFlow(JSON.parse(JSON.stringify(good)), catalog).problems).toEqual([]);
  });

  it('start: empty or naming no node', () => {
    expect(codes({ ...good, start: '' })).toEqual([[null, 'start', 'missing-start']]);
    const p = validateFlow({ ...good, start: 'welcome' }, catalog);
    expect(p[0]).toEqual({ node: null, field: 'start', code: 'unknown-node', message: "start names node 'welcome', which does not exist" });
  });

  it('every edge must name a node; the field says which edge', () => {
    const def = flow({
      m: { kind: 'menu', prompt: { sound: 'x' }, options: { '1': 'bye', '3': 'nowhere' }, fallback: 'gone' },
      b: { kind: 'branch', on: { callerNumber: true }, cases: [{ prefix: '+33', next: 'm' }, { equals: '1', next: 'nope' }], default: 'bye' },
      s: { kind: 'schedule', hours: {}, holidays: [], open: 'm', closed: 'x1', holiday: 'b' },
      g: { kind: 'gather', variable: 'v', minDigits: 1, maxDigits: 2, next: 'b', timeout: 'x2' },
      l: { kind: 'lookup', url: 'http://h/', timeoutMs: 100, map: {}, next: 'g', error: 'x3' },
      bye,
    });
    expect(codes(def).filter((c) => c[2] === 'unknown-node')).toEqual([
      ['m', 'options.3', 'unknown-node'], ['m', 'fallback', 'unknown-node'], ['b', 'cases[1].next', 'unknown-node'],
      ['s', 'closed', 'unknown-node'], ['g', 'timeout', 'unknown-node'], ['l', 'error', 'unknown-node'],
    ]);
    expect(validateFlow(def, catalog)[0]!.message).toBe("node 'm' options.3 points to node 'nowhere', which does not exist");
  });

  it('nodes that cannot be reached from start', () => {
    const def = flow({ a: { kind: 'play', prompt: { sound: 'x' }, next: 'z' }, orphan: { kind: 'play', prompt: { sound: 'y' }, next: 'z' }, z: bye });
    expect(codes(def)).toEqual([['orphan', '', 'unreachable-node']]);
  });

  it('a loop without a menu or gather is a silent loop, reported once with its nodes', () => {
    const def = flow({
      a: { kind: 'set', variable: 'n', value: '1', next: 'b' },
      b: { kind: 'branch', on: { variable: 'n' }, cases: [{ equals: '2', next: 'z' }], default: 'c' },
      c: { kind: 'play', prompt: { sound: 'x' }, next: 'a' },
      z: bye,
    });
    const p = validateFlow(def, catalog);
    expect(p.map((x) => [x.node, x.field, x.code])).toEqual([['a', 'next', 'silent-loop']]);
    expect(p[0]!.message).toContain("'a' -> 'b' -> 'c' -> 'a'");
  });

  it('self loops and two separate loops; a loop through a menu or gather is fine', () => {
    const def = flow({
      start: { kind: 'menu', prompt: { sound: 'x' }, options: { '1': 'spin', '2': 'p1', '3': 'ask' }, fallback: 'start' },
      spin: { kind: 'set', variable: 'n', value: 'x', next: 'spin' },
      p1: { kind: 'play', prompt: { sound: 'a' }, next: 'p2' },
      p2: { kind: 'play', prompt: { sound: 'b' }, next: 'p1' },
      ask: { kind: 'gather', variable: 'd', minDigits: 1, maxDigits: 1, next: 'again', timeout: 'start' },
      again: { kind: 'play', prompt: { sound: 'c' }, next: 'ask' },
    });
    expect(codes(def)).toEqual([['spin', 'next', 'silent-loop'], ['p1', 'next', 'silent-loop']]);
    // one strongly connected group with two cycles is one problem
    const two = flow({
      a: { kind: 'branch', on: { callerNumber: true }, cases: [{ prefix: '1', next: 'b' }], default: 'c' },
      b: { kind: 'set', variable: 'x', value: '', next: 'a' },
      c: { kind: 'set', variable: 'y', value: '', next: 'a' },
    });
    expect(silentLoops(two)).toEqual([{ nodes: ['a', 'b'], field: 'cases[0].next' }]);
  });

  it('transfer targets must exist; queues need the ACD; external numbers need a route; no transfer to itself', () => {
    const t = (target: Extract<FlowNode, { kind: 'transfer' }>['target']): FlowDefinition => flow({ t: { kind: 'transfer', target } });
    expect(codes(t({ kind: 'extension', number: '1999' }))).toEqual([['t', 'target.number', 'unknown-target']]);
    expect(codes(t({ kind: 'voicemail', mailbox: '1002' }))).toEqual([['t', 'target.mailbox', 'unknown-target']]);
    expect(codes(t({ kind: 'flow', flow: 'billing' }))).toEqual([['t', 'target.flow', 'unknown-target']]);
    expect(codes(t({ kind: 'flow', flow: 'main' }))).toEqual([['t', 'target.flow', 'self-flow']]);
    expect(codes(t({ kind: 'external', number: '12345' }))).toEqual([['t', 'target.number', 'no-outbound-route']]);
    const q = validateFlow(t({ kind: 'queue', queue: 'sales' }), catalog);
    expect(q.map((p) => p.code)).toEqual(['queue-not-supported']);
    expect(q[0]!.message).toMatch(/ACD/);
    expect(codes(t({ kind: 'queue', queue: 'sales' }), { ...catalog, queues: new Set(['sales']) })).toEqual([]);
    expect(codes(t({ kind: 'queue', queue: 'support' }), { ...catalog, queues: new Set(['sales']) })).toEqual([['t', 'target.queue', 'unknown-target']]);
  });

  it('bad schedules are reported with the field inside the node', () => {
    const def = flow({
      s: { kind: 'schedule', timezone: 'Mars/Base', hours: { mon: [{ from: '18:00', to: '08:00' }] }, holidays: [{ date: '2026-02-30' }], open: 'z', closed: 'z', holiday: 'z' },
      z: bye,
    });
    expect(codes(def)).toEqual([['s', 'timezone', 'bad-schedule'], ['s', 'hours.mon[0]', 'bad-schedule'], ['s', 'holidays[0].date', 'bad-schedule']]);
  });

  it('prompts must be uploaded', () => {
    const def = flow({
      m: { kind: 'menu', prompt: [{ sound: 'a' }, { prompt: 'missing-one' }], options: { '1': 'z' }, invalidPrompt: { prompt: 'gone' }, fallback: 'z' },
      z: bye,
    });
    expect(codes(def)).toEqual([['m', 'prompt[1].prompt', 'unknown-prompt'], ['m', 'invalidPrompt.prompt', 'unknown-prompt']]);
  });

  it('lookup urls must be http(s)', () => {
    const l = (url: string) => flow({ l: { kind: 'lookup', url, timeoutMs: 500, map: {}, next: 'z', error: 'z' }, z: bye });
    expect(codes(l('ftp://crm/x'))).toEqual([['l', 'url', 'bad-url']]);
    expect(codes(l('crm.example.com/x'))).toEqual([['l', 'url', 'bad-url']]);
    expect(codes(l('http://10.0.0.5:8080/lookup?x=1'))).toEqual([]);
  });

  it('templates may only use variables some node sets, or caller/dialed', () => {
    const def = flow({
      a: { kind: 'set', variable: 'greeting', value: 'hi ${caller} on ${dialed}, ${account} ${nope}', next: 'b' },
      b: { kind: 'play', prompt: [{ digits: '${account}' }, { digits: '${ghost}' }], next: 'l' },
      l: { kind: 'lookup', url: 'https://x/', timeoutMs: 500, params: { q: '${Bad-Name}' }, map: { tier: 'a.b' }, next: 'c', error: 'z' },
      c: { kind: 'branch', on: { variable: 'unset' }, cases: [], default: 'g' },
      g: { kind: 'gather', variable: 'account', minDigits: 1, maxDigits: 4, next: 'z', timeout: 'z' },
      z: bye,
    });
    expect(codes(def)).toEqual([
      ['a', 'value', 'unknown-variable'],
      ['b', 'prompt[1].digits', 'unknown-variable'],
      ['l', 'params.q', 'bad-template'],
      ['c', 'on.variable', 'unknown-variable'],
    ]);
    expect(validateFlow(def, catalog)[0]!.message).toContain('${nope}');
    // a variable the runner presets is known
    expect(codes(def, { ...catalog, presetVariables: new Set(['nope', 'ghost', 'unset']) })).toEqual([['l', 'params.q', 'bad-template']]);
  });

  it('caller and dialed cannot be set', () => {
    const def = flow({
      a: { kind: 'set', variable: 'caller', value: 'x', next: 'l' },
      l: { kind: 'lookup', url: 'https://x/', timeoutMs: 500, map: { dialed: 'x' }, next: 'z', error: 'z' },
      z: bye,
    });
    expect(codes(def)).toEqual([['a', 'variable', 'reserved-variable'], ['l', 'map.dialed', 'reserved-variable']]);
  });

  it('gather digit counts, branch cases that never match or repeat', () => {
    const def = flow({
      g: { kind: 'gather', variable: 'v', minDigits: 5, maxDigits: 3, next: 'b', timeout: 'z' },
      b: { kind: 'branch', on: { variable: 'v' }, cases: [{ equals: '1', next: 'z' }, { next: 'z' }, { equals: '1', next: 'z' }], default: 'z' },
      z: bye,
    });
    expect(codes(def)).toEqual([['g', 'minDigits', 'bad-digit-range'], ['b', 'cases[1]', 'bad-case'], ['b', 'cases[2]', 'duplicate-case']]);
  });

  it("node ids like 'constructor' are plain names, not object properties", () => {
    const nodes: Record<string, FlowNode> = {};
    nodes['constructor'] = { kind: 'play', prompt: { sound: 'x' }, next: 'toString' };
    const def = flow(nodes);
    expect(codes(def)).toEqual([['constructor', 'next', 'unknown-node']]);
  });
});

describe('checkFlow: the schema first', () => {
  it('not an object', () => {
    for (const v of [null, 'flow', 42, []]) expect(checkFlow(v, catalog).problems.map((p) => p.code)).toEqual(['not-an-object']);
  });

  it('shape problems come back with node and field paths, and the semantic checks wait', () => {
    const json = {
      language: 'english',
      start: 'm',
      extra: true,
      nodes: {
        m: { kind: 'menu', prompt: { sound: 'bad sound!' }, options: { '1': 'z', x: 'z', '2': 7 }, timeoutMs: 500, fallback: 'nowhere' },
        b: { kind: 'branch', on: { callerNumber: true }, cases: [{ equals: '1', next: 'z' }, { prefix: 3 }], default: 'z' },
        '9lives': { kind: 'hangup' },
        w: { kind: 'wait' },
        n: 'not a node',
        z: { kind: 'hangup' },
      },
    };
    const r = checkFlow(json, catalog);
    expect(r.flow).toBeNull();
    expect(r.problems.map((p) => [p.node, p.field, p.code])).toEqual([
      [null, 'extra', 'unknown-field'],
      [null, 'language', 'bad-value'],
      ['9lives', '', 'bad-node-id'],
      ['m', 'prompt', 'bad-shape'],
      ['m', 'options.2', 'bad-value'],
      ['m', 'options.x', 'unknown-field'],
      ['m', 'timeoutMs', 'bad-value'],
      ['b', 'cases[1].next', 'missing-field'],
      ['b', 'cases[1].prefix', 'bad-value'],
      ['w', 'kind', 'unknown-kind'],
      ['n', 'kind', 'unknown-kind'],
    ]);
    // 'fallback: nowhere' is a semantic problem: not reported until the shape is right
    expect(r.problems.some((p) => p.code === 'unknown-node')).toBe(false);
    const m = r.problems.find((p) => p.field === 'timeoutMs')!;
    expect(m.message).toMatch(/^node 'm' timeoutMs: /);
  });

  it('missing top-level fields; more than 200 nodes; no nodes', () => {
    expect(checkFlow({ nodes: { a: { kind: 'hangup' } } }, catalog).problems.map((p) => [p.field, p.code])).toEqual([
      ['language', 'missing-field'], ['start', 'missing-field'],
    ]);
    const nodes: Record<string, FlowNode> = {};
    for (let i = 0; i < 201; i++) nodes[`n${i}`] = { kind: 'hangup' };
    expect(checkFlow({ language: 'en', start: 'n0', nodes }, catalog).problems.map((p) => p.code)).toEqual(['too-many-nodes']);
    delete nodes.n200;
    expect(checkFlow({ language: 'en', start: 'n0', nodes }, catalog).problems.filter((p) => p.code !== 'unreachable-node')).toEqual([]);
    expect(checkFlow({ language: 'en', start: 'n0', nodes: {} }, catalog).problems.map((p) => p.code)).toEqual(['no-nodes']);
  });

  it('fills in menu and gather defaults, then runs the semantic checks', () => {
    const r = checkFlow({
      language: 'fr',
      start: 'm',
      nodes: {
        m: { kind: 'menu', prompt: { sound: 'x' }, options: { '1': 'g' }, fallback: 'nowhere' },
        g: { kind: 'gather', variable: 'v', minDigits: 1, maxDigits: 3, next: 'z', timeout: 'z' },
        z: { kind: 'hangup' },
      },
    }, catalog);
    expect(r.flow?.nodes.m).toMatchObject({ timeoutMs: 5000, maxRetries: 2 });
    expect(r.flow?.nodes.g).toMatchObject({ timeoutMs: 5000 });
    expect(r.problems.map((p) => [p.node, p.field, p.code])).toEqual([['m', 'fallback', 'unknown-node']]);
  });

  it('prompt, target and holiday shapes', () => {
    const r = checkFlow({
      language: 'de',
      start: 'p',
      nodes: {
        p: { kind: 'play', prompt: [{ say: 'x'.repeat(501) }, { sound: 'digits/1' }, { digits: '${caller}' }], next: 't' },
        t: { kind: 'transfer', target: { kind: 'pager', number: '1' } },
        s: { kind: 'schedule', hours: { mon: [] , xmas: [] }, holidays: [{ date: '2026-12-25', from: '2026-12-24' }], open: 'p', closed: 'p', holiday: 'p' },
      },
    }, catalog);
    expect(r.problems.map((p) => [p.node, p.field, p.code])).toEqual([
      ['p', 'prompt', 'bad-shape'],
      ['t', 'target', 'bad-shape'],
      ['s', 'hours.xmas', 'unknown-field'],
      ['s', 'holidays[0]', 'bad-shape'],
    ]);
  });
});
