/**
 * What a phone gets when it asks for a file under /provision/: route the file name, find the
 * device by MAC, decide access (access.ts), render the device's vendor format (render.ts).
 * The HTTP layer (phone-routes.ts) only turns the outcome into a reply and log lines.
 */
import type { Db } from '../db/database.js';
import { decideAccess, issueProvisioningPassword, type AccessDecision, type BasicCredentials, type DenyReason } from './access.js';
import { normalizeClientIp } from '../shared/client-ip.js';
import {
  renderGrandstream,
  renderPolycomMacMaster,
  renderPolycomMaster,
  renderPolycomPhone,
  renderYealink,
  type PhoneSettings,
  type RenderedFile,
} from './render.js';
import { zoneRules } from './timezone.js';
import { ringRules } from './ring.js';
import type { DeviceRow, Vendor } from './tables.js';
import * as repo from './repository.js';
import type { SecretBox } from '../shared/secret-box.js';

export type ProvisioningFile =
  | { readonly kind: 'polycom-master' }
  /** {mac}.cfg: Yealink's file, or Polycom's per-phone master; the device's vendor decides */
  | { readonly kind: 'mac-cfg'; readonly mac: string }
  | { readonly kind: 'polycom-phone'; readonly mac: string }
  | { readonly kind: 'grandstream'; readonly mac: string };

/** File name -> what is asked for; null for anything else (e.g. Yealink's y0000000000xx.cfg). */
export function parseProvisioningFile(name: string): ProvisioningFile | null {
  if (name === '000000000000.cfg') return { kind: 'polycom-master' };
  let m = /^([0-9a-f]{12})\.cfg$/i.exec(name);
  if (m) return { kind: 'mac-cfg', mac: m[1]!.toLowerCase() };
  m = /^([0-9a-f]{12})-phone\.cfg$/i.exec(name);
  if (m) return { kind: 'polycom-phone', mac: m[1]!.toLowerCase() };
  m = /^cfg([0-9a-f]{12})\.xml$/i.exec(name);
  if (m) return { kind: 'grandstream', mac: m[1]!.toLowerCase() };
  return null;
}

export type ProvisioningOutcome =
  | { readonly status: 200; readonly result: 'served'; readonly file: RenderedFile; readonly mac: string | null; readonly vendor: Vendor | null; readonly via: 'allowlist' | 'credentials' | 'public' }
  /**
   * Refused. An unknown MAC (`reason: 'unknown-device'`) is refused exactly like a known device
   * with a wrong credential: the same 401 and challenge, after the same work (a hash compared).
   */
  | { readonly status: 401; readonly result: 'challenge' | 'denied'; readonly mac: string; readonly reason: DenyReason | 'unknown-device'; readonly failure: boolean }
  | { readonly status: 404; readonly result: 'unknown-file' | 'wrong-file'; readonly mac: string | null; readonly vendor: Vendor | null }
  | { readonly status: 503; readonly result: 'no-sip-account'; readonly mac: string; readonly vendor: Vendor };

export interface ProvisioningSettings {
  readonly site: { readonly address: string; readonly timezone: string };
  readonly sipPort: number;
  /** PBX_SIP_TLS_PORT: the port of extensions whose sipSecurity is tls or tls-srtp */
  readonly sipTlsPort: number;
  /** opens the extensions' sealed SIP passwords (PBX_SECRET_KEY) */
  readonly secrets: SecretBox;
}

export class ProvisioningService {
  /** Stands in for a device that does not exist, so that refusing it costs the same as a wrong password. */
  private readonly nobody = { passwordHash: issueProvisioningPassword().hash, allowedNetworks: [] as readonly string[] };

  constructor(
    private readonly db: Db,
    private readonly settings: ProvisioningSettings,
    private readonly now: () => Date = () => new Date(),
  ) {}

