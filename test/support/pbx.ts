/**
 * The pbx API as an e2e test uses it, plus extensions for scripted SIPp desk phones.
 */
import { Daemon, eventually } from './daemon.js';
import { Api, cliToken } from './api.js';
import { openDb } from './db.js';
import type { DbSettings } from './env.js';

export type Reply = { status: number; body: any }; // eslint-disable-line @typescript-eslint/no-explicit-any

/** Authenticated JSON requests against a running daemon. */
export function apiClient(env: Record<string, string>, token: string) {
  return async (method: string, url: string, body?: unknown): Promise<Reply> => {
    const res = await fetch(`http://127.0.0.1:${env['PBX_HTTP_PORT']}${url}`, {
      method,
      headers: { authorization: `Bearer ${token}`, ...(body ? { 'content-type': 'application/json' } : {}) },
      body: body ? JSON.stringify(body) : undefined,
    });
    return { status: res.status, body: res.status === 204 ? null : await res.json() };
  };
}

/**
 * Create an extension through the API and return its SIP password. SIPp phones follow a script:
 * they cannot take the connected-line re-INVITE Asterisk sends mid-call, nor answer its OPTIONS
 * keep-alives (real desk phones do both), so both are switched off for these scripted phones only.
 */
export async function createScriptedExtension(
  api: ReturnType<typeof apiClient>,
  db: DbSettings,
  fields: { number: string; displayName: string; [k: string]: unknown },
): Promise<string> {
  const res = await api('POST', '/api/v1/extensions', fields);
  if (res.status !== 201) throw new Error(`create extension ${fields.number}: ${res.status} ${JSON.stringify(res.body)}`);
  const conn = openDb(db);
  try {
    await conn.updateTable('ps_endpoints').set({ send_connected_line: 'no' } as never).where('id', '=', fields.number).execute();
    await conn.updateTable('ps_aors').set({ qualify_frequency: 0 }).where('id', '=', fields.number).execute();
  } finally {
    await conn.destroy();
  }
  return res.body.secret as string;
}

/** Start the built daemon for an e2e file and wait until it is ready; an admin API client for it. */
export async function startReadyDaemon(env: Record<string, string>): Promise<{ daemon: Daemon; api: Api; admin: ReturnType<typeof apiClient> }> {
  const daemon = Daemon.start(env);
  const adminToken = await cliToken(env, 'admin');
  const api = Api.for(env, adminToken);
  await eventually(async () => ((await api.ready()) === 200 ? true : undefined), 30_000, 'daemon ready');
  return { daemon, api, admin: apiClient(env, adminToken) };
}
