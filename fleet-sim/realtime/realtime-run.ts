// Real-time mode: the scenario played against real `murmur start` processes on the wall clock, over the
// embedded aedes broker or an external one. The operator's commands are signed and published like
// murmurctl does; faults are real (SIGKILL by PID, restart, stopping the embedded broker). The run is
// observed from the devices' JSON status and decision-log topics into the same event stream as the
// deterministic mode; agreement is checked on the committed decisions every device publishes.

import { availableParallelism } from 'node:os';
import { randomBytes } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import { Outbox } from '../../runtime/cli/outbox.js';
import { createSigner } from '../../runtime/crypto/sodium.js';
import { encodeCommandBody } from '../../runtime/wire/command.js';
import { sealEnvelope } from '../../runtime/wire/envelope.js';
import { encodeFrame, fleetTag } from '../../runtime/links/frame.js';
import { redactBrokerUrl } from '../../runtime/links/broker-url.js';
import { closeMqtt, loginRefused } from '../../runtime/links/mqtt-connect.js';
import { withinMs } from '../../runtime/lib/within.js';
import { controlTopics, type DecisionJson, type StatusJson } from '../../runtime/device/control-topics.js';
import { fleetPrefix } from '../../runtime/links/mqtt-topics.js';
import { toHex } from '../../runtime/lib/bytes.js';
import { rateTimes, type Scenario } from '../scenario/scenario.js';
import { surveyAreaOf } from '../report/observe-world.js';
import type { FaultKind, NodeSample, RunObserver } from '../report/events.js';
import { CoverageGrid } from '../report/coverage.js';
import { FleetProcs, type RealDevice } from './fleet-procs.js';
import { FaultPlan } from './fault-plan.js';
import { proposerCrashWaitMs } from '../sim/world-faults.js';
import { ByzantineDevice, realtimeBehaviors } from './byzantine-device.js';
import { HilRig, hilBaud, type HilReport } from './hil-rig.js';
import { RadioMedium, type PositionM, type RadioCounters } from './radio-medium.js';
import { epochExpectFailures, evidenceExpectFailures, flightExpectFailures, stateSyncExpectFailures, hazardExpectFailures, relayExpectFailures } from '../sim/expect.js';
import { RealtimeHazards, type RealtimeHazardReport } from './realtime-hazards.js';
import { RealtimeForgery } from './realtime-forgery.js';
import { requireCjs } from '../../runtime/lib/require-cjs.js';
import { forgedExpectFailures, type ForgedCommandsReport } from '../sim/forged-commands.js';
import { closestPairM, coverageCellM } from '../flight/world-flight.js';
import { deniedHazardCells, fakeHazardCells, lieEveryMs } from '../flight/world-agents.js';
import { Prng } from '../../runtime/lib/prng.js';
import { insidePolygon } from '../report/coverage.js';
import { CommandRejections, type CommandRejection } from '../report/rejections.js';

// Required, not imported, as the devices' own client is (runtime/lib/require-cjs.ts): an import of it here
// would take Node's ESM translator path for mqtt again in this process.
const mqtt = requireCjs('mqtt') as typeof import('mqtt');

/** Device processes per core past which a --processes run is told it will likely fall behind. */
const processesPerCoreMax = 4;

/** What a --processes run of `devices` murmur processes on `cores` is told at start, or null. Each is a
 *  whole `murmur start` (its own Node, event loop and onnxruntime): the default scenario's twenty on two
 *  cores fell ~60 s behind the wall clock and missed its expect (README, npm start). */
export function processesNote(devices: number, cores: number): string | null {
  if (devices <= processesPerCoreMax * cores) return null;
  return `note: ${devices} murmur processes on ${cores} cores, more than ${processesPerCoreMax} a core: the run will likely fall behind real time, and timing expectations (maxStall, committedFraction) may fail for that alone`;
}

/** A count each device reports since it started (failsafes, relayed deliveries, ...), summed over the
 *  fleet: a count lower than the last one means the device restarted and counts again from zero. */
class CountsSinceStart {
  private readonly of = new Map<number, { last: number; total: number }>();

  observe(device: number, n: number | undefined): void {
    if (n === undefined) return;
    const f = this.of.get(device) ?? { last: 0, total: 0 };
    f.total += n >= f.last ? n - f.last : n;
    f.last = n;
    this.of.set(device, f);
  }

  total(): number {
    let sum = 0;
    for (const f of this.of.values()) sum += f.total;
    return sum;
  }
}

export interface RealtimeOptions {
  readonly brokerUrl: string | null;
  /** One `murmur start` child process per device; otherwise all devices run in this process. */
  readonly processes: boolean;
  readonly observer: RunObserver;
  readonly log?: (line: string) => void;
  /** The fleet's name; default a new one per run (newFleetName). */
  readonly fleet?: string;
  /** Where the devices running in this process log (see FleetProcsOptions.deviceLog). */
  readonly deviceLog?: string;
  /** Where each device run as its own process keeps its log (see FleetProcsOptions.processLogs). */
  readonly processLogs?: (id: string) => string;
  /** Where each device process's bin/murmur.js, and each HIL flight controller's bin/sim-fc.js, is
   *  (see FleetProcsOptions.launchRoot). */
  readonly launchRoot?: string;
  /** Rate workloads are capped here: each command is a real signed publish. */
  readonly ratePerSecMax?: number;
  /** The scenario's file, as the report names it (what to run again); absent: the report says null. */
  readonly file?: string;
}

