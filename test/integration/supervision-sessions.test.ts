/**
 * Supervision sessions kept in Postgres (supervision_sessions, docs/supervision.md "When the daemon
 * restarts"): the daemon's SupervisionService on the run's real database, migrations applied by the
 * wired daemon (src/app.ts, Asterisk down). Asterisk's side (ring, hang up, the channels it has) is
 * the one stand-in: a list of what was asked of it.
 *
 * One daemon stores an API request before the phone rings, a session when it starts, its mode
 * switches, and deletes the row when it ends; a second daemon on the same database (a restart)
 * finds what the first left: a request still ringing is waited for and its answer connects; a
 * request whose phone is gone is hung up and audited; a session in progress is ended, its
 * supervisor's phone hung up and its bridge destroyed, and audited with the mode and seconds.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { pino } from 'pino';
import type { App } from '../../src/app.js';
import type { Actor } from '../../src/audit/repository.js';
import { SupervisionService } from '../../src/supervision/service.js';
import type { SupervisionInfo } from '../../src/supervision/port.js';
import { startTestApp } from '../support/app.js';
import { eventually } from '../support/wait.js';

let app: App;
// Numbers and ids of this file's own (the run's database is shared).
const SUP = '5811';
const run = Date.now().toString(36);
const actor: Actor = { userId: null, tokenId: null, label: `user:it-sessions-${run}`, requestId: 'req-1' };

function daemon(channels: { id: string; state: string }[] = []) {
  const asked: string[] = [];
  const svc = new SupervisionService({
    db: app.db,
    log: pino({ level: 'silent' }),
    canSupervise: async (n) => (n === SUP || n === '5812' ? n === SUP : null),
    agent: async () => null,
    calls: {
      callParty: async () => ({ channelId: `agent-chan-${run}`, callId: `call-${run}`, extension: '5812' }),
      ringSupervisor: async (id, ext) => void asked.push(`ring ${id} ${ext}`),
      hangup: async (id) => void asked.push(`hangup ${id}`),
      channels: async () => channels,
      destroyBridge: async (id) => void asked.push(`destroy ${id}`),
      noteMonitored: (callId) => void asked.push(`monitored ${callId}`),
    },
    snoop: async () => undefined,
  });
  return { svc, asked };
}

const rowsOf = (ids: string[]) => app.db.selectFrom('supervision_sessions').selectAll().where('id', 'in', ids).orderBy('id').execute();
const auditOf = (id: string) =>
  app.db.selectFrom('audit_log').select(['action', 'actor_label', 'details']).where('entity', '=', 'supervision').where('entity_id', '=', id).orderBy('id').execute();
const handle = { switchTo: () => undefined, end: () => undefined, targetGone: () => undefined };
const info = (id: string, startedAt: Date): SupervisionInfo => ({
  id, supervisorExtension: SUP, target: { kind: 'extension', number: '5812' }, callId: `call-${run}`, channelId: `agent-chan-${run}`, extension: '5812', agent: null, mode: 'listen', startedAt, actor,
});

beforeAll(async () => {
  app = await startTestApp();
});

afterAll(async () => {
  await app?.db.deleteFrom('supervision_sessions').where('supervisor_extension', '=', SUP).execute();
  await app?.stop();
});

describe('supervision_sessions', () => {
  it('a request is stored before the phone rings; the answer takes it; the session is stored with its mode until it ends', async () => {
    const { svc, asked } = daemon();
    const view = await svc.request({ supervisorExtension: SUP, target: { kind: 'extension', number: '5812' }, mode: 'whisper' }, actor);
    expect(asked).toEqual([`ring ${view.id} ${SUP}`]);
    const [ringing] = await rowsOf([view.id]);
    expect(ringing).toMatchObject({ state: 'ringing', supervisor_extension: SUP, mode: 'whisper', target: { kind: 'extension', number: '5812' }, actor: { label: actor.label } });
    expect(ringing!.ring_until!.getTime() - Date.now()).toBeGreaterThan(20_000); // 30 s of ringing

    expect(svc.claim(view.id)).toMatchObject({ mode: 'whisper' });
    svc.opened({ ...info(view.id, new Date()), mode: 'whisper' }, handle);
    svc.changed(view.id, 'whisper', 'barge', actor);
    const active = await eventually(async () => (await rowsOf([view.id])).find((r) => r.state === 'active' && r.mode === 'barge'), 5000, 'the session stored, barging');
    expect(active).toMatchObject({ call_id: `call-${run}`, channel_id: `agent-chan-${run}`, extension: '5812', ring_until: null });

    svc.closed(view.id, 'ended-by-api');
    await eventually(async () => ((await rowsOf([view.id])).length === 0 ? true : undefined), 5000, 'the row gone at the end');
  });

  it('a restarted daemon waits for the request still ringing, hangs up the one whose phone is gone, ends the session in progress; all audited', async () => {
    const old = daemon();
    const ringing = await old.svc.request({ supervisorExtension: SUP, target: { kind: 'extension', number: '5812' }, mode: 'listen' }, actor);
    const gone = await old.svc.request({ supervisorExtension: SUP, target: { kind: 'extension', number: '5812' }, mode: 'barge' }, actor);
    const sessionId = `sup-chan-${run}`;
    old.svc.opened({ ...info(sessionId, new Date(Date.now() - 42_000)), mode: 'listen' }, handle);
    old.svc.changed(sessionId, 'listen', 'whisper', actor);
    await eventually(async () => ((await rowsOf([sessionId]))[0]?.mode === 'whisper' ? true : undefined), 5000, 'the old session stored');
    // The old daemon goes away without ending anything (SIGKILL): only the rows are left.

    const next = daemon([{ id: ringing.id, state: 'Ringing' }, { id: sessionId, state: 'Up' }]);
    const out = await next.svc.recover();
    expect(out.waiting).toContain(ringing.id);
    expect(out.cancelled).toContain(gone.id);
    expect(out.ended).toContain(sessionId);
    expect(next.asked).toEqual(expect.arrayContaining([`hangup ${gone.id}`, `hangup ${sessionId}`, `destroy supervision-${sessionId}`, `monitored call-${run}`]));
    expect(next.asked).not.toContain(`hangup ${ringing.id}`);
    expect((await rowsOf([ringing.id, gone.id, sessionId])).map((r) => [r.id, r.state])).toEqual([[ringing.id, 'ringing']]);
    expect(next.svc.list().map((v) => v.id)).toContain(ringing.id);

    const ended = await eventually(async () => (await auditOf(sessionId)).find((r) => r.action === 'supervision.end'), 5000, 'supervision.end audited');
    expect(ended).toMatchObject({ actor_label: actor.label, details: { reason: 'daemon-restart', mode: 'whisper', callId: `call-${run}` } });
    expect((ended!.details as { seconds: number }).seconds).toBeGreaterThanOrEqual(42);
    const cancelled = await eventually(async () => (await auditOf(gone.id)).find((r) => r.action === 'supervision.cancel'), 5000, 'supervision.cancel audited');
    expect(cancelled).toMatchObject({ details: { reason: 'daemon-restart', supervisor: SUP } });
    expect((await auditOf(gone.id)).map((r) => r.action)).toEqual(['supervision.request', 'supervision.cancel']);

    // The phone still ringing is answered after the restart: the new daemon has the request.
    expect(next.svc.claim(ringing.id)).toMatchObject({ mode: 'listen', supervisorExtension: SUP });
    await eventually(async () => ((await rowsOf([ringing.id])).length === 0 ? true : undefined), 5000, 'the answered request row gone');
    // A second recover (an ARI reconnect) finds nothing more to do.
    expect(await next.svc.recover()).toEqual({ waiting: [], cancelled: [], ended: [] });
  });
});
