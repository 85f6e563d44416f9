/**
 * Composition root: the one place where adapters are built and handed to services.
 * Nothing else constructs a connection.
 */
import { Redis } from 'ioredis';
import type { FastifyInstance } from 'fastify';
import type { Config } from './config.js';
import type { Logger } from './logger.js';
import { createDb, createPool, type Db } from './db/database.js';
import { AriConnection } from './telephony/ari.js';
import { AmiConnection } from './telephony/ami.js';
import { UnservedCollector } from './calls/unserved.js';
import { CdrWriter } from './calls/cdr-writer.js';
import { StasisDispatcher } from './calls/dispatcher.js';
import { AdmissionControl } from './calls/admission.js';
import { DialplanShedder } from './calls/shedder.js';
import { EmergencyNumbers } from './calls/emergency-numbers.js';
import { exemptValue } from './calls/emergency-exempt.js';
import { inboundRulesView } from './trunks/inbound-view.js';
import { CONTACTS_CHANNEL, ExtensionLamps, contactChange } from './extensions/lamps.js';
import { PgListener } from './db/listener.js';
import { EventStream } from './events/service.js';
import { eventsPlugin } from './events/plugin.js';
import { reserveIdBlock } from './events/repository.js';
import { publishAgentChange, publishingAcdStore } from './events/acd-events.js';
import { callEnded } from './calls/call-events.js';
import { registeredExtensions } from './extensions/repository.js';
import { wallboardPlugin } from './wallboard/plugin.js';
import { callDirectory } from './calls/directory.js';
import { AuthService } from './auth/service.js';
import { buildHttp, plainListener } from './http/server.js';
import { readFileSync } from 'node:fs';
import type { Server } from 'node:http';
import { healthPlugin } from './health/plugin.js';
import { authPlugin } from './auth/plugin.js';
import { idempotencyPlugin } from './idempotency/plugin.js';
import { purgeExpiredKeysEvery } from './idempotency/purge.js';
import { auditPlugin } from './audit/plugin.js';
import { callsPlugin } from './calls/plugin.js';
import { extensionsPlugin } from './extensions/plugin.js';
import { trunksPlugin } from './trunks/plugin.js';
import { devicesPlugin, phoneProvisioningPlugin } from './provisioning/plugin.js';
import { voicemailPlugin } from './voicemail/plugin.js';
import { RecordingStore } from './recordings/service.js';
import { RECORDINGS_QUEUE, RecordingJobs } from './recordings/jobs.js';
import { recordingsPlugin } from './recordings/plugin.js';
import { MixMonitorRecorder } from './calls/recorder.js';
import { RecordingFinisher } from './calls/recording-finisher.js';
import { readQueueRecording, recordingLookup } from './calls/recording-lookup.js';
import { findRecordingOnChannel, insertCallRecording, removeCallRecording, updateCallRecording } from './calls/recording-repository.js';
import { VERSION } from './version.js';
import { logRejection } from './shared/log-rejection.js';
import { ExtensionService } from './extensions/service.js';
import { ContactStateRefresher, RegistrationTracker } from './extensions/registrations.js';
import { TrunkService } from './trunks/service.js';
import { RouteService } from './trunks/route-service.js';
import { Registrar, reloadRegistrations } from './trunks/registrar.js';
import { PjsipCache } from './telephony/pjsip-cache.js';
import { inboundRoutesUsingExtension, loadOutboundRoutes } from './trunks/repository.js';
import { deviceUsages } from './provisioning/usages.js';
import path from 'node:path';
import { VoicemailService } from './voicemail/service.js';
import { PromptService } from './prompts/service.js';
import { findPrompt, findPromptByName } from './prompts/repository.js';
import { AmiAttemptDialer } from './calls/campaign-dialer.js';
import { handsetOutcome } from './calls/disposition-call.js';
import { setDisposition } from './campaigns/dispositions.js';
import type { AttemptDialer, CampaignCallReports } from './campaigns/ports.js';
import { httpLookup } from './ivr/http-lookup.js';
import { hostMayBeAllowed, lookupHostPolicy } from './ivr/lookup-hosts.js';
import { promptsPlugin } from './prompts/plugin.js';
import { FlowService } from './flows/service.js';
import { flowsPlugin } from './flows/plugin.js';
import { flowNameById, flowsUsingExtension, flowsUsingPrompt, flowsUsingQueue, loadPublishedFlow } from './flows/repository.js';
import { AcdService } from './acd/service.js';
import { AcdEngine } from './acd/engine.js';
import { PgAcdStore } from './acd/store.js';
import { AgentLamps } from './acd/lamps.js';
import { acdPlugin } from './acd/plugin.js';
import { queuesUsingExtension } from './acd/admin-repository.js';
import { SupervisionService } from './supervision/service.js';
import { supervisionPlugin } from './supervision/plugin.js';
import { WEBHOOKS_QUEUE, WebhookJobs } from './webhooks/jobs.js';
import { attemptsFor } from './webhooks/signing.js';
import { WebhookService } from './webhooks/service.js';
import { webhooksPlugin } from './webhooks/plugin.js';
import { campaignsPlugin } from './campaigns/plugin.js';
import { ImportJobs } from './campaigns/import-jobs.js';
import { ImportService } from './campaigns/import-service.js';
import { Importer } from './campaigns/importer.js';
import { ATTEMPTS_QUEUE, AttemptJobs } from './campaigns/attempt-jobs.js';
import { publishAttemptEnded } from './campaigns/attempt-events.js';
import { CampaignDialer, DIALER_ACTOR } from './campaigns/dialer.js';
import { CampaignReports } from './campaigns/call-reports.js';
import { acdFloor, previewAgents } from './campaigns/acd-floor.js';
import type { PreviewOffer } from './campaigns/preview.js';
import { isDoNotCall } from './campaigns/dnc.js';
import { CampaignService } from './campaigns/service.js';
import { surveyPort } from './surveys/repository.js';
import { supervisionAllowed } from './extensions/repository.js';
import { SecretBox } from './shared/secret-box.js';
import { StaffingService } from './staffing/service.js';
import { staffingPlugin } from './staffing/plugin.js';
import { ReportService } from './reports/service.js';
import { Registry } from 'prom-client';
import { PbxMetrics } from './metrics/metrics.js';
import { metricsPlugin, requestTimingPlugin } from './metrics/plugin.js';
import { agentCounts, campaignFigures, queueFigures } from './metrics/repository.js';
import { checkReadiness } from './health/checks.js';
import { reportsPlugin } from './reports/plugin.js';