export interface RealtimeReport {
  scenario: string;
  /** The scenario file the run was started with (null when the caller did not say): what
   *  `fleet-sim replay` tells to run again, a real-time run not being replayable exactly. */
  file: string | null;
  seed: number;
  mode: 'realtime';
  simulatedMs: number;
  wallMs: number;
  broker: string;
  /** The fleet name this run gave its devices (its topics are murmur/v1/<fleet>/...). */
  fleet: string;
  nodes: { validators: number; followers: number; byzantine: number[]; crashed: number[] };
  safety: { ok: boolean; violations: { property: string; atMs: number; detail: string }[] };
  /** commandsRejected and rejections: from the outcome and reason of the devices' decision logs. */
  liveness: { heights: number; commandsSubmitted: number; commandsCommitted: number; commandsRejected: number; rejections: CommandRejection[]; maxStallMs: number };
  latencyMs: { commitP50: number | null; commitP99: number | null };
  throughput: { commandsPerSec: number };
  evidence: { kind: string; validator: number; height: number }[];
  /** Measured from the devices' reported positions: the survey area's covered fraction (cells flown over
   *  above 5 m), and the closest two airborne devices came. */
  /** separationFrom: the simulated vehicles' true positions (every device in this process on simulated
   *  hardware), or the GNSS positions the devices reported (child processes, hardware in the loop). */
  flight: { surveyedFraction: number | null; geofenceBreaches: number; failsafes: number; minSeparationM: number | null; separationFrom: 'vehicles' | 'reports'; obstacleStrikes: number | null };
  expect: { met: boolean; failed: string[] };
  unsupported: string[];
  /** Device processes that exited while the scenario ran, not stopped by fleet-sim (a crash of the
   *  runtime, the OOM killer, a stray kill): the run did not test the scenario as written. */
  exitedOnTheirOwn: { node: number; atMs: number; code: number | null; signal: string | null }[];
  /** The devices' log files: the one the devices in this process share, and one per device run as its
   *  own process (with a .1 before it once it passed its bound). */
  deviceLogs: string[];
  /** The air fleet-sim simulates, and the envelopes the devices received first through a relay. */
  radio: (RadioCounters & { relayedFirst: number }) | null;
  /** The in-process devices' signature checks: done for real, and answered from their shared memo
   *  (null when every device runs in its own process). */
  signatures: { checked: number; remembered: number } | null;
  /** Snapshots honest devices installed by state sync, and offers or chunks they refused (from their status). */
  stateSync: { installs: number; refused: number };
  /** MQTT deliveries between devices the embedded broker dropped for a partition or for loss. */
  linkFaults: { mqttCut: number; mqttLost: number };
  /** Per Byzantine node: its behaviour, the consensus messages its honest code sent after the behaviour
   *  began, and the messages that actually left it (0 when silent, more when it forges or equivocates). */
  /** height: the height a twin reached (twins only: the second instance's chain). */
  /** `lies`: attestations an agent liar (fake-hazard, deny-hazard) signed. */
  byzantine: { node: number; behavior: string; honest: number; sent: number; height?: number; lies?: number }[];
  /** The newest manifest epoch an honest device reported in force (null before any status). */
  epoch: number | null;
  /** Hazards the devices committed, matched to the scenario's world.hazards (null without any). */
  hazards: RealtimeHazardReport | null;
  /** What an attacker's forged commands met (the scenario's forgedCommands faults); null without one. */
  forgedCommands: ForgedCommandsReport | null;
  /** Nodes that flew the simulated flight controller over MAVLink on a pty (scenario `hil`). */
  hil: HilReport[];
}

/** Each real-time run's own fleet name, so its MQTT topics are its own: every run was `fleetsim`, and a
 *  second run on one Mosquitto read the first one's retained decision logs and reported a false
 *  agreement violation (and an interrupted run the earlier run's height count). */
export const newFleetName = (): string => `fleetsim-${randomBytes(4).toString('hex')}`;
const startBatch = 4;
/** How long fleet-sim waits for the broker to acknowledge its subscription (SUBACK). */
const subscribeWaitMs = 10_000;

/** Ctrl-C or SIGTERM came before the scenario started: the devices started so far are stopped and
 *  there is no run to report. */
export class RunInterrupted extends Error {}

/** The external broker (--broker) did not take fleet-sim's connection: the message is the client's;
 *  `loginRefused` when the broker answered and refused the URL's user name and password. */
export class BrokerUnreachable extends Error {
  constructor(message: string, readonly loginRefused = false) {
    super(message);
  }
}

const percentile = (sorted: number[], p: number): number | null => (sorted.length === 0 ? null : (sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))] as number));

