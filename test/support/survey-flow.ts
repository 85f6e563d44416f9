/**
 * The post-call survey flow the e2e tests publish (survey.test.ts, reports-day.test.ts): one CSAT
 * question on 1-5, then thanks and hang-up. Thanks comes before the hang-up because the caller's
 * scenario is still in its pause after the key (a BYE there fails it).
 */
import { expect } from 'vitest';
import type { apiClient } from './pbx.js';

export async function publishCsatSurvey(admin: ReturnType<typeof apiClient>, name: string): Promise<void> {
  const flow = await admin('POST', '/api/v1/flows', {
    name,
    definition: {
      language: 'en',
      start: 'csat',
      nodes: {
        csat: { kind: 'survey', question: 'csat', scale: '1-5', prompt: { sound: 'hello-world' }, timeoutMs: 10_000, maxRetries: 0, next: 'thanks' },
        thanks: { kind: 'play', prompt: { sound: 'auth-thankyou' }, next: 'bye' },
        bye: { kind: 'hangup' },
      },
    },
  });
  expect(flow.status, JSON.stringify(flow.body)).toBe(201);
  expect((await admin('POST', `/api/v1/flows/${name}/publish`)).status).toBe(200);
}
