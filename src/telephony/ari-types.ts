/** The subset of ARI's data model the daemon uses. Shapes follow Asterisk 22's ARI JSON. */
export interface AriCallerId {
  readonly name: string;
  readonly number: string;
}

export interface AriChannel {
  readonly id: string;
  readonly name: string;
  readonly state: string;
  readonly caller: AriCallerId;
  readonly connected: AriCallerId;
  readonly dialplan: { readonly context: string; readonly exten: string; readonly priority: number };
  readonly creationtime: string;
  readonly language?: string;
}

export interface AriBridge {
  readonly id: string;
  readonly bridge_type: string;
  readonly channels: readonly string[];
}

export interface AriPlayback {
  readonly id: string;
  readonly media_uri: string;
  readonly target_uri: string;
  readonly state: string;
}

export interface AriLiveRecording {
  readonly name: string;
  readonly format: string;
  readonly state: string;
  readonly target_uri: string;
  readonly duration?: number;
  readonly cause?: string;
}

export type AriEvent =
  | { readonly type: 'StasisStart'; readonly channel: AriChannel; readonly args: readonly string[]; readonly timestamp: string }
  | { readonly type: 'StasisEnd'; readonly channel: AriChannel; readonly timestamp: string }
  | { readonly type: 'ChannelDtmfReceived'; readonly channel: AriChannel; readonly digit: string; readonly duration_ms: number; readonly timestamp: string }
  | { readonly type: 'ChannelHangupRequest'; readonly channel: AriChannel; readonly cause?: number; readonly soft?: boolean; readonly timestamp: string }
  | { readonly type: 'ChannelDestroyed'; readonly channel: AriChannel; readonly cause: number; readonly cause_txt: string; readonly timestamp: string }
  | { readonly type: 'ChannelStateChange'; readonly channel: AriChannel; readonly timestamp: string }
  | { readonly type: 'PlaybackStarted' | 'PlaybackFinished'; readonly playback: AriPlayback; readonly timestamp: string }
  | { readonly type: 'ChannelHold' | 'ChannelUnhold'; readonly channel: AriChannel; readonly timestamp: string }
  | { readonly type: 'RecordingStarted' | 'RecordingFinished' | 'RecordingFailed'; readonly recording: AriLiveRecording; readonly timestamp: string }
  | ({ readonly type: 'ChannelTransfer'; readonly timestamp: string } & AriChannelTransfer);

/**
 * A phone asked for a transfer (SIP REFER) on a channel whose transfers are left to ARI
 * (PJSIP_TRANSFER_HANDLING()=ari-only). Asterisk has answered 202 and NOTIFY "100 Trying";
 * the app does the transfer and reports the outcome with transferProgress().
 */
export interface AriChannelTransfer {
  readonly state?: string;
  readonly refer_to: {
    readonly requested_destination: {
      /** Blind transfer: the user part of the Refer-To URI. */
      readonly destination?: string;
      /** Attended transfer (Refer-To with Replaces): the SIP Call-ID of the call to replace. */
      readonly protocol_id?: string;
      readonly additional_protocol_params?: readonly { readonly parameter_name: string; readonly parameter_value: string }[];
    };
    /** Attended: the channel of the replaced call, its peer and their bridge, when Asterisk found them. */
    readonly destination_channel?: AriChannel;
    readonly connected_channel?: AriChannel;
    readonly bridge?: AriBridge;
  };
  readonly referred_by: {
    /** The channel the REFER came in on: the transferring phone's channel. */
    readonly source_channel: AriChannel;
    readonly connected_channel?: AriChannel;
    readonly bridge?: AriBridge;
  };
}

/** transfer_progress states; each becomes a NOTIFY (sipfrag) to the transferring phone. */
export type TransferProgress = 'channel_progress' | 'channel_answered' | 'channel_unavailable' | 'channel_declined';

export const HANDLED_EVENT_TYPES: ReadonlySet<string> = new Set([
  'StasisStart',
  'StasisEnd',
  'ChannelDtmfReceived',
  'ChannelHangupRequest',
  'ChannelDestroyed',
  'ChannelStateChange',
  'PlaybackStarted',
  'PlaybackFinished',
  'ChannelHold',
  'ChannelUnhold',
  'RecordingStarted',
  'RecordingFinished',
  'RecordingFailed',
  'ChannelTransfer',
]);