export async function realtimeRun(s: Scenario, o: RealtimeOptions): Promise<RealtimeReport> {
  const log = o.log ?? (() => {});
  let medium: RadioMedium | null = null;
  const radio = s.radio ? { model: s.radio, path: (i: number) => (medium as RadioMedium).devicePath(i) } : undefined;
  let t0 = performance.now();
  const now = (): number => Math.round(performance.now() - t0);
  const plan = new FaultPlan(s, now);
  const fleetName = o.fleet ?? newFleetName();
  const indexOfId = new Map(Array.from({ length: s.validators + s.followers }, (_, i) => [FleetProcs.idOf(i, s.validators), i]));
  // Twins (FleetProcs.twin), as in deterministic mode: the original hears the first half of the other
  // validators (rounded up), its twin the rest; followers' traffic reaches both.
  const twinned = new Set<number>();
  const twinHears = (node: number, from: number, twin: boolean): boolean => {
    if (!twinned.has(node) || from >= s.validators) return true;
    const rank = from < node ? from : from - 1;
    return (rank < Math.ceil((s.validators - 1) / 2)) !== twin;
  };
  const forward = (from: string, to: string, toClient: string): boolean => {
    const a = indexOfId.get(from);
    const b = indexOfId.get(to);
    if (a === undefined || b === undefined) return true;
    return plan.forward(a, b) && twinHears(b, a, toClient.startsWith(FleetProcs.twinClientId(fleetName, to)));
  };
  // Byzantine nodes run in this process with the simulator's wrappers on their outgoing consensus traffic.
  const ids = Array.from({ length: s.validators + s.followers }, (_, i) => FleetProcs.idOf(i, s.validators));
  const byzantine = new Map<number, ByzantineDevice>();
  /** Devices made Byzantine through their disk or identity, not a wrapper (byzantine in the report): an
   *  amnesia fault restarted them without their consensus memory, a twins fault started a second copy. */
  const forgot = new Set<number>();
  for (const f of s.faults) {
    if (f.kind === 'byzantine' && realtimeBehaviors.includes(f.behavior) && !byzantine.has(f.node)) byzantine.set(f.node, new ByzantineDevice({ index: f.node, fleet: fleetName, ids, validators: s.validators, seed: s.seed }));
  }
  /** Nodes a twins fault will copy (twinned: those copied so far). */
  const twinTargets = new Set(s.faults.flatMap((f) => (f.kind === 'byzantine' && f.behavior === 'twins' ? [f.node] : [])));
  /** Nodes an amnesia fault will restart without their signer state. */
  const amnesiaTargets = new Set(s.faults.flatMap((f) => (f.kind === 'byzantine' && f.behavior === 'amnesia' ? [f.node] : [])));
  const hil = s.hil ? new HilRig(s.hil, s.seed, o.launchRoot) : null;
  /** Where each device was last seen (its status or the radio's heartbeats). */
  const lastSeenAt = new Map<number, PositionM & { upM: number | null }>();
  /** Device processes that exited while the scenario ran without fleet-sim stopping them. */
  const exitedOnTheirOwn: { node: number; atMs: number; code: number | null; signal: string | null }[] = [];
  /** Set by the timeline once the scenario runs: before it a dead device fails the start-up instead. */
  let onExit: (d: RealDevice, code: number | null, signal: NodeJS.Signals | null) => void = () => {};
  const fleet = new FleetProcs({
    onExit: (d, code, signal) => onExit(d, code, signal),
    ...(hil && s.hil ? { hil: { path: (i: number) => hil.path(i), autopilot: s.hil.autopilot, baud: hilBaud } } : {}),
    fleet: fleetName,
    validators: s.validators,
    followers: s.followers,
    brokerUrl: o.brokerUrl,
    processes: o.processes,
    ...(radio ? { radio } : {}),
    ...(plan.hasLinkFaults || s.faults.some((f) => f.kind === 'byzantine' && f.behavior === 'twins') ? { forward } : {}),
    obstacles: s.world?.hazards ?? [],
    ...(s.world?.batteryWh !== undefined ? { batteryWh: s.world.batteryWh } : {}),
    ...(s.world?.pads ? { pads: s.world.pads } : {}),
    ...(s.world?.geofence ? { geofence: s.world.geofence } : {}),
    ...(o.deviceLog !== undefined ? { deviceLog: o.deviceLog } : {}),
    ...(o.processLogs !== undefined ? { processLogs: o.processLogs } : {}),
    ...(o.launchRoot !== undefined ? { launchRoot: o.launchRoot } : {}),
    ...(s.operatorRoles ? { operatorRoles: s.operatorRoles } : {}),
    ...(s.linkPolicy ? { policy: s.linkPolicy } : {}),
    checkpoints: {
      ...(s.consensus.checkpointEveryHeights !== undefined ? { everyHeights: s.consensus.checkpointEveryHeights } : {}),
      ...(s.consensus.syncWindowHeights !== undefined ? { syncWindowHeights: s.consensus.syncWindowHeights } : {}),
      ...(s.consensus.snapshotEveryHeights !== undefined ? { snapshotEveryHeights: s.consensus.snapshotEveryHeights } : {}),
      ...(s.consensus.followerSources !== undefined ? { followerSources: s.consensus.followerSources } : {}),
    },
    inProcess: (i) => byzantine.has(i) || twinTargets.has(i) || amnesiaTargets.has(i),
    // Twinned and amnesiac nodes are Byzantine by design: twins do not stop when they hear each other's
    // births or votes, nor an amnesiac node when it hears a vote it signed before it forgot
    // (runtime/device/identity-guard.ts), as an honest device with a copied key or a replaced data
    // directory would.
    hooks: (i, parts) => ({ ...byzantine.get(i)?.hooks(parts.signer), ...(twinTargets.has(i) || amnesiaTargets.has(i) ? { identityConflict: () => undefined } : {}) }),
  });
  const device = (i: number): RealDevice => fleet.devices[i] as RealDevice;
  const status = new Map<string, StatusJson>();
  /** A device's latest state: read directly in this process, else its MQTT status, newer heights from
   *  the heartbeats the radio carried (the broker may be down). */
  const stateOf = (i: number): { st: StatusJson | undefined; position: PositionM & { upM: number | null } | null; height: number; round: number; batteryPct: number | null } => {
    const d = device(i);
    const st = d.inproc ? d.inproc.status() : status.get(d.id);
    const heard = medium?.heard.get(i);
    if (heard && !d.inproc && heard.height > (st?.height ?? 0)) {
      const p = heard.position;
      return { st, position: p ? { northM: p[0], eastM: p[1], upM: p[2] } : (st?.position ?? null), height: heard.height, round: heard.round, batteryPct: heard.batteryPct };
    }
    return { st, position: st?.position ?? null, height: st?.height ?? 0, round: st?.round ?? 0, batteryPct: st?.batteryPct ?? null };
  };
  const positions: (PositionM | null)[] = [];
  if (s.radio) {
    medium = new RadioMedium({
      fleet: fleet.fleet,
      ids,
      radio: s.radio,
      seed: s.seed,
      // Read from the positions the run samples every frame: the medium asks per packet copy.
      position: (i) => positions[i] ?? fleet.startPosition(i),
      up: (i) => fleet.devices[i] !== undefined && fleet.alive(device(i)),
      reach: (a, b) => plan.reach(a, b),
    });
  }
  const wallStart = performance.now();
  const unsupported: string[] = [];
  // The devices report no count of what they refused, and fleet-sim does not see their blocks' times
  // against one true clock: these are checked in deterministic mode only, and said so here.
  if (s.expect.refusedMin !== undefined) unsupported.push('expect.refusedMin: not measured in real-time mode (the devices do not report what they refused; fleet-sim run checks it)');
  if (s.expect.blockTimeAheadMaxMs !== undefined) unsupported.push('expect.blockTimeAheadMax: not measured in real-time mode (every device reads the one machine clock; fleet-sim run checks it)');
  const fence = s.world?.geofence ?? null;
  const crashed = new Set<number>();
  const violations: RealtimeReport['safety']['violations'] = [];
  // Ctrl-C or SIGTERM, from the moment the fleet's directory exists: before the scenario starts it stops
  // the start-up, during the run it ends the run early; either way the finally below stops every device,
  // FC and pty by PID and removes the directory. Held until then, so a second Ctrl-C does not cut that short.
  let interrupted = false;
  let heard: () => void = () => {};
  /** Settles at the first interrupt: a start-up waiting on devices stops waiting (below). */
  const interruption = new Promise<void>((r) => (heard = r));
  const interrupt = (): void => {
    if (interrupted) log('stopping the fleet; fleet-sim exits once every device has stopped');
    interrupted = true;
    heard();
  };
  const stopIfInterrupted = (): void => {
    if (interrupted) throw new RunInterrupted('interrupted before the scenario started');
  };
  process.on('SIGINT', interrupt);
  process.on('SIGTERM', interrupt);
  /** fleet-sim's own client (the operator's commands, the fleet's status), ended in the finally too. */
  let operatorClient: import('mqtt').MqttClient | null = null;
  try {
    await medium?.start();
    await hil?.start();
    await fleet.setup();
    stopIfInterrupted();
    log(`real-time fleet ${fleet.fleet} (topics ${fleetPrefix(fleet.fleet)}/#): ${fleet.devices.length} devices ${o.processes ? 'as murmur processes' : 'in this process'} on ${redactBrokerUrl(fleet.brokerUrl)}${fleet.embedded ? ' (embedded aedes)' : ''}${hil ? `, nodes [${s.hil?.nodes.join(', ')}] flying the simulated flight controller over MAVLink on ptys` : ''}${s.radio ? `, each with a serial radio at ${s.radio.baud} baud over socat ptys (range ${s.radio.rangeM} m, loss ${s.radio.loss})` : ''}`);
    const crowded = o.processes ? processesNote(fleet.devices.length, availableParallelism()) : null;
    if (crowded) log(crowded);
    if (!fleet.embedded && plan.hasLinkFaults) {
      // Only the embedded broker can decide per delivery; say at once what this run will not do.
      const lines = plan.notApplicable();
      log(`not applied over the external broker ${redactBrokerUrl(fleet.brokerUrl)} (use the embedded broker for these): ${lines.join('; ')}`);
      for (const l of lines) unsupported.push(`${l}: not applied to MQTT over an external broker${s.radio ? ' (applied on the radio only)' : ''}`);
    }
    // Connect before the devices start: with twenty of them running, a loaded broker can take longer
    // than a CONNACK timeout to answer one more client.
    const client = await mqtt
      .connectAsync(fleet.brokerUrl, {
        clientId: `fleet-sim-${randomBytes(4).toString('hex')}`,
        reconnectPeriod: 500,
        connectTimeout: 60_000,
        ...(fleet.embedded ? { username: 'ops', password: fleet.operatorPassword } : {}),
      })
      .catch((e: unknown) => {
        throw fleet.embedded ? e : new BrokerUnreachable(e instanceof Error ? e.message : String(e), loginRefused(e));
      });
    operatorClient = client;
    // A few at a time: twenty devices starting at once on two cores starve each other's start-up. With
    // --processes an interrupt does not wait for the batch to be ready (up to the 90 s each is given):
    // the finally ends its processes by PID where they are, and their start-ups then fail unheard. A
    // device in this process is let finish its start (a second or so), so that the finally stops it.
    for (let k = 0; k < fleet.devices.length; k += startBatch) {
      stopIfInterrupted();
      const batch = Promise.all(fleet.devices.slice(k, k + startBatch).map((d) => fleet.start(d)));
      batch.catch(() => {});
      await (o.processes ? Promise.race([batch, interruption]) : batch);
    }
    stopIfInterrupted();
    log(`all ${fleet.devices.length} devices ready in ${((performance.now() - wallStart) / 1000).toFixed(1)} s; the scenario starts`);
    const topics = controlTopics(fleet.fleet);
    const decidedHash = new Map<number, string>();
    const committedAt = new Map<string, number>();
    const sentAt = new Map<string, number>();
    /** fleet-sim's commands the devices' decision logs say were committed as rejected. */
    const rejections = new CommandRejections();
    // As `murmurctl send` does: a command with no commit seen goes out again (same bytes) until it expires.
    const outbox = new Outbox();
    // Back on a restarted broker: what waits goes out again within 3 s, as murmurctl does.
    client.on('connect', () => outbox.reconnected(Date.now()));
    /** The attacker of the scenario's forgedCommands faults (set up with the timeline below). */
    let forgery: RealtimeForgery | null = null;
    /** Every command a decision log named, with its height: one command at two heights is a violation. */
    const commandHeight = new Map<string, number>();
    /** Hazards on the map: committed as the devices' status lists them, cleared as their decision logs say. */
    const hazards = new RealtimeHazards(s.world?.hazards ?? [], (id) => indexOfId.get(id));
    const index = new Map(fleet.devices.map((d) => [d.id, d.index]));
    t0 = performance.now();
    /** The proposer at the last frame (commit events come in bursts from every device's log). */
    let lastProposer = 0;
    const proposerIndex = (): number => {
      let best: StatusJson | undefined;
      for (const d of fleet.devices) {
        const st = stateOf(d.index).st;
        if (st && fleet.alive(d) && (!best || st.height > best.height)) best = st;
      }
      return Math.max(0, index.get(best?.proposer ?? '') ?? 0);
    };
    /** Topics a message came on live (not as a retained one on subscribing). */
    const live = new Set<string>();
    client.on('message', (topic, payload, packet) => {
      // On an external broker a retained message may be an earlier run's (were this fleet name drawn
      // again): the checker cannot tell, so it reads a topic from its first live message on.
      if (!packet.retain) live.add(topic);
      else if (!fleet.embedded && !live.has(topic)) return;
      let doc: unknown;
      try {
        doc = JSON.parse(payload.toString('utf8'));
      } catch {
        return;
      }
      if (topic.endsWith('/status')) {
        // A Last Will says only {node, state: 'offline'}: keep the last height and position it reported.
        const st = doc as Partial<StatusJson> & { node: string };
        const prev = status.get(st.node);
        status.set(st.node, { ...(prev ?? { height: 0, round: 0, proposer: '', position: null, batteryPct: null, mission: null }), ...st } as StatusJson);
      }
      else if (topic.endsWith('/ack')) forgery?.onAck(doc as Record<string, unknown>);
      else if (topic.endsWith('/refused')) forgery?.onRefused(doc as Record<string, unknown>);
      // A block's decisions at once on decided, and the whole retained log (every 2 s at most, and what a
      // device restored from a snapshot): the same rows, taken once each.
      else if (topic.endsWith('/decided') || topic.endsWith('/log')) {
        const { node, decisions } = doc as { node: string; decisions: DecisionJson[] };
        const fresh = new Map<number, { commands: number; latencyMs: number; each: number[] }>();
        for (const d of decisions ?? []) {
          // A cleared hazard leaves the map (the status lists only what is committed, not who cleared it).
          if (d.type === 'hazard.cleared') for (const e of hazards.cleared(d, now())) o.observer.onEvent(e);
          const before = decidedHash.get(d.height);
          if (before !== undefined && before !== d.blockHash) violations.push({ property: 'agreement', atMs: now(), detail: `${node} committed ${d.blockHash.slice(0, 12)} at height ${d.height}, others ${before.slice(0, 12)}` });
          decidedHash.set(d.height, d.blockHash);
          // The machine's own entries (a drone leaving a mission: type reassign, operator swarm) name the
          // mission's command, committed earlier, and a committed manifest names its fleet.update
          // (runtime/device/manifest-decision.ts): not a command committed again.
          if (d.type === 'reassign' || d.type === 'manifest') continue;
          const firstHeight = commandHeight.get(d.command);
          if (firstHeight === undefined) {
            commandHeight.set(d.command, d.height);
            if (forgery?.ledger.isForged(d.command)) {
              forgery.ledger.onCommitted();
              violations.push({ property: 'validity', atMs: now(), detail: `${node} committed forged command ${d.command} at height ${d.height}` });
            }
          } else if (firstHeight !== d.height) violations.push({ property: 'validity', atMs: now(), detail: `${node} committed command ${d.command} at height ${d.height}, and it was committed at height ${firstHeight}` });
          const sent = sentAt.get(d.command);
          if (!committedAt.has(d.command) && sent !== undefined) {
            committedAt.set(d.command, now());
            outbox.settle(d.command);
            if (d.outcome === 'rejected') {
              rejections.note(d.height, d.type, d.reason);
              o.observer.onEvent({ t: 'log', at: now(), level: 'info', text: `height ${d.height}: ${d.type} rejected (${d.reason})` });
            }
            forgery?.onCommitted(d.command);
            const f = fresh.get(d.height) ?? { commands: 0, latencyMs: 0, each: [] };
            f.each.push(now() - sent);
            fresh.set(d.height, { commands: f.commands + 1, latencyMs: Math.max(f.latencyMs, now() - sent), each: f.each });
          }
        }
        // Commits as the dashboard charts them: the first device to log a height's commands reports them.
        for (const [height, f] of [...fresh.entries()].sort((a, b) => a[0] - b[0])) {
          o.observer.onEvent({ t: 'commit', at: now(), height, round: 0, proposer: lastProposer, latencyMs: f.latencyMs, commandLatencyMs: f.each, txs: f.commands, commands: f.commands });
        }
      }
    });
    const forging = s.faults.some((f) => f.kind === 'forged-commands');
    // An operator reads refusals on these; a run with an attacker checks that each forgery got one.
    const subscribed = client.subscribeAsync([topics.statusAll, topics.logAll, topics.decidedAll, ...(forging ? [topics.ackJson('+'), topics.refused('+')] : [])], { qos: 1 });
    // Bounded: an external broker that stops acknowledging (frozen, or hostile) held the run here for ever.
    if (!(await withinMs(subscribed, subscribeWaitMs))) {
      const what = `connected, but it did not acknowledge fleet-sim's subscription to the fleet's status within ${subscribeWaitMs / 1000} s`;
      throw fleet.embedded ? new Error(`the embedded broker: ${what}`) : new BrokerUnreachable(what);
    }
    await subscribed;
    const area = surveyAreaOf(s);
    const coverage = area ? new CoverageGrid(area, coverageCellM) : null;
    o.observer.onEvent({
      t: 'run',
      at: 0,
      scenario: s.name,
      seed: s.seed,
      mode: 'realtime',
      durationMs: s.durationMs,
      nodes: fleet.devices.map((d) => ({ index: d.index, id: d.id, role: d.index < s.validators ? 'validator' : 'follower', engine: 'ts' })),
      world: { geofence: fence, surveyArea: area, coverageCellM: coverage?.cellM ?? coverageCellM, radioRangeM: s.radio?.rangeM ?? null, home: [0, 0] },
    });
    const signer = createSigner(fleet.operator);
    const publish = (type: string, args: Readonly<Record<string, unknown>>): void => {
      const nonce = randomBytes(16);
      const t = Date.now();
      const env = sealEnvelope('command', fleet.fleet, 'ops', encodeCommandBody({ type, nonce, issuedAt: t, expiresAt: t + 120_000, args }), signer);
      const ref = `ops/${toHex(nonce)}`; // the command reference of acks and decision logs
      sentAt.set(ref, now());
      const frame = Buffer.from(encodeFrame(fleetTag(fleet.fleet), 'consensus', env));
      client.publish(topics.commands, frame, { qos: 1 });
      outbox.add(ref, frame, t + 120_000, t);
      forgery?.onSubmitted(ref, env);
    };
    // Timeline: faults and once-commands at their times, rate workloads spread over the run.
    const actions: { at: number; run: () => Promise<void> | void }[] = [];
    const fault = (kind: FaultKind, nodes: number[], detail: string): void => o.observer.onEvent({ t: 'fault', at: now(), kind, nodes, detail });
    onExit = (d, code, signal) => {
      if (interrupted) return; // Ctrl-C reaches the device processes too
      const how = signal ?? `exit code ${code}`;
      exitedOnTheirOwn.push({ node: d.index, atMs: now(), code, signal });
      crashed.add(d.index);
      log(`${d.id} exited on its own at ${(now() / 1000).toFixed(1)} s (${how}): no fault of the scenario did it; its output: ${fleet.processLogFiles().find((f) => f.includes(`.${d.id}.log`)) ?? 'not kept'}`);
      fault('crash', [d.index], `exited on its own (${how})`);
    };
    let lastCrashed = 0;
    /** The latest crash, still looking for an honest proposer or done. */
    let crashDone: Promise<void> = Promise.resolve();
    if (forging) forgery = new RealtimeForgery(fleet, now, (payload) => client.publish(topics.commands, payload, { qos: 1 }), (detail) => fault('forged-command', [], detail));
    for (const f of s.faults) {
      if (f.kind === 'forged-commands' && forgery) actions.push(...forgery.actions(f));
      else if (f.kind === 'crash') {
        actions.push({
          at: f.at,
          // Not awaited by the timeline: looking for an honest proposer must not hold back the actions
          // after it (commands, broker faults); a restart of `crashed` waits for it (crashDone).
          run: () => {
            crashDone = (async () => {
              let i = f.node === 'proposer' ? proposerIndex() : f.node;
              // The proposer in office, unless it is Byzantine (crashing the liar tests nothing): then
              // the first honest one after it, as in the deterministic world (world-faults.ts).
              const until = Date.now() + proposerCrashWaitMs;
              const liar = (n: number): boolean => s.faults.some((b) => b.kind === 'byzantine' && b.node === n && b.at <= f.at);
              // A proposer in office that is already down (it died on its own) is no crash either.
              while (f.node === 'proposer' && (liar(i) || !fleet.alive(device(i))) && Date.now() < until) {
                await sleep(10);
                i = proposerIndex();
              }
              // Still none: a fleet slow to move past a dead proposer (its round timing out on a loaded
              // machine) keeps showing it. The crash then takes the first honest validator after it that
              // runs, the one in office next: crashing a dead device tests nothing.
              for (let k = 1; f.node === 'proposer' && k < s.validators && (liar(i) || !fleet.alive(device(i))); k++) {
                i = (i + 1) % s.validators;
              }
              lastCrashed = i;
              crashed.add(i);
              await fleet.kill(device(i));
              fault('crash', [i], fleet.runsHere(i) ? 'stopped' : 'SIGKILL');
            })().catch((e: Error) => log(`crash: ${e.message}`));
          },
        });
      } else if (f.kind === 'restart') {
        actions.push({
          at: f.at,
          run: async () => {
            await crashDone;
            const i = f.node === 'crashed' ? lastCrashed : f.node;
            await fleet.kill(device(i));
            fleet.start(device(i)).then(() => fault('restart', [i], 'recovered from its data directory'), (e: Error) => log(e.message));
          },
        });
      } else if (f.kind === 'broker-down' && fleet.embedded) {
        actions.push({ at: f.at, run: async () => (await fleet.stopBroker(), fault('broker-down', [], 'embedded broker stopped')) });
        actions.push({ at: f.until, run: async () => (await fleet.startBroker(), fault('broker-up', [], 'embedded broker back')) });
      } else if ((f.kind === 'partition' || f.kind === 'one-way' || f.kind === 'loss') && (fleet.embedded || s.radio)) {
        // The plan applies these by time on every delivery; here they only go on the timeline.
        const [kind, nodes, detail] =
          f.kind === 'partition' ? (['partition', f.groups.flat(), f.groups.map((g) => `[${g.join(',')}]`).join(' | ')] as const)
          : f.kind === 'one-way' ? (['partition', [...f.from, ...f.to], `one-way ${f.from.join(',')} → ${f.to.join(',')}`] as const)
          : (['link-loss', [], `loss ${f.loss}`] as const);
        actions.push({ at: f.at, run: () => fault(kind, [...nodes], detail) });
        actions.push({ at: f.until, run: () => fault('heal', [], 'healed') });
      } else if (f.kind === 'byzantine' && f.behavior === 'amnesia') {
        actions.push({
          at: f.at,
          run: async () => {
            forgot.add(f.node);
            await fleet.forget(device(f.node));
            fault('byzantine', [f.node], 'amnesia: restarted without its lock, votes and signer state (committed blocks kept)');
          },
        });
      } else if (f.kind === 'byzantine' && f.behavior === 'twins') {
        if (!fleet.embedded) unsupported.push(`twins at ${f.at} ms: both instances hear every validator over an external broker (the split of what they hear needs the embedded broker)`);
        actions.push({
          at: f.at,
          run: async () => {
            forgot.add(f.node);
            twinned.add(f.node);
            await fleet.twin(device(f.node));
            fault('byzantine', [f.node], 'twins: a second instance with the same key, from a copy of its data directory');
          },
        });
      } else if (f.kind === 'byzantine' && byzantine.has(f.node)) {
        const b = byzantine.get(f.node) as ByzantineDevice;
        actions.push({ at: f.at, run: () => (b.turn(f.behavior), fault('byzantine', [f.node], `${f.behavior} (fleet-sim wrapper around the real runtime)`)) });
      } else if (f.kind !== 'partition' && f.kind !== 'one-way' && f.kind !== 'loss') {
        const what = f.kind === 'byzantine' ? `byzantine ${f.behavior}` : f.kind;
        unsupported.push(`${what} at ${f.at} ms (not available in real-time mode${f.kind === 'broker-down' ? ' with an external broker' : ''})`);
      }
    }
    for (const w of s.workload) {
      if (w.kind === 'once') actions.push({ at: w.at, run: () => publish(w.command, w.args) });
      else if (w.kind === 'fleet-update') {
        actions.push({
          at: w.at,
          run: () => {
            // The authority signs the next epoch's manifest; the operator (admin role) proposes it.
            publish('fleet.update', { manifest: fleet.nextManifest(w.validators, w.followers) });
            o.observer.onEvent({ t: 'log', at: now(), level: 'info', text: `fleet.update sent: validators [${w.validators.join(', ')}], followers [${w.followers.join(', ')}]` });
          },
        });
      }
      else {
        for (const t of rateTimes(w.from, w.to, Math.min(w.perSec, o.ratePerSecMax ?? 20), 100_000)) actions.push({ at: t, run: () => publish(w.command, {}) });
      }
    }
    actions.sort((a, b) => a.at - b.at);
    // Committed evidence as honest devices report it in their status (culprit, height, round, vote).
    const evidence = new Map<string, RealtimeReport['evidence'][number]>();
    const collectEvidence = (states: readonly ReturnType<typeof stateOf>[]): void => {
      states.forEach((x, i) => {
        if (byzantine.get(i)?.behavior) return;
        for (const e of x.st?.evidence ?? []) {
          const key = `${e.culprit}/${e.height}/${e.round}/${e.vote}`;
          const validator = indexOfId.get(e.culprit);
          if (evidence.has(key) || validator === undefined) continue;
          evidence.set(key, { kind: 'equivocation', validator, height: e.height });
          o.observer.onEvent({ t: 'evidence', at: now(), kind: 'equivocation', validator, height: e.height });
        }
      });
    };
    let epoch: number | null = null;
    let minSeparationM: number | null = null;
    let separationFrom: 'vehicles' | 'reports' = 'vehicles';
    // world.geofence: breaches counted from the positions the devices report, as deterministic mode
    // counts them; a drone counts again only after it came back inside.
    const outside = new Set<number>();
    let geofenceBreaches = 0;
    // Counts the devices report in their status since they started, summed over restarts.
    const failsafesOf = new CountsSinceStart();
    const relayedOf = new CountsSinceStart();
    /** Times each simulated vehicle in this process flew into an obstacle of the world, over restarts;
     *  and, for devices fleet-sim cannot see the vehicles of (--processes, a flight controller), times a
     *  reported position entered one (sampled each frame, with the GNSS's error), as separation is. */
    const strikesOf = new CountsSinceStart();
    const worldHazards = s.world?.hazards ?? [];
    const insideHazard = new Map<number, number>();
    let strikesReported = 0;
    /** Snapshots honest devices installed by state sync, and offers or chunks they refused. */
    const installsOf = new CountsSinceStart();
    const syncRefusedOf = new CountsSinceStart();
    let next = 0;
    let nextLieAt = 0;
    const fakeCells = fakeHazardCells(s, new Prng(s.seed).split('fake-hazard-cells'));
    let lastHeight = 0;
    let lastCommitAt = 0;
    let maxStall = 0;
    for (let tick = 0; now() < s.durationMs && tick < 1_000_000 && !interrupted; tick++) {
      while (next < actions.length && (actions[next] as { at: number }).at <= now()) await (actions[next++] as { run: () => Promise<void> | void }).run();
      if (client.connected) for (const e of outbox.due(Date.now())) client.publish(topics.commands, Buffer.from(e.frame), { qos: 1 });
      const states = fleet.devices.map((d) => stateOf(d.index));
      states.forEach((x, i) => (positions[i] = x.position));
      const height = Math.max(0, ...states.map((x) => x.height));
      if (height > lastHeight) {
        maxStall = Math.max(maxStall, now() - lastCommitAt);
        lastCommitAt = now();
        lastHeight = height;
      }
      collectEvidence(states);
      // Agent liars (fake-hazard, deny-hazard) sign their lies once a second, as in deterministic mode:
      // on a one-second beat, not a second after the tick that lied (frames come 250 ms apart plus the
      // tick's own work, so that lied every 1.1-1.4 s); a beat a stalled tick missed is skipped, not caught up.
      if (now() >= nextLieAt) {
        nextLieAt += lieEveryMs;
        if (nextLieAt <= now()) nextLieAt = now() + lieEveryMs;
        for (const [i, b] of byzantine) {
          const how = b.agentBehavior;
          if (how === null || !fleet.alive(device(i))) continue;
          // Each committed cell once, however many devices list it.
          const committed = [...new Map(states.flatMap((x) => (x.st?.hazards ?? []).map((h) => [`${h.cell[0]},${h.cell[1]}`, h.cell] as const))).values()];
          b.lie(how === 'fake-hazard' ? fakeCells : deniedHazardCells(s, committed), Date.now(), states[i]?.height ?? 0);
        }
      }
      states.forEach((x, i) => {
        if (byzantine.get(i)?.behavior) return;
        for (const e of hazards.observe(x.st, now())) o.observer.onEvent(e);
        if (x.st?.epoch !== undefined && (epoch === null || x.st.epoch > epoch)) epoch = x.st.epoch;
      });
      const fresh: number[] = [];
      const nodes: NodeSample[] = fleet.devices.map((d) => {
        const { st, position: p, height: h, round: r, batteryPct } = states[d.index] as ReturnType<typeof stateOf>;
        if (coverage && p && (p.upM ?? 0) > 5 && fleet.alive(d)) fresh.push(...coverage.mark(p.northM, p.eastM, 12));
        // A device run as its own process has no position until its first status: it stands where it
        // was last seen, or on its pad. Before, it was drawn at the origin, and the map's trail of
        // every drone began with a line from the origin to its pad.
        if (p) lastSeenAt.set(d.index, p);
        const at = lastSeenAt.get(d.index) ?? { ...fleet.startPosition(d.index), upM: 0 };
        // A height not known (a MAVLink FC's estimator said so: StatusJson upM null) is drawn on the ground.
        return { i: d.index, n: at.northM, e: at.eastM, u: at.upM ?? 0, bat: batteryPct ?? 100, h, r, health: fleet.alive(d) ? 'alive' : 'crashed', byz: byzantine.get(d.index)?.behavior ?? null, mode: (st?.mission ? `${st.mission.status} ${st.mission.progressPct}%` : (st?.state ?? 'starting')) + (st?.handedOver ? ' (handed over)' : '') };
      });
      // Separation is the world's to measure: the simulated vehicles' true positions when every running
      // device is in this process on simulated hardware, else what the devices report (GNSS noise).
      const truth = fleet.devices.map((d) => (fleet.alive(d) ? (d.inproc?.simTruth() ?? null) : null));
      const fromVehicles = fleet.devices.every((d, i) => !fleet.alive(d) || truth[i] !== null);
      if (!fromVehicles) separationFrom = 'reports';
      truth.forEach((t, i) => strikesOf.observe(i, t?.obstacleStrikes));
      for (const x of nodes) {
        const k = x.health === 'alive' ? worldHazards.findIndex((h) => x.u < h.heightM && Math.hypot(x.n - h.northM, x.e - h.eastM) < h.radiusM) : -1;
        if (k >= 0 && insideHazard.get(x.i) !== k) strikesReported++;
        insideHazard.set(x.i, k);
      }
      const airborne = fromVehicles ? truth.filter((t): t is NonNullable<typeof t> => t !== null && t.upM > 5) : nodes.filter((x) => x.u > 5 && x.health === 'alive').map((x) => ({ northM: x.n, eastM: x.e, upM: x.u }));
      const closest = closestPairM(airborne);
      if (closest !== null && (minSeparationM === null || closest < minSeparationM)) minSeparationM = closest;
      for (const x of nodes) {
        if (!fence || x.u < 1 || x.health !== 'alive') continue;
        if (insidePolygon(x.n, x.e, fence)) outside.delete(x.i);
        else if (!outside.has(x.i)) {
          outside.add(x.i);
          geofenceBreaches++;
        }
      }
      states.forEach((x, i) => {
        failsafesOf.observe(i, x.st?.failsafes);
        relayedOf.observe(i, x.st?.relayedFirst);
        if (byzantine.get(i)?.behavior) return;
        installsOf.observe(i, x.st?.stateSync?.installs);
        syncRefusedOf.observe(i, x.st?.stateSync?.refused);
      });
      if (coverage && fresh.length > 0) o.observer.onEvent({ t: 'coverage', at: now(), cells: fresh, fraction: Math.round(coverage.fraction() * 1000) / 1000 });
      lastProposer = proposerIndex();
      o.observer.onEvent({ t: 'frame', at: now(), nodes, proposer: lastProposer, radio: medium?.links() ?? [], broker: (fleet.embedded ? fleet.brokerRunning : client.connected) ? 'up' : 'down' });
      await sleep(250);
    }
    const cutShort = interrupted ? `interrupted at ${(now() / 1000).toFixed(1)} s of ${(s.durationMs / 1000).toFixed(0)} s` : null;
    if (cutShort) log(`${cutShort}; stopping the fleet`);
    maxStall = Math.max(maxStall, now() - lastCommitAt);
    const latencies = [...committedAt.entries()].map(([k, at]) => at - (sentAt.get(k) as number)).sort((a, b) => a - b);
    // A run cut short checked its expectations over part of the scenario: it does not pass.
    const failed: string[] = cutShort ? [cutShort] : [];
    if (violations.length > 0) failed.push('safety');
    const fraction = sentAt.size === 0 ? 1 : committedAt.size / sentAt.size;
    if (s.expect.committedFraction !== undefined && fraction < s.expect.committedFraction) failed.push(`committedFraction ${fraction.toFixed(3)} < ${s.expect.committedFraction}`);
    if (s.expect.maxStallMs !== undefined && maxStall > s.expect.maxStallMs) failed.push(`maxStall ${Math.round(maxStall)} ms > ${s.expect.maxStallMs} ms`);
    if (lastHeight === 0) failed.push('liveness: no height was committed');
    const hz = hazards.report();
    failed.push(...hazardExpectFailures(s.expect, hz.committed));
    failed.push(...epochExpectFailures(s.expect, epoch));
    failed.push(...evidenceExpectFailures(s.expect, [...evidence.values()]));
    failed.push(...stateSyncExpectFailures(s.expect, { installs: installsOf.total(), refused: syncRefusedOf.total() }));
    const failsafes = failsafesOf.total();
    const flight = {
      surveyedFraction: coverage ? Math.round(coverage.fraction() * 1000) / 1000 : null,
      geofenceBreaches,
      failsafes,
      minSeparationM: minSeparationM === null ? null : Math.round(minSeparationM * 10) / 10,
      separationFrom,
      obstacleStrikes: separationFrom === 'vehicles' ? strikesOf.total() : strikesReported,
    };
    failed.push(...flightExpectFailures(s.expect, flight, 'failsafes'));
    const relayedFirst = relayedOf.total();
    failed.push(...relayExpectFailures(s.expect, relayedFirst));
    const forgedCommands = forgery?.report() ?? null;
    if (s.expect.forgedRefused) failed.push(...forgedExpectFailures(forgedCommands));
    for (const x of exitedOnTheirOwn) failed.push(`devices: ${device(x.node).id} exited on its own at ${(x.atMs / 1000).toFixed(1)} s (${x.signal ?? `exit code ${x.code}`}), not by the scenario`);
    const endedMs = now();
    return {
      scenario: s.name,
      file: o.file ?? null,
      seed: s.seed,
      mode: 'realtime',
      simulatedMs: endedMs,
      wallMs: Math.round(performance.now() - wallStart),
      broker: fleet.brokerUrl,
      fleet: fleet.fleet,
      nodes: { validators: s.validators, followers: s.followers, byzantine: [...new Set([...[...byzantine.entries()].filter(([, b]) => b.behavior !== null).map(([i]) => i), ...forgot])].sort((a, b) => a - b), crashed: [...crashed].sort((a, b) => a - b) },
      safety: { ok: violations.length === 0, violations },
      liveness: { heights: lastHeight, commandsSubmitted: sentAt.size, commandsCommitted: committedAt.size, commandsRejected: rejections.count, rejections: [...rejections.first], maxStallMs: maxStall },
      latencyMs: { commitP50: percentile(latencies, 50), commitP99: percentile(latencies, 99) },
      // Over the time it ran: a run Ctrl-C cut short did not have the whole duration.
      throughput: { commandsPerSec: Math.round((committedAt.size / (Math.max(1, Math.min(endedMs, s.durationMs)) / 1000)) * 100) / 100 },
      evidence: [...evidence.values()],
      flight,
      epoch,
      expect: { met: failed.length === 0, failed },
      unsupported,
      exitedOnTheirOwn,
      deviceLogs: [...(o.deviceLog !== undefined && fleet.devices.some((d) => fleet.runsHere(d.index)) ? [o.deviceLog] : []), ...fleet.processLogFiles()],
      radio: medium ? { ...medium.counters, relayedFirst } : null,
      signatures: fleet.verifyCounts(),
      stateSync: { installs: installsOf.total(), refused: syncRefusedOf.total() },
      linkFaults: { mqttCut: plan.dropped.cut, mqttLost: plan.dropped.lost },
      hazards: (s.world?.hazards.length ?? 0) > 0 || hz.committed > 0 ? hz : null,
      forgedCommands,
      hil: hil?.describe() ?? [],
      byzantine: [
        ...[...byzantine.entries()].filter(([, b]) => b.behavior !== null).map(([node, b]) => ({ node, behavior: b.behavior as string, ...b.counts, ...(b.agentBehavior ? { lies: b.lies } : {}) })),
        // A twin runs the honest code: everything it sent is what its code handed over.
        ...fleet.twinStats().map((t) => ({ node: indexOfId.get(t.id) ?? -1, behavior: 'twins', honest: t.sent, sent: t.sent, height: t.height })),
      ],
    };
  } finally {
    // Bounded (closeMqtt): a graceful end waits for every command publish the broker has not acknowledged,
    // and one published while the broker was down (or back but not yet reconnected to) never is: a run
    // whose broker was not back at its end hung here, its devices and ptys left running.
    if (operatorClient) await closeMqtt(operatorClient);
    log('stopping the fleet');
    await fleet.teardown();
    await medium?.stop();
    await hil?.stop();
    process.off('SIGINT', interrupt);
    process.off('SIGTERM', interrupt);
  }
}