  async fetch(fileName: string, clientIp: string, credentials: BasicCredentials | null | 'malformed'): Promise<ProvisioningOutcome> {
    const file = parseProvisioningFile(fileName);
    if (!file) return { status: 404, result: 'unknown-file', mac: null, vendor: null };
    if (file.kind === 'polycom-master') {
      return { status: 200, result: 'served', file: renderPolycomMaster(), mac: null, vendor: 'polycom', via: 'public' };
    }
    const device = await repo.findDeviceByMac(this.db, file.mac);
    if (!device) {
      // Same decision, same work as for a device: without credentials a challenge, with any a failure.
      const access: AccessDecision = decideAccess({ mac: file.mac, ...this.nobody }, clientIp, credentials);
      const failure = access.allowed || access.failure;
      return { status: 401, result: failure ? 'denied' : 'challenge', mac: file.mac, reason: 'unknown-device', failure };
    }

    // Access first, so nothing about the device (not even its vendor) leaks to a stranger.
    const access = decideAccess(
      { mac: device.mac, passwordHash: device.prov_password_hash, allowedNetworks: device.prov_allowed_networks },
      clientIp,
      credentials,
    );
    if (!access.allowed) {
      return { status: 401, result: access.failure ? 'denied' : 'challenge', mac: device.mac, reason: access.reason, failure: access.failure };
    }

    const wanted: Record<ProvisioningFile['kind'], readonly Vendor[]> = {
      'polycom-master': ['polycom'],
      'mac-cfg': ['yealink', 'polycom'],
      'polycom-phone': ['polycom'],
      grandstream: ['grandstream'],
    };
    if (!wanted[file.kind].includes(device.vendor)) return { status: 404, result: 'wrong-file', mac: device.mac, vendor: device.vendor };

    let rendered: RenderedFile;
    if (file.kind === 'mac-cfg' && device.vendor === 'polycom') {
      rendered = renderPolycomMacMaster(device);
    } else {
      const settings = await this.phoneSettings(device);
      if (!settings) return { status: 503, result: 'no-sip-account', mac: device.mac, vendor: device.vendor };
      rendered = device.vendor === 'yealink' ? renderYealink(settings) : device.vendor === 'polycom' ? renderPolycomPhone(settings) : renderGrandstream(settings);
    }
    await repo.markProvisioned(this.db, device.id, this.now(), normalizeClientIp(clientIp));
    return { status: 200, result: 'served', file: rendered, mac: device.mac, vendor: device.vendor, via: access.via };
  }

  /** Everything the renderers need, read fresh; null when the extension has no SIP password (sip_secrets row). */
  private async phoneSettings(device: DeviceRow): Promise<PhoneSettings | null> {
    const numbers = [device.extension_number, ...device.blf_keys];
    const [names, password] = await Promise.all([repo.findExtensions(this.db, numbers), repo.sipPassword(this.db, this.settings.secrets, device.extension_number)]);
    const displayName = names.get(device.extension_number);
    if (displayName === undefined || password === undefined) return null;
    const [security, queues, autoAnswer] = await Promise.all([repo.sipSecurity(this.db, device.extension_number), repo.queueAlertInfos(this.db), repo.someAgentAutoAnswers(this.db)]);
    const tls = security !== 'none';
    return {
      mac: device.mac,
      account: { number: device.extension_number, displayName, label: device.label ?? device.extension_number, password },
      server: { address: this.settings.site.address, port: tls ? this.settings.sipTlsPort : this.settings.sipPort, transport: tls ? 'tls' : 'udp' },
      srtp: security === 'tls-srtp',
      time: zoneRules(this.settings.site.timezone, this.now().getUTCFullYear()),
      // a BLF key whose extension was deleted since is left out rather than monitoring nothing
      blf: device.blf_keys.filter((n) => names.has(n)).map((n) => ({ number: n, label: names.get(n) || n })),
      ring: { rules: ringRules(queues), autoAnswer },
    };
  }
}