export interface RecordOptions {
  /** Stored recording name (Asterisk's spool `recording/` folder); letters, digits, - and _ only. */
  readonly name: string;
  readonly format: 'wav';
  readonly maxDurationSeconds: number;
  readonly maxSilenceSeconds: number;
  readonly beep: boolean;
  readonly terminateOn: 'none' | 'any' | '*' | '#';
}

/** What the call core needs from Asterisk; implemented by AriConnection, faked in unit tests. */
export interface CallControl {
  answer(channelId: string): Promise<void>;
  /** Play one media URI or a list (one playback; PlaybackFinished after the last); `lang` for sound: URIs. */
  play(channelId: string, media: string | readonly string[], playbackId: string, lang?: string): Promise<void>;
  stopPlayback(playbackId: string): Promise<void>;
  hangup(channelId: string, reason?: HangupReason): Promise<void>;
  /**
   * Keep receiving the channel's events after it leaves Stasis. Without this, ChannelDestroyed
   * (the only event carrying the hangup cause of a caller's BYE) never reaches the app.
   */
  followChannel(channelId: string): Promise<void>;
  /**
   * Ring back to the caller while we dial for them: SIP 180 to an unanswered caller; to one
   * answered already (an IVR's), a ringback tone Asterisk plays into the call until ringStop.
   */
  ring(channelId: string): Promise<void>;
  /** Stop the ringback `ring` started (the tone of an answered caller; nothing to send otherwise). */
  ringStop(channelId: string): Promise<void>;
  /**
   * Dial an endpoint into our Stasis app. The new channel gets `channelId`, enters the app (with
   * `appArgs`) only when answered, and its ChannelDestroyed (with the cause) reaches us if not.
   * `variables`: set on the new channel before it dials, e.g. `PJSIP_HEADER(add,Alert-Info)` to
   * add a header to the INVITE.
   */
  originate(o: { channelId: string; endpoint: string; callerId: string; timeoutSeconds: number; appArgs: string; variables?: Readonly<Record<string, string>> }): Promise<void>;
  /** Tell the transferring phone how its transfer (REFER) went: a NOTIFY with the matching sipfrag. */
  transferProgress(channelId: string, state: TransferProgress): Promise<void>;
  /**
   * A mixing bridge. `dtmfEvents` (default true): ChannelDtmfReceived is raised for keys pressed in
   * it, at the price of Asterisk decoding its media (no native_rtp); false where no key is wanted.
   */
  createBridge(bridgeId: string, o?: { readonly dtmfEvents: boolean }): Promise<void>;
  addToBridge(bridgeId: string, channelIds: readonly string[]): Promise<void>;
  destroyBridge(bridgeId: string): Promise<void>;
  startMoh(channelId: string): Promise<void>;
  /** Set a device state the app controls (`Stasis:<name>`): what hints and BLF lamps show. */
  setDeviceState(name: string, state: DeviceStateValue): Promise<void>;
  stopMoh(channelId: string): Promise<void>;
  listChannels(): Promise<AriChannel[]>;
  listBridges(): Promise<AriBridge[]>;
  /** Channel ids currently in our Stasis application. */
  appChannelIds(): Promise<string[]>;
  /** Record what the caller says; RecordingFinished (or RecordingFailed) follows. */
  record(channelId: string, o: RecordOptions): Promise<void>;
  /** The bytes of a stored recording; null when Asterisk has no such recording. */
  storedRecordingFile(name: string): Promise<Buffer | null>;
  /** Remove a stored recording; no error when it is already gone. */
  deleteStoredRecording(name: string): Promise<void>;
  /**
   * The address the caller's phone sends SIP from (`CHANNEL(pjsip,remote_addr)`, without the
   * port); null when the channel is not a PJSIP one or Asterisk does not say. Optional: fakes
   * may leave it out.
   */
  callerAddress?(channelId: string): Promise<string | null>;
}

export type HangupReason = 'normal' | 'busy' | 'congestion' | 'no_answer' | 'unallocated' | 'rejected';

/** ARI device states (PUT /deviceStates/Stasis:<name>). */
export type DeviceStateValue = 'NOT_INUSE' | 'INUSE' | 'BUSY' | 'INVALID' | 'UNAVAILABLE' | 'RINGING' | 'RINGINUSE' | 'ONHOLD';
