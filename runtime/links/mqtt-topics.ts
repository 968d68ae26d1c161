// The MQTT topic scheme (docs/topics.md). Every topic sits under murmur/v1/<fleet>/ so fleets can
// share a broker and an ACL can be written per fleet. A device publishes only under its own node
// topics and its own consensus topic; only operators publish commands.

import type { TrafficClass } from './link.js';

export const topicRoot = 'murmur/v1';

export const fleetPrefix = (fleet: string): string => `${topicRoot}/${fleet}`;

export interface FleetTopics {
  readonly prefix: string;
  /** Consensus broadcast by `node`: murmur/v1/<fleet>/consensus/<node>. */
  consensus(node: string): string;
  /** Validator `node`'s committed blocks with their certificates, for light followers:
   *  murmur/v1/<fleet>/blocks/<node>. */
  blocks(node: string): string;
  /** Per-node class topics: murmur/v1/<fleet>/node/<node>/heartbeat | telemetry. */
  heartbeat(node: string): string;
  telemetry(node: string): string;
  /** Unicast from `from` to `to`, under the sender's own topics. */
  unicast(from: string, to: string): string;
  /** Retained birth/death state (Sparkplug-like, with a session counter). */
  state(node: string): string;
  /** Signed operator commands. */
  readonly commands: string;
  /**
   * What `node` subscribes to. With the fleet's `peers` known, one subscription per peer: MQTT 3.1.1
   * has no no-local option, and a wildcard would echo every own message back (half the throughput).
   * A light follower (`sources` given) takes those validators' blocks instead of anyone's consensus.
   */
  subscriptions(node: string, peers?: readonly string[], sources?: readonly string[] | null): string[];
}

export function fleetTopics(fleet: string): FleetTopics {
  const p = fleetPrefix(fleet);
  return {
    prefix: p,
    consensus: (node) => `${p}/consensus/${node}`,
    blocks: (node) => `${p}/blocks/${node}`,
    heartbeat: (node) => `${p}/node/${node}/heartbeat`,
    telemetry: (node) => `${p}/node/${node}/telemetry`,
    unicast: (from, to) => `${p}/node/${from}/to/${to}`,
    state: (node) => `${p}/node/${node}/state`,
    commands: `${p}/commands`,
    subscriptions: (node, peers, sources) => {
      const common = [`${p}/node/+/to/${node}`, `${p}/node/+/state`, `${p}/commands`];
      const light = sources === undefined || sources === null ? null : [...new Set(sources)].filter((x) => x !== node).sort();
      const blocks = light === null ? [] : light.map((x) => `${p}/blocks/${x}`);
      if (!peers) return [...(light === null ? [`${p}/consensus/+`] : blocks), `${p}/node/+/heartbeat`, `${p}/node/+/telemetry`, ...common];
      const others = [...new Set(peers)].filter((x) => x !== node).sort();
      const perPeer = others.flatMap((x) => [...(light === null ? [`${p}/consensus/${x}`] : []), `${p}/node/${x}/heartbeat`, `${p}/node/${x}/telemetry`]);
      return [...perPeer, ...blocks, ...common];
    },
  };
}

export type ParsedTopic =
  | { readonly type: 'consensus' | 'blocks' | 'heartbeat' | 'telemetry' | 'unicast' | 'state'; readonly from: string; readonly to?: string }
  | { readonly type: 'commands' };

/** Reads a topic under `prefix`; undefined for anything outside the scheme. */
export function parseTopic(prefix: string, topic: string): ParsedTopic | undefined {
  if (!topic.startsWith(prefix) || topic.charCodeAt(prefix.length) !== 47 /* / */) return undefined;
  const parts = topic.slice(prefix.length + 1).split('/');
  if (parts.length === 1 && parts[0] === 'commands') return { type: 'commands' };
  if (parts.length === 2 && (parts[0] === 'consensus' || parts[0] === 'blocks') && parts[1]) return { type: parts[0], from: parts[1] };
  if (parts[0] !== 'node' || !parts[1]) return undefined;
  const from = parts[1];
  if (parts.length === 3 && (parts[2] === 'heartbeat' || parts[2] === 'telemetry' || parts[2] === 'state')) return { type: parts[2], from };
  if (parts.length === 4 && parts[2] === 'to' && parts[3]) return { type: 'unicast', from, to: parts[3] };
  return undefined;
}

/** The topic a node publishes a broadcast of class `cls` on. */
export function broadcastTopic(t: FleetTopics, node: string, cls: TrafficClass): string {
  return cls === 'consensus' ? t.consensus(node) : cls === 'heartbeat' ? t.heartbeat(node) : t.telemetry(node);
}

/** Birth/death payload (JSON, retained, unsigned: a hint for dashboards, never trusted). */
export interface NodeState {
  readonly node: string;
  readonly state: 'online' | 'offline';
  /** Sparkplug bdSeq: the death that matches a birth carries the same session number. */
  readonly session: number;
  /** A birth's proof of who connected (runtime/device/identity-guard.ts): the process's random
   *  instance id, when it connected (its clock, ms) and its signature over both, hex. */
  readonly instance?: string;
  readonly since?: number;
  readonly sig?: string;
}

/** The proof fields of a NodeState, as one connection carries them in its birth, Will and goodbye. */
export type ConnectionProof = Pick<NodeState, 'instance' | 'since' | 'sig'>;

export function encodeNodeState(s: NodeState): Buffer {
  return Buffer.from(JSON.stringify(s));
}

export function parseNodeState(b: Uint8Array): NodeState | undefined {
  if (b.length > 512) return undefined;
  try {
    const v = JSON.parse(Buffer.from(b).toString('utf8')) as Partial<NodeState>;
    if (typeof v.node !== 'string' || (v.state !== 'online' && v.state !== 'offline') || typeof v.session !== 'number') return undefined;
    const proof = typeof v.instance === 'string' && typeof v.since === 'number' && typeof v.sig === 'string' ? { instance: v.instance, since: v.since, sig: v.sig } : {};
    return { node: v.node, state: v.state, session: v.session, ...proof };
  } catch {
    return undefined;
  }
}
