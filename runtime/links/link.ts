// The Link port: how every layer above sends and receives bytes. Implementations: in-memory
// (fleet-sim), MQTT, serial radio, and the router that combines them. Safety never depends on a
// link's delivery or ordering: links may drop, duplicate, reorder and corrupt.

/** Priority classes, highest first: consensus traffic is never starved by telemetry. */
export type TrafficClass = 'consensus' | 'heartbeat' | 'telemetry';
export const trafficClasses: readonly TrafficClass[] = ['consensus', 'heartbeat', 'telemetry'];

export interface LinkCounters {
  framesSent: number;
  bytesSent: number;
  framesReceived: number;
  bytesReceived: number;
  /** Dropped before sending because the outbound queue for the class was full. */
  droppedQueueFull: number;
  /** Received bytes that were not a valid frame (bad CRC, truncated, oversized, wrong fleet). */
  droppedBadFrame: number;
}

export function emptyCounters(): LinkCounters {
  return { framesSent: 0, bytesSent: 0, framesReceived: 0, bytesReceived: 0, droppedQueueFull: 0, droppedBadFrame: 0 };
}

export interface ReceivedFrame {
  /** One signed envelope exactly as sent. */
  readonly bytes: Uint8Array;
  /** The link-level sender when the link knows it (a topic or a radio header); never trusted. */
  readonly from: string | undefined;
  readonly link: string;
  /** A radio envelope whose last fragment reached us through a flood relay, not from its origin (hops
   *  left below this device's hop limit; a fleet shares one). */
  readonly relayed?: boolean;
  /** A validator's announcement of a block it committed (MQTT: its blocks/<node> topic, which a light
   *  follower chose to hear), not an answer to anyone's request. */
  readonly announced?: boolean;
}

export interface Link {
  readonly name: string;
  /** The largest envelope this link carries in one send (after fragmentation, if it fragments). */
  readonly mtuBytes: number;
  start(): Promise<void>;
  stop(): Promise<void>;
  /** Queues bytes for every peer. Returns false when the queue for `cls` is full (counted). */
  broadcast(bytes: Uint8Array, cls: TrafficClass): boolean;
  /** Queues bytes for one peer; links without addressing may broadcast instead. */
  unicast(to: string, bytes: Uint8Array, cls: TrafficClass): boolean;
  onReceive(handler: (frame: ReceivedFrame) => void): void;
  /** True while the link believes it can deliver (connected broker, open port). */
  isUp(): boolean;
  /** The block transaction bytes this link carries well, for a proposer whose consensus rides only
   *  this link: a slow radio's limits.radioBlockAirMs of airtime. Absent: no limit of its own. */
  readonly blockTxBytesHint?: number | undefined;
  counters(): Readonly<LinkCounters>;
  /** Queues a validator's certified block for the light followers that take blocks from it (MQTT: its
   *  blocks topic). Absent on links that carry every vote to everyone anyway (a serial radio). */
  announce?(bytes: Uint8Array): boolean;
  /** Which consensus traffic to hear: null, every peer's; else only these validators' announced blocks
   *  (runtime/consensus/light-follower.ts). Absent on links that cannot choose (a serial radio). */
  follow?(sources: readonly string[] | null): void;
  /** The fleet's members other than this node, from the manifest in force (and any committed to come):
   *  MQTT subscribes to each one's topics and drops those of members no longer listed; a radio names
   *  their frames. Absent on links that hear everyone anyway. */
  setPeers?(peers: readonly string[]): void;
}

/** Counters with the detail every Murmur link keeps (a LinkCounters, so callers may ignore the rest). */
export interface LinkCountersDetail extends LinkCounters {
  /** droppedQueueFull split by class: telemetry is shed long before consensus. */
  droppedQueueFullByClass: Record<TrafficClass, number>;
  /** Of those, the ones dropped or refused for the queue's byte bound (limits.link*QueueBytesMax),
   *  not its count: large envelopes (blocks, snapshot chunks) queued while the link was down or slow. */
  droppedQueueBytesByClass: Record<TrafficClass, number>;
  /** droppedBadFrame split by reason (bad-crc, truncated, wrong-fleet, oversized, ...). */
  badFrameReasons: Record<string, number>;
  /** Sends refused because the envelope is larger than mtuBytes. */
  refusedOversize: number;
  /** Frames received again (radio relays, a second link) and dropped. */
  droppedDuplicate: number;
  /** Queued packets dropped unsent because they waited too long (a radio's stale consensus). */
  droppedStale: number;
  /** Frames forwarded for others (radio flood relay). */
  relayed: number;
  /** Relays cancelled before they went out: enough copies of their packet were heard (radio). */
  relaysSuppressed: number;
  /** Frames heard with hops left and not relayed (radio): from an origin that is no member of the
   *  fleet, past the share of airtime one origin's relays may take, or the rest of an envelope whose
   *  relay was cut short (by that share or by a full queue). */
  relaysRefused: number;
  /** Sends of an envelope that still waited whole in the queue: not queued a second time. */
  coalesced: number;
  /** Times the link went down after being up (MQTT: connections lost), where the link counts them:
   *  drops shorter than anyone's look at `up` show only here. */
  disconnects?: number;
}