export interface App {
  readonly http: FastifyInstance;
  /** The plain-HTTP listener beside HTTPS (PBX_HTTP_PLAIN_PORT); null without one. */
  readonly plainHttp: Server | null;
  readonly db: Db;
  readonly dispatcher: StasisDispatcher;
  /** The live event stream (src/events, docs/events.md). */
  readonly events: EventStream;
  /**
   * Outbound campaigns' call side (src/calls/campaign-*.ts): the AMI AttemptDialer, and where the
   * dialer's CampaignCallReports are plugged in (until then answered contacts are hung up).
   */
  readonly campaignCalls: { readonly dialer: AttemptDialer; useReports(reports: CampaignCallReports): void };
  start(): Promise<void>;
  stop(): Promise<void>;
}

const RECONCILE_RETRY_MS = 3_000;

export async function createApp(config: Config, log: Logger): Promise<App> {
  const pool = createPool(config.db);
  const db = createDb(pool);
  const redis = new Redis(config.redis.url, {
    // Sent only when the site set one (PBX_REDIS_PASSWORD or the URL): a Redis without requirepass refuses AUTH.
    ...(config.redis.password === null ? {} : { password: config.redis.password }),
    keyPrefix: `${config.redis.prefix}:`,
    lazyConnect: true,
    maxRetriesPerRequest: 1,
    enableOfflineQueue: false,
    retryStrategy: (times) => Math.min(200 * 2 ** times, config.reconnect.maxMs),
  });
  redis.on('error', (err: Error) => log.debug({ err: err.message }, 'redis error'));

  // The live event stream (src/events, docs/events.md): features publish to events.bus after their commits.
  const events = new EventStream({ blocks: { reserve: () => reserveIdBlock(db) }, backoff: config.reconnect, log: log.child({ component: 'events' }) });
  const eventLog = (err: Error): void => log.warn({ component: 'events', err: err.message }, 'event not published');
  // Prometheus metrics (src/metrics, docs/metrics.md) on this daemon's own registry; the sources
  // are read at scrape time (the adapters they name are built below), call and queue events counted from the bus.
  // Overload control (src/calls/admission.ts, docs/operations.md#overload): new callers refused (503) past the limits.
  const admission = new AdmissionControl(config.overload, log.child({ component: 'calls' }));
  // Emergency calls from our phones are never refused for overload, by the daemon or the dialplan (src/calls/emergency-exempt.ts).
  const emergencyNumbers = new EmergencyNumbers(db, log.child({ component: 'calls' }));
  // While the daemon refuses calls, the dialplan sheds new callers before Stasis (src/calls/shedder.ts).
  const shedder = new DialplanShedder({
    admission,
    calls: () => dispatcher?.liveCount ?? 0,
    setGlobal: (name, value) => ari.setGlobal(name, value),
    reachable: () => ari.isConnected,
    exempt: () => exemptValue(emergencyNumbers.current),
    log: log.child({ component: 'calls' }),
  });
  const metrics = new PbxMetrics(new Registry(), {
    liveCalls: () => dispatcher?.liveCount ?? 0,
    overload: () => ({ callsInSetup: dispatcher?.inSetupCount ?? 0, refused: new Map([...admission.refused, ['shed', shedder.shedTotal]]) }),
    asterisk: () => ({ ari: ari.isConnected, ami: ami.isConnected }),
    dependencies: async () => {
      const { checks } = await checkReadiness({ db, redis, asterisk: () => ({ ari: ari.isConnected, ami: ami.isConnected }) });
      return { postgres: checks.postgres.ok, redis: checks.redis.ok };
    },
    queues: () => queueFigures(db),
    agents: () => agentCounts(db),
    jobs: async () => {
      const [recs, hooks, attempts] = await Promise.all([recordingJobs.counts(), webhookJobs.counts(), attemptJobs.counts()]);
      return [
        ...Object.entries(recs).map(([state, count]) => ({ queue: RECORDINGS_QUEUE, state, count })),
        ...Object.entries(hooks).map(([state, count]) => ({ queue: WEBHOOKS_QUEUE, state, count })),
        ...Object.entries(attempts).map(([state, count]) => ({ queue: ATTEMPTS_QUEUE, state, count })),
      ];
    },
    streamClients: () => events.stats,
    cdrPending: () => cdrWriter.pendingCount,
    cdrWriteFailures: () => cdrWriter.failedWrites,
    webhookOutbox: () => webhooks.outbox,
    acdWrites: () => acdStore.waitingWrites,
    campaigns: () => campaignFigures(db),
  }, VERSION);
  events.bus.subscribe(metrics, null);
  const cdrWriter = new CdrWriter(db, config.reconnect, log.child({ component: 'cdr' }), callEnded(events.bus));
  let dispatcher: StasisDispatcher | null = null;
  /** The campaign dialer's reports (src/campaigns), plugged in by useReports. */
  let campaignReports: CampaignCallReports | null = null;
  let reconcileTimer: NodeJS.Timeout | null = null;
  const reconcile = (): void => {
    dispatcher?.reconcile().catch((err: Error) => {
      log.warn({ err: err.message, retryInMs: RECONCILE_RETRY_MS }, 'reconciliation failed; retrying');
      reconcileTimer = setTimeout(() => {
        if (ari.isConnected) reconcile();
      }, RECONCILE_RETRY_MS);
    });
  };
  // Calls the dialplan fallback served while no daemon was connected become CDRs (src/calls/unserved.ts).
  const unserved = new UnservedCollector({ db, file: config.unservedFile, log: log.child({ component: 'cdr' }) });
  const ari = new AriConnection(config.ari, config.reconnect, {
    onConnected: () => {
      metrics.asteriskConnected('ari');
      shedder.connected();
      reconcile();
      unserved.collectNow();
      // Supervision sessions a daemon before this one left ringing or in progress (docs/supervision.md),
      // once the calls are adopted (the supervised call's CDR is noted monitored).
      const adopted = dispatcher?.reconcile().catch(() => undefined) ?? Promise.resolve();
      logRejection(adopted.then(() => supervision.recover()), log, 'supervision sessions not recovered');
    },
    onDisconnected: (reason) => log.warn({ reason }, 'ARI disconnected: calls arriving now get the dialplan fallback'),
    onEvent: (event) => dispatcher?.onEvent(event),
    onRequestTimed: (method, resource, seconds, ok) => metrics.observeAriRequest(method, resource, seconds, ok),
  }, log.child({ component: 'ari' }));
  const ami = new AmiConnection(config.ami, config.reconnect, log.child({ component: 'ami' }));
  // The DID rules a call from a trunk is routed by, kept warm; changes arrive by LISTEN.
  const inbound = inboundRulesView(db, { db: config.db, backoff: config.reconnect }, log.child({ component: 'routing' }));
  // A flow's published version, as calls load it, kept warm the same way: publishing sets
  // flows.published_version (a change announced), and a published version's definition never changes.
  const publishedFlow = inbound.keepEach((name) => loadPublishedFlow(db, name));
  const directory = callDirectory(
    db,
    async (trunk) => (await ari.listChannels()).filter((c) => c.name.startsWith(`PJSIP/trunk-${trunk}-`)).length,
    inbound.rules,
    log.child({ component: 'calls' }),
  );
  // The hosts IVR lookups may reach (src/ivr/lookup-hosts.ts): checked at publish and at call time.
  const lookupHosts = lookupHostPolicy(config.ivr.lookupAllowedHosts);
  const voicemail = new VoicemailService({
    db, recordings: ari, mwi: ami, dataDir: path.join(config.dataDir, 'voicemail'), log: log.child({ component: 'voicemail' }),
  });
  // Call recordings once their file exists (src/recordings, docs/recording.md): register (sha256),
  // compress (BullMQ), retention, erasure, the free-space check the call side asks before recording.
  const recordings = new RecordingStore({ db, settings: config.recordings, log: log.child({ component: 'recordings' }) });
  const recordingJobs = new RecordingJobs(recordings, {
    redis: config.redis, attempts: config.recordings.compressAttempts, retentionEveryMs: config.recordings.retentionEveryMs,
  }, log.child({ component: 'recordings' }));
  recordings.useQueue(recordingJobs);
  // Phones registering and going, as Asterisk writes them to ps_contacts (LISTEN pbx_contacts): an
  // extension's BLF lamp on colleagues' phones (src/extensions/lamps.ts) follows its registration,
  // and a phone that (re-)registers while messages wait gets its mailbox lamp set again.
  const extensionLamps = new ExtensionLamps({ control: ari, registered: (numbers) => registeredExtensions(db, numbers), log: log.child({ component: 'extensions' }) });
  const contacts = new PgListener(config.db, CONTACTS_CHANNEL, config.reconnect, {
    onNotification: (payload) => {
      const change = contactChange(payload);
      if (!change) return;
      extensionLamps.contactChanged(change.endpoint);
      if (change.op !== 'delete') logRejection(voicemail.phoneRegistered(change.endpoint), log, 'mailbox lamp not set', { extension: change.endpoint });
    },
    onConnected: () => logRejection(extensionLamps.showAll(), log, 'extension lamps not shown'),
  }, log.child({ component: 'extensions' }));
  // The ACD at call time (src/acd/engine.ts): queues' callers, offers to agents, feature codes.
  // Its routing view is kept warm in memory; changes by other daemons and the API arrive by LISTEN.
  const acdStore = new PgAcdStore(db, { timezone: config.site.timezone, log: log.child({ component: 'acd' }), listen: { db: config.db, backoff: config.reconnect } });
  // BLF lamps: *80<agent number> on a team lead's phone follows the agent's state (src/acd/lamps.ts).
  const lamps = new AgentLamps({ ami, control: ari, context: 'pbx-inbound', log: log.child({ component: 'acd' }) });
  const acdEngine = new AcdEngine({ store: publishingAcdStore(acdStore, events.bus, eventLog), log: log.child({ component: 'acd' }), endedCallCheckMs: config.acd.endedCallCheckMs, deviceState: (number, status) => lamps.follow(number, status) });
  const syncLamps = (): void => {
    lamps.forgetHints();
    acdStore.agents().then((agents) => lamps.showAll(agents)).catch((err: Error) => log.warn({ err: err.message }, 'agent lamps not synced'));
    logRejection(extensionLamps.showAll(), log, 'extension lamps not shown');
  };
  ami.onConnected(syncLamps);
  ami.onConnected(() => metrics.asteriskConnected('ami'));
  // Call recording, the call side (src/calls/call-recording.ts, docs/recording.md): policy, MixMonitor
  // on the caller's channel over AMI, PCI pause; the finisher merges the two directions and hands
  // the file to the store (recordings.finalize).
  // The inbound rules and the queues' recording settings as routing keeps them warm: a recorded call reads neither.
  const recordingPolicies = recordingLookup(db, { inboundRules: () => inbound.rules(), queue: inbound.keepEach((name) => readQueueRecording(db, name)) });
  const callRecording = {
    recorder: new MixMonitorRecorder(ami, config.recordings.asteriskDir),
    rows: {
      insert: async (id: string, row: Parameters<typeof insertCallRecording>[2]) => {
        await insertCallRecording(db, id, row);
      },
      update: (id: string, patch: Parameters<typeof updateCallRecording>[2]) => updateCallRecording(db, id, patch),
      remove: (id: string) => removeCallRecording(db, id),
      runningOn: (channelId: string) => findRecordingOnChannel(db, channelId),
    },
    finisher: new RecordingFinisher({
      db,
      dir: config.recordings.dir,
      mono: config.recordingPolicy.mixedMono,
      sink: {
        finalize: async (id) => {
          const r = await recordings.finalize(id);
          events.bus.publish({ type: 'recording.ready', recordingId: r.id, callId: r.call_id, queue: r.queue, agent: r.agent, durationMs: r.duration_ms });
        },
        prepare: (relative) => recordings.prepareFolder(relative),
      },
      log: log.child({ component: 'recordings' }),
    }),
    hasRoom: async () => (await recordings.canStartRecording()).ok,
    site: {
      policy: config.recordingPolicy.site,
      recordQueueWait: config.recordingPolicy.recordQueueWait,
      mono: config.recordingPolicy.mixedMono,
      announcement: config.recordingPolicy.announcement ? { text: config.recordingPolicy.announcement } : null,
    },
    routeSources: recordingPolicies.routeSources,
    queue: recordingPolicies.queue,
    announcementMedia: async (a: { prompt: string } | { text: string; language?: string }) =>
      'prompt' in a ? [prompts.mediaUri(a.prompt)] : [await prompts.speak(a.text, a.language ?? 'en', undefined)],
  };
  // Live supervision (src/supervision, docs/supervision.md): *55 at a desk phone or the API; a
  // snoop on the agent's channel and the supervisor in a bridge of their own.
  const supervision = new SupervisionService({
    db,
    log: log.child({ component: 'supervision' }),
    canSupervise: (number) => supervisionAllowed(db, number),
    agent: async (number) => {
      const agent = (await acdStore.agents()).find((a) => a.number === number);
      return agent ? { extension: agent.extension } : null;
    },
    calls: {
      callParty: (where) => dispatcher!.callParty(where),
      ringSupervisor: (id, extension, seconds) => dispatcher!.ringSupervisor(id, extension, seconds),
      hangup: (channelId) => ari.hangup(channelId),
      channels: () => ari.listChannels(),
      destroyBridge: (bridgeId) => ari.destroyBridge(bridgeId),
      noteMonitored: (callId) => dispatcher!.noteMonitored(callId),
    },
    snoop: (channelId, o) => ari.snoop(channelId, o),
  });
  dispatcher = new StasisDispatcher({
    supervision,
    // Post-call surveys (docs/acd.md#post-call-survey): a queue's survey flow, the answers.
    surveys: surveyPort(db),
    // Outbound campaigns' answered contacts (src/calls/campaign-call.ts, docs/campaigns.md#the-call-side).
    campaign: {
      reports: () => campaignReports,
      flowName: (id) => flowNameById(db, id),
      promptMedia: async (name) => {
        const prompt = await findPromptByName(db, name);
        return prompt ? prompts.mediaUri(prompt.id) : null;
      },
      // The disposition feature code *7<code> (src/calls/disposition-call.ts): the agent logged in at the phone.
      disposeAtPhone: async (extension, code) => {
        const agentId = await acdStore.agentAtExtension(extension);
        if (!agentId) return 'not-logged-in';
        const actor = { userId: null, tokenId: null, label: `agent ${agentId} at phone ${extension}`, requestId: null };
        return handsetOutcome(await setDisposition(db, { agentId }, code, { actor }));
      },
      // Preview offers on the agent's phone (src/calls/preview-call.ts): the contact's name, 1 accepts, 2 skips.
      preview: {
        offer: async (attemptId): Promise<PreviewOffer | null> => (await campaignDialer.preview?.offerOf(attemptId)) ?? null,
        answer: async (attemptId, answer): Promise<boolean> => {
          const offer = await campaignDialer.preview?.offerOf(attemptId);
          if (!offer) return false;
          return campaignDialer.preview!.answer(offer.agentId, answer, attemptId).then(() => true, () => false);
        },
      },
    },
    recording: callRecording,
    admission,
    emergencyNumbers: () => emergencyNumbers.current,
    acd: acdEngine,
    voicemail,
    db,
    control: ari,
    cdrWriter,
    events: events.bus,
    settings: config.callFlow,
    log: log.child({ component: 'calls' }),
    route: directory.route,
    lookupTarget: directory.lookupTarget,
    // IVR flows at call time (src/calls/ivr-call.ts): published versions, prompts, HTTP lookups.
    ivr: {
      siteTimezone: config.site.timezone,
      loadFlow: publishedFlow,
      promptMedia: async (id) => ((await findPrompt(db, id).catch(() => undefined)) ? prompts.mediaUri(id) : null),
      speak: (text, language, voice) => prompts.speak(text, language, voice),
      lookup: httpLookup(lookupHosts, (host, address) => log.warn({ component: 'ivr', host, address }, 'IVR lookup refused: host not in PBX_LOOKUP_ALLOWED_HOSTS')),
    },
  });

  const calls = dispatcher;
  // Outbound campaign attempts: async AMI Originates into [pbx-campaign] (src/calls/campaign-dialer.ts).
  // The dialer's own AMI session (asterisk/manager.conf: write=originate only, never with "system").
  const amiDialer = new AmiConnection({ ...config.ami, user: `${config.ami.user}-dialer` }, config.reconnect, log.child({ component: 'ami-dialer' }));
  const attemptDialer = new AmiAttemptDialer({ ami: amiDialer, reports: () => campaignReports, routes: () => loadOutboundRoutes(db), log: log.child({ component: 'campaigns' }) });
  // The campaign dialer (src/campaigns/dialer.ts, docs/campaigns.md#how-a-contact-is-dialed): pacing every
  // second, claims in Postgres, one BullMQ job per attempt; its reports are the call side's by default.
  const attemptJobs = new AttemptJobs(config.redis, log.child({ component: 'campaigns' }));
  const campaignDialer: CampaignDialer = new CampaignDialer({
    db,
    queue: attemptJobs,
    asterisk: attemptDialer,
    floor: acdFloor(acdStore),
    isDoNotCall: (campaignId, number) => isDoNotCall(db, campaignId, number),
    channelExists: async (id) => {
      try {
        return (await ari.listChannels()).some((c) => c.id === id);
      } catch {
        return null;
      }
    },
    finish: (id) => new CampaignService({ db, events: events.bus, log: log.child({ component: 'campaigns' }), timezone: config.site.timezone }).apply(id, 'finish', DIALER_ACTOR).then(() => undefined),
    log: log.child({ component: 'campaigns' }),
    // campaign.attempt on the bus (counted by the metrics from there); the pacing gauges.
    onAttemptEnded: publishAttemptEnded(db, events.bus, eventLog),
    onPacing: (c, d) => metrics.observeCampaignPacing(c.name, d.level, d.reason),
    // Preview mode (src/campaigns/preview.ts): offers to ready agents, campaign.preview events.
    preview: {
      agents: previewAgents(acdStore, acdEngine),
      events: events.bus,
      handset: { ring: (offer, seconds) => dispatcher!.ringPreview(offer, seconds), hangup: (attemptId) => dispatcher!.hangupPreview(attemptId) },
    },
  });
  campaignReports = new CampaignReports(db, campaignDialer, log.child({ component: 'campaigns' }));
  acdEngine.useCallbackDialer({ ring: (id, agent, customer, seconds, queue) => calls.ringCallback(id, agent, customer, seconds, queue) });
  const registrations = new RegistrationTracker();
  ami.onEvent((e) => registrations.onAmiEvent(e));
  ami.onEvent((e) => {
    if (e.event === 'UserEvent' && e['userevent'] === 'PbxShed') shedder.shed(e['calleridnum']);
  });
  // Asterisk tells a contact's state only when it changes: ask for all of them on connect and every 30 s.
  const contactStates = new ContactStateRefresher({ ami, log: log.child({ component: 'extensions' }) });
  ami.onConnected(() => contactStates.refresh());
  // SIP passwords: Asterisk gets digests; the passwords phones are provisioned with are sealed under PBX_SECRET_KEY.
  const secrets = new SecretBox(Buffer.from(config.secretKey, 'base64'));
  // Signed webhooks (src/webhooks, docs/webhooks.md): a bus subscriber that enqueues a BullMQ delivery per (webhook, event).
  const webhookJobs = new WebhookJobs({ redis: config.redis, attempts: attemptsFor(config.webhooks.retryForMs, config.webhooks.firstRetryMs), firstRetryMs: config.webhooks.firstRetryMs }, log.child({ component: 'webhooks' }));
  const webhooks = new WebhookService({ db, secrets, queue: webhookJobs, timeoutMs: config.webhooks.timeoutMs, log: log.child({ component: 'webhooks' }), observe: (outcome, ms) => metrics.observeWebhookDelivery(outcome, ms) });
  let unsubscribeWebhooks: (() => void) | null = null;
  // Contact and do-not-call list imports (src/campaigns, docs/campaigns.md#contact-lists-and-time-zones): CSVs spooled to disk, imported by BullMQ jobs.
  const importJobs = new ImportJobs({ redis: config.redis }, log.child({ component: 'campaigns' }));
  const listImports = new ImportService({ db, dir: config.campaignImports.dir, maxBytes: config.campaignImports.maxBytes, queue: importJobs, log: log.child({ component: 'campaigns' }) });
  const importer = new Importer({ db, dir: config.campaignImports.dir, log: log.child({ component: 'campaigns' }) });
  // Asterisk's memory caches of PJSIP endpoints, auths and AORs (asterisk/sorcery.conf): expired
  // after each change, and emptied whenever AMI (re)connects (changes made while it was away).
  const sipCache = new PjsipCache(ami, log.child({ component: 'sip-cache' }));
  ami.onConnected(() => {
    sipCache.expireAll().catch(() => undefined); // never rejects: it logs its own failures
  });
  const extensions = new ExtensionService(db, secrets, [inboundRoutesUsingExtension, deviceUsages, flowsUsingExtension, queuesUsingExtension], [(tx, number) => voicemail.forgetMailbox(tx, number)], sipCache);
  const trunks = new TrunkService(db, new Registrar(ami, log.child({ component: 'trunks' })), sipCache);
  const routing = new RouteService(db, (numbers) => emergencyNumbers.set(numbers));
  // Trunks changed while Asterisk was unreachable start (or stop) registering once AMI is back.
  ami.onConnected(() => {
    reloadRegistrations(ami).catch((err: Error) => log.warn({ err: err.message }, 'trunk registrations not reloaded'));
  });
  const auth = new AuthService(db);
  // Idempotency-Key answers are kept 24 h (src/idempotency); older ones are deleted hourly from start().
  let stopPurgingKeys: (() => void) | null = null;
  // IVR prompts (src/prompts): uploads and text-to-speech converted for Asterisk.
  const prompts = new PromptService({
    db, settings: config.prompts, log: log.child({ component: 'prompts' }),
    usage: (promptId) => flowsUsingPrompt(db, promptId),
  });
  // IVR flows (src/flows): versioned definitions, draft -> publish -> rollback.
  const flows = new FlowService(db, (host) => hostMayBeAllowed(lookupHosts, host));
  // ACD (src/acd, issue #5): agents, queues and members, pause reasons, a supervisor forcing an
  // agent's state, state log, live views.
  // States forced through the API reach the call runtime via acd.onAgentChange((change) => ...)
  // (change.effects: withdraw a ringing offer, cancel a wrap-up timer).
  const acd = new AcdService(db, { flowsUsingQueue, timezone: config.site.timezone });
  acd.onAgentChange(publishAgentChange(acdStore, events.bus, eventLog));
  // GET /agents/live shares one read for AGENTS_LIVE_SHARED_MS (docs/api.md#live-views): an agent
  // moved by a call here (agent.state), a call handed by an agent (queue.left), or a change another
  // daemon or SQL made (the routing view's LISTEN) makes the next reader read again.
  acdStore.onChange(() => acd.agentsChanged());
  // The live queue figures (GET /reports/queues/live, shared for QUEUES_LIVE_SHARED_MS) are computed
  // again after a caller joined or left a queue here: a wallboard refetches them on that event.
  const reports = new ReportService(db, { timezone: config.site.timezone });
  events.bus.subscribe({
    deliver: (e) => {
      if (e.type === 'agent.state' || e.type === 'queue.left') acd.agentsChanged();
      if (e.type === 'queue.joined' || e.type === 'queue.left') reports.queueEventLogged();
    },
  }, null);
  acd.onAgentChange((change) =>
    logRejection(
      acdEngine.agentChanged(change.agentId, { ok: true, state: change.state, record: change.record, effects: change.effects }),
      log,
      'agent state change not carried out',
      { agentId: change.agentId },
    ),
  );

  // HTTPS when the site has a certificate; then plain HTTP (a second port, if any) reaches only the
  // health checks and the phones' provisioning files, and those only when PBX_PROVISION_PLAIN_HTTP.
  const tls = config.http.tls ? { cert: readFileSync(config.http.tls.certFile), key: readFileSync(config.http.tls.keyFile) } : undefined;
  const http = await buildHttp({ log, requestLog: config.log.http, version: VERSION, authFailures: config.http.authFailures, tls, plainPaths: ['/health/', '/provision/'] });
  const plain = tls && config.http.plainPort !== null ? plainListener(http) : null;
  // First: its onResponse hook times every route registered after it (pbx_http_request_duration_seconds).
  await http.register(requestTimingPlugin, { metrics });
  await http.register(healthPlugin, { db, redis, asterisk: () => ({ ari: ari.isConnected, ami: ami.isConnected }), recordingsDisk: () => recordings.diskCheck() });
  // GET /metrics for Prometheus: a bearer token (viewer) or loopback only (PBX_METRICS_ACCESS).
  await http.register(metricsPlugin, { auth, metrics, access: config.http.metricsAccess });
  // Phone-facing, at the root (no bearer token: per-device credentials or IP allowlist).
  await http.register(phoneProvisioningPlugin, { db, site: config.site, sipPort: config.sip.port, sipTlsPort: config.sip.tlsPort, secrets, plainHttpAllowed: config.http.provisionPlain });
  // The wallboard page at /wallboard (src/wallboard, docs/wallboard.md): static files; it asks for a token itself.
  await http.register(wallboardPlugin, {});
  // The API: each feature's plugin (src/<feature>/plugin.ts) under /api/v1.
  await http.register(
    async (api) => {
      // First: its hooks reach every POST/PUT/PATCH/DELETE route registered after it here.
      await api.register(idempotencyPlugin, { db });
      await api.register(authPlugin, { db, auth });
      await api.register(callsPlugin, { db, auth, live: dispatcher, timezone: config.site.timezone });
      await api.register(auditPlugin, { db, auth });
      await api.register(extensionsPlugin, { db, auth, extensions, registrations });
      await api.register(trunksPlugin, { db, auth, trunks, routing });
      await api.register(eventsPlugin, { auth, events });
      await api.register(devicesPlugin, { db, auth });
      await api.register(voicemailPlugin, { auth, voicemail });
      await api.register(promptsPlugin, { auth, prompts, maxBytes: config.prompts.maxBytes });
      await api.register(flowsPlugin, { auth, flows });
      await api.register(acdPlugin, { auth, acd });
      await api.register(supervisionPlugin, { auth, supervision });
      await api.register(webhooksPlugin, { auth, webhooks });
      await api.register(campaignsPlugin, { auth, db, log: log.child({ component: 'campaigns' }), events: events.bus, timezone: config.site.timezone, imports: listImports, preview: () => campaignDialer.preview });
      await api.register(recordingsPlugin, { auth, recordings });
      // Erlang C / Erlang A staffing and the forecast from queue_events (src/staffing, docs/staffing.md).
      await api.register(staffingPlugin, { auth, staffing: new StaffingService(db, config.site.timezone) });
      // Queue and agent reports, live queue figures, computed from queue_events and the agent state log (src/reports, docs/reporting.md).
      await api.register(reportsPlugin, { auth, reports });
    },
    { prefix: '/api/v1' },
  );

  let stopping: Promise<void> | null = null;
  return {
    http,
    plainHttp: plain?.server ?? null,
    db,
    dispatcher,
    campaignCalls: {
      dialer: attemptDialer,
      useReports: (reports) => {
        campaignReports = reports;
      },
    },
    events,
    async start() {
      redis.connect().catch((err: Error) => log.warn({ err: err.message }, 'redis not reachable yet; retrying in background'));
      ari.start();
      ami.start();
      amiDialer.start();
      dispatcher!.startHeartbeat();
      admission.start();
      emergencyNumbers.start();
      shedder.start();
      acdStore.start();
      events.start();
      inbound.start();
      contacts.start();
      acdEngine.start();
      unserved.start();
      stopPurgingKeys ??= purgeExpiredKeysEvery(db, log.child({ component: 'http' }));
      await recordings.ensureFolder();
      logRejection(recordingJobs.start(), log, 'recording jobs not started');
      webhookJobs.start((job, attempt, last) => webhooks.attempt(job, attempt, last));
      importJobs.start((id, signal) => importer.run(id, signal));
      if (config.campaignDialer) {
        attemptJobs.start((id) => campaignDialer.dial(id));
        campaignDialer.start();
      }
      importJobs.onReady(() => {
        listImports.sweep().catch((err: Error) => log.warn({ err: err.message }, 'list imports not queued again'));
      });
      webhookJobs.onReady(() => {
        webhooks.sweep(0).catch(() => undefined);
      });
      webhooks.start();
      unsubscribeWebhooks ??= events.bus.subscribe(webhooks, null).unsubscribe;
      contactStates.start();
      await http.listen({ host: config.http.host, port: config.http.port });
      if (plain) await plain.listen(config.http.host, config.http.plainPort ?? 0);
    },
    stop() {
      stopping ??= (async () => {
        log.info('shutting down');
        await http.close();
        // No new campaign calls from here on (attempts queued meanwhile wait in Postgres).
        await campaignDialer.stop();
        await attemptJobs.stop();
        // Closing the event socket stops new calls reaching us; calls in progress stay in
        // Stasis with their live_calls rows and are adopted by the next daemon.
        await shedder.stop();
        await ari.stop();
        dispatcher!.stop();
        admission.stop();
        emergencyNumbers.stop();
        acdEngine.stop();
        await acdStore.stop();
        await inbound.stop();
        await contacts.stop();
        if (reconcileTimer) clearTimeout(reconcileTimer);
        unserved.stop();
        events.stop();
        stopPurgingKeys?.();
        contactStates.stop();
        const flushed = await cdrWriter.flush(config.shutdownGraceMs);
        if (!flushed) log.error({ pending: cdrWriter.pendingCount }, 'CDRs not written before shutdown; reconciliation will close them after restart');
        cdrWriter.stop();
        unsubscribeWebhooks?.();
        webhooks.stop();
        await webhookJobs.stop();
        await importJobs.stop();
        await recordingJobs.stop();
        await ami.stop();
        await amiDialer.stop();
        redis.disconnect();
        await db.destroy();
        log.info('stopped');
      })();
      return stopping;
    },
  };
}
