/**
 * The HTTP layer's guards without a database: the JSON depth scan, the start-up check that bearer
 * auth runs in onRequest, and body validation that refuses an array where a scalar is expected.
 */
import { describe, expect, it } from 'vitest';
import type { FastifyInstance } from 'fastify';
import { Type } from '@sinclair/typebox';
import { nestedDeeperThan } from '../../src/http/json-body.js';
import { requireRole, type BearerAuth } from '../../src/http/auth.js';
import { buildHttp } from '../../src/http/server.js';
import { createLogger } from '../../src/logger.js';
import { AppError } from '../../src/errors.js';

const nest = (depth: number, inner = '1') => '['.repeat(depth) + inner + ']'.repeat(depth);

describe('nestedDeeperThan', () => {
  it('counts arrays and objects together, up to the limit inclusive', () => {
    expect(nestedDeeperThan(nest(32), 32)).toBe(false);
    expect(nestedDeeperThan(nest(33), 32)).toBe(true);
    expect(nestedDeeperThan('{"a":[{"b":[{"c":1}]}]}', 4)).toBe(true);
    expect(nestedDeeperThan('{"a":[{"b":[{"c":1}]}]}', 5)).toBe(false);
  });

  it('measures depth at each point, not the number of brackets', () => {
    expect(nestedDeeperThan(`[${Array.from({ length: 1000 }, () => '[1]').join(',')}]`, 2)).toBe(false);
  });

  it('ignores brackets inside strings, escaped quotes included', () => {
    expect(nestedDeeperThan(JSON.stringify({ a: '[[[[[[[[[[' }), 2)).toBe(false);
    expect(nestedDeeperThan(JSON.stringify({ a: 'say \\"[[[[[[[[["' }), 2)).toBe(false);
    expect(nestedDeeperThan(JSON.stringify({ a: '\\', b: [[[[1]]]] }), 2)).toBe(true);
  });

  it('stops at the first bracket past the limit', () => {
    // A megabyte of opening brackets with garbage after: refused without reading to the end.
    expect(nestedDeeperThan(`${'['.repeat(1_000_000)}garbage`, 32)).toBe(true);
  });
});

const auth: BearerAuth<'viewer'> = {
  authenticate: async () => {
    throw new AppError('unauthorized', 401, 'no token');
  },
  requireRole: () => undefined,
};

async function server(): Promise<FastifyInstance> {
  return buildHttp({ log: createLogger('silent'), version: 'test', authFailures: { limit: 1000, windowSeconds: 60 } });
}

describe('bearer routes are checked at start-up', () => {
  it('refuses requireRole as a preHandler (it would run after the body is parsed)', async () => {
    const app = await server();
    expect(() =>
      app.post('/x', { preHandler: requireRole(auth, 'viewer'), schema: { security: [{ bearer: [] }] } }, async () => ({})),
    ).toThrow(/onRequest hook/);
    await app.close();
  });

  it('refuses a route that declares bearer security but checks nothing, and the reverse', async () => {
    const app = await server();
    expect(() => app.post('/y', { schema: { security: [{ bearer: [] }] } }, async () => ({}))).toThrow(/no requireRole/);
    expect(() => app.post('/z', { onRequest: requireRole(auth, 'viewer') }, async () => ({}))).toThrow(/does not declare security/);
    await app.close();
  });
});

describe('body validation', () => {
  it('refuses an array where a string is expected, naming the field; querystrings still coerce', async () => {
    const app = await server();
    const Body = Type.Object({ number: Type.String(), count: Type.Optional(Type.Integer()), tags: Type.Optional(Type.Array(Type.String())) }, { additionalProperties: false });
    const Query = Type.Object({ state: Type.Optional(Type.Array(Type.String())), limit: Type.Optional(Type.Integer()) }, { additionalProperties: false });
    app.post('/echo', { schema: { body: Body, querystring: Query } }, async (request) => ({ body: request.body, query: request.query }));
    await app.ready();

    const array = await app.inject({ method: 'POST', url: '/echo', payload: { number: ['3003'] } });
    expect(array.statusCode).toBe(400);
    expect(array.json().error).toMatchObject({ code: 'validation-failed', message: 'body.number: must be string' });

    const wrapped = await app.inject({ method: 'POST', url: '/echo', payload: { number: '3003', tags: 'a' } });
    expect(wrapped.statusCode).toBe(400);
    expect(wrapped.json().error.message).toBe('body.tags: must be array');

    const ok = await app.inject({ method: 'POST', url: '/echo?state=a&limit=5', payload: { number: '3003', count: '2' } });
    expect(ok.statusCode).toBe(200);
    expect(ok.json()).toEqual({ body: { number: '3003', count: 2 }, query: { state: ['a'], limit: 5 } });
    const two = await app.inject({ method: 'POST', url: '/echo?state=a&state=b', payload: { number: '1' } });
    expect(two.json().query).toEqual({ state: ['a', 'b'] });
    await app.close();
  });

  it('refuses a body nested deeper than 32 levels with 400 body-too-deep', async () => {
    const app = await server();
    app.post('/any', async () => ({ ok: true }));
    await app.ready();
    const deep = await app.inject({ method: 'POST', url: '/any', headers: { 'content-type': 'application/json' }, payload: nest(33) });
    expect(deep.statusCode).toBe(400);
    expect(deep.json().error).toMatchObject({ code: 'body-too-deep', details: { field: 'body', maxDepth: 32 } });
    const fine = await app.inject({ method: 'POST', url: '/any', headers: { 'content-type': 'application/json' }, payload: nest(32) });
    expect(fine.statusCode).toBe(200);
    // Fastify's own checks stay: prototype poisoning is still refused.
    const poisoned = await app.inject({ method: 'POST', url: '/any', headers: { 'content-type': 'application/json' }, payload: '{"__proto__":{"x":1}}' });
    expect(poisoned.statusCode).toBe(400);
    await app.close();
  });
});
