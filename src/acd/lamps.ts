/**
 * BLF lamps for agents: a team lead's desk phone watches `*80<agent number>` (a BLF key) and its
 * lamp follows the agent's state, wherever the agent is logged in (hot-desking).
 *
 *   agent state   device state (Stasis:agent-<n>)   what the lamp does (usual desk phones)
 *   logged-out    UNAVAILABLE                        off / grey
 *   ready         NOT_INUSE                          green / off
 *   reserved      RINGING                            blinking
 *   on-call       INUSE                              red
 *   wrap-up       BUSY                               red
 *   paused        ONHOLD                             slow blink
 *
 * The device state is set over ARI (res_ari_device_states: devices named `Stasis:...`); the hint
 * that maps the BLF extension to it is added to the phones' context over AMI
 * (DialplanExtensionAdd), once per agent and Asterisk start, so no dialplan reload is needed.
 */
import type { Logger } from '../logger.js';
import type { AmiResponse } from '../telephony/ami.js';
import type { CallControl, DeviceStateValue } from '../telephony/ari-types.js';
import type { AgentStatus } from './agent-state.js';
import { SerialByKey } from '../serial-by-key.js';
import { logRejection } from '../shared/log-rejection.js';

export const LAMP_OF: Readonly<Record<AgentStatus, DeviceStateValue>> = {
  'logged-out': 'UNAVAILABLE',
  ready: 'NOT_INUSE',
  reserved: 'RINGING',
  'on-call': 'INUSE',
  'wrap-up': 'BUSY',
  paused: 'ONHOLD',
};

/** The extension a BLF key watches for agent `number`. */
export const lampExtension = (number: string): string => `*80${number}`;
const device = (number: string): string => `agent-${number}`;
const AGENT_NUMBER = /^[0-9]{2,16}$/;

/** How long a lamp waits for the agent's state to settle before it is set. */
export const LAMP_SETTLE_MS = 30;

export class AgentLamps {
  private readonly hinted = new Set<string>();
  /** Agents whose lamp is due: the latest state wins. */
  private readonly due = new Map<string, AgentStatus>();
  /** Per agent, lamp updates go out one after the other. */
  private readonly updates = new SerialByKey();

  constructor(
    private readonly deps: {
      readonly ami: { action(fields: Record<string, string>): Promise<AmiResponse> };
      readonly control: Pick<CallControl, 'setDeviceState'>;
      readonly context: string;
      readonly log: Logger;
    },
  ) {}

  /** Asterisk (re)started or AMI reconnected: hints added before may be gone. */
  forgetHints(): void {
    this.hinted.clear();
  }

  /**
   * The agent's state changed: their lamp follows LAMP_SETTLE_MS later. A quick run of changes
   * (offered, then answered) costs one update, none of them competes with ringing the agent's
   * phone, and updates for one agent go out in order.
   */
  follow(number: string, status: AgentStatus): void {
    const scheduled = this.due.has(number);
    this.due.set(number, status);
    if (scheduled) return;
    setTimeout(() => {
      const latest = this.due.get(number);
      this.due.delete(number);
      if (!latest) return;
      logRejection(this.updates.run(number, () => this.show(number, latest)), this.deps.log, 'agent lamp not set', { agent: number, status: latest });
    }, LAMP_SETTLE_MS).unref();
  }

  /** Set one agent's lamp now; never throws (a lamp is not worth failing a call for). */
  async show(number: string, status: AgentStatus): Promise<void> {
    if (!AGENT_NUMBER.test(number)) return;
    try {
      if (!this.hinted.has(number)) {
        const res = await this.deps.ami.action({
          Action: 'DialplanExtensionAdd',
          Context: this.deps.context,
          Extension: lampExtension(number),
          Priority: 'hint',
          Application: `Stasis:${device(number)}`,
          Replace: 'yes',
        });
        if (String(res['response'] ?? '').toLowerCase() !== 'success') throw new Error(`hint not added: ${String(res['message'] ?? 'no answer')}`);
        this.hinted.add(number);
      }
      await this.deps.control.setDeviceState(device(number), LAMP_OF[status]);
    } catch (err) {
      this.deps.log.warn({ agent: number, status, err: (err as Error).message }, 'agent lamp not set');
    }
  }

  async showAll(agents: readonly { readonly number: string; readonly state: AgentStatus }[]): Promise<void> {
    for (const a of agents) await this.show(a.number, a.state);
  }
}
