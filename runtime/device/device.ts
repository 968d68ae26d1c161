// A running device: wires identity, manifest, the MQTT link, the consensus shell, the data directory,
// membership, the mission machine, HAL drivers and the control plane, and shuts them down in order.
// Everything that can be checked is checked in `openDevice` before anything starts.

import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Logger as PinoLogger } from 'pino';
import { readKeyFile } from '../crypto/key-file.js';
import { createSigner, createVerifier, hash, nativeLoadError, type Signer } from '../crypto/sodium.js';
import { limits } from '../lib/limits.js';
import { memoVerifier, rememberingSigner, type MemoVerifier } from '../crypto/memo-verifier.js';
import { fromHex, toHex } from '../lib/bytes.js';
import { err, ok, type Result } from '../lib/result.js';
import { keyLookup, memberOf, verifyManifest, type Manifest } from '../manifest/manifest.js';
import { makeDataDir, type DeviceConfig } from '../config/device-config.js';
import { defaultConsensusConfig, type ConsensusConfig } from '../consensus/types.js';
import { blockTxBytesMax } from '../consensus/consensus-state.js';
import { isLight } from '../consensus/light-follower.js';
import { clockAheadOfNode, clockSetter } from '../consensus/core.js';
import { describeStall, stallAfterMs, stallView, type StallView } from '../consensus/stall.js';
import { GenesisMismatchError, NodeShell } from '../node/shell.js';
import { createLinks, type RadioConfig } from '../links/create-links.js';
import { IdentityGuard, describeConflict, type IdentityConflict } from './identity-guard.js';
import type { LinkCountersDetail, ReceivedFrame } from '../links/link.js';
import type { MqttLink } from '../links/mqtt-link.js';
import type { Router } from '../links/router.js';
import type { SerialLink } from '../links/serial-link.js';
import { MembershipView, type StatusChange } from '../membership/membership-view.js';
import { HeartbeatService } from '../membership/heartbeat-service.js';
import type { HeartbeatPlan } from '../membership/heartbeat-plan.js';
import { decodeEnvelope, sealEnvelope } from '../wire/envelope.js';
import type { Health } from '../wire/heartbeat.js';
import type { LedPattern, StatusLed } from '../../hal/devices.js';
import { encodeTelemetryBody } from '../wire/telemetry.js';
import { lostAfterRadioProblem, TelemetryGate } from './telemetry-gate.js';
import { paramOf } from '../mission/params.js';
import { ControlPlane } from './control-plane.js';
import { FileStorage, StorageError } from './file-storage.js';
import { storageFailedMessage } from './storage-wait.js';
import { checkDataFormat, markDataFormat } from './data-format.js';
import { checkDataFleet, dataFleetOf, markDataFleet } from './data-fleet.js';
import { genesisFile, givenManifestProblem, readGenesisFile } from './genesis-file.js';
import { lockDataDir, type DataLock } from './data-lock.js';
import { createLogger, DeviceMetrics, linkLogger, startHttp, type HealthView } from './observability.js';
import { badFramesOf, DropReport, droppedTotals } from './drop-report.js';
import { WarnBudget } from './repeat-limits.js';
import { MissionRunner } from './mission-runner.js';
import { createHal, loadHalDrivers, type Hal, type HalDrivers } from './hal-setup.js';
import type { StatusJson } from './control-topics.js';
import type { DeviceAgents } from './agents-setup.js';
import { assessHealth, deviceFacts, halFacts, HalWatch, NoDataClock, type HealthAssessment } from './device-health.js';
import { describePlan, membershipConfigOf, planDeviceHeartbeats } from './heartbeats-setup.js';
import { nextSessionNumber, parseStoredSession } from './session-number.js';
import { SteadyClock } from './steady-clock.js';
import { membershipProblem, peersOf } from './manifest-in-force.js';
import { ManifestProofs } from './manifest-proofs.js';
import { withinMs } from '../lib/within.js';

export interface DeviceParts {
  readonly config: DeviceConfig;
  /** The manifest device.yaml names: this device's identity and a trust anchor, checked against what
   *  the chain commits (genesis-file.ts), never the set the chain is replayed under. */
  readonly manifest: Manifest;
  /** The manifest in force at height 1 of the chain in the data directory (genesis-file.ts): the kept
   *  `genesis.manifest`, else (a directory with no chain yet, or an older release's) `manifest`. */
  readonly genesis: Manifest;
  /** Whether `genesis` came from the data directory's `genesis.manifest`. */
  readonly genesisKept: boolean;
  readonly signer: Signer;
  /** Remembers its answers (runtime/crypto/memo-verifier.ts); the device's signer seeds it. */
  readonly verifier: MemoVerifier;
  readonly role: 'validator' | 'follower';
  /** Heartbeat interval per link, sized and checked against the fleet (heartbeats-setup.ts). */
  readonly heartbeats: HeartbeatPlan;
  /** The data directory's format when it was checked (0: no `data-format` file yet; data-format.ts). */
  readonly dataFormatFound: number;
  /** This process's hold on the data directory (data-lock.ts), released when the device stops; null
   *  when opened only to check (murmur provision). */
  readonly lock: DataLock | null;
  /** The directories opening it made (the data directory and any missing above it, top down): a start
   *  refused after (runtime/cli/start.ts) removes them again while empty. */
  readonly madeDirs?: readonly string[];
  /** The HAL drivers the config names beyond the simulated one (loadHalDrivers). */
  readonly halDrivers: HalDrivers;
  /** The agents' wiring (agents-setup.ts, with the agents and their engines), loaded for a device that
   *  runs them (agents.enabled), else null (loadAgentsSetup). */
  readonly agentsSetup: AgentsSetup | null;
}

export type AgentsSetup = typeof import('./agents-setup.js');

/** Loads the agents' modules when `c` runs agents: a device with agents.enabled false never reads them
 *  (about 0.01-0.02 s of CPU at its start, built, on the 2-vCPU development VM). */
export async function loadAgentsSetup(c: DeviceConfig): Promise<AgentsSetup | null> {
  return c.agents.enabled ? await import('./agents-setup.js') : null;
}

/** Loads and checks identity and manifest, and (`lock`, the default) takes the data directory for this
 *  process; a problem is a one-line reason naming the file and fix. */
export async function openDevice(config: DeviceConfig, configFile: string, o: { readonly lock: boolean } = { lock: true }): Promise<Result<DeviceParts>> {
  const idn = await readKeyFile(config.key);
  if (!idn.ok) return err(`${configFile}: key: ${idn.error}`);
  if (idn.value.id !== config.id) return err(`${configFile}: id is "${config.id}" but key file ${config.key} belongs to "${idn.value.id}"; use that device's key file`);
  let bytes: Uint8Array;
  try {
    bytes = new Uint8Array(readFileSync(config.manifest));
  } catch (e) {
    return err(`${configFile}: manifest: cannot read ${config.manifest}: ${(e as Error).message}`);
  }
  // The same triple comes back: the shell checks each own proposal and vote as a received one, and each
  // precommit comes again in the next block's certificate. Exact, and small (limits.deviceVerifyMemoMax).
  const verifier = memoVerifier(createVerifier(), limits.deviceVerifyMemoMax, limits.deviceVerifyMemoBytesMax);
  const pinned = config.authority !== undefined ? fromHex(config.authority) : undefined;
  const m = verifyManifest(bytes, verifier, pinned);
  if (!m.ok) {
    const fix = pinned !== undefined && m.error.includes('this device trusts authority') ? 'give the manifest the fleet authority signed, or set `authority` to the key that signs this fleet' : 'set manifest to the signed manifest written by `murmur fleet sign` (or restore it)';
    return err(`${configFile}: manifest ${config.manifest}: ${m.error}; ${fix}`);
  }
  const member = memberOf(m.value, config.id);
  if (!member || member.role === 'operator') return err(`${configFile}: id "${config.id}" is not a validator or follower in the fleet manifest (epoch ${m.value.body.epoch}); add it with \`murmur fleet add\` and sign again`);
  const signer = createSigner(idn.value);
  if (toHexKey(signer.publicKey) !== toHexKey(member.publicKey)) return err(`${configFile}: key ${config.key} is not the key the manifest lists for "${config.id}"`);
  const heartbeats = planDeviceHeartbeats(config, m.value);
  if (!heartbeats.ok) return err(`${configFile}: ${heartbeats.error}`);
  // Checking staged files only (murmur provision): the data directory is the device's, not this machine's.
  const halDrivers = await loadHalDrivers(config);
  const agentsSetup = await loadAgentsSetup(config);
  if (!o.lock) return ok({ config, manifest: m.value, genesis: m.value, genesisKept: false, signer, verifier, role: member.role, heartbeats: heartbeats.value, dataFormatFound: 0, lock: null, halDrivers, agentsSetup });
  // Every other check passed: the directory becomes this process's, then its format is read (no other
  // process can mark it between the two), and nothing is written to it before either.
  const made = makeDataDir(config, configFile);
  if (!made.ok) return made;
  const lock = await lockDataDir(config.dataDir);
  if (!lock.ok) return err(`${configFile}: dataDir: ${lock.error}`);
  const format = checkDataFormat(config.dataDir);
  if (!format.ok) {
    await lock.value.release();
    return err(`${configFile}: dataDir: ${format.error}`);
  }
  const fleetOwner = checkDataFleet(config.dataDir, dataFleetOf(m.value.body.fleet, m.value.body.authority));
  if (!fleetOwner.ok) {
    await lock.value.release();
    return err(`${configFile}: dataDir: ${fleetOwner.error}`);
  }
  const genesis = readGenesisFile(config.dataDir, m.value, verifier);
  if (!genesis.ok) {
    await lock.value.release();
    return err(`${configFile}: dataDir: ${genesis.error}`);
  }
  return ok({ config, manifest: m.value, genesis: genesis.value ?? m.value, genesisKept: genesis.value !== null, signer, verifier, role: member.role, heartbeats: heartbeats.value, dataFormatFound: format.value, lock: lock.value, madeDirs: made.value, halDrivers, agentsSetup });
}

const toHexKey = (b: Uint8Array): string => Buffer.from(b).toString('hex');

function agentsSetupOf(p: DeviceParts): AgentsSetup {
  if (p.agentsSetup === null) throw new Error('agents.enabled: the agents were not loaded (loadAgentsSetup)');
  return p.agentsSetup;
}

/** Where fleet-sim's real-time Byzantine nodes lie on a device's behalf (fleet-sim/realtime/
 *  byzantine-device.ts). A programmatic seam only: `murmur start` never sets it. */
export interface DeviceHooks {
  /** Wraps the consensus shell's outgoing messages, after signing and before the links. */
  readonly consensusSend?: (send: ConsensusSend) => ConsensusSend;
  /** Wraps the validator's announcements of committed blocks (light followers), before the links. */
  readonly announce?: (announce: (envelope: Uint8Array) => boolean) => (envelope: Uint8Array) => boolean;
  /** Sees every envelope the links deliver, before the device handles it. */
  readonly received?: (bytes: Uint8Array) => void;
  /** Wraps the device's own transactions (agents' attestations, telemetry) on their way to the
   *  mempool and the links; the wrapper is handed the real submit, which it may also call itself. */
  readonly txSubmit?: (submit: (envelope: Uint8Array) => void) => (envelope: Uint8Array) => void;
  /** Replaces what the device does when another process holds its key (identity-guard.ts; default:
   *  log it and stop). fleet-sim's twins are Byzantine by design: both copies go on. */
  readonly identityConflict?: (c: IdentityConflict) => void;
  /** Replaces what the device does when the manifest in force drops it or lists another key for it
   *  (default: log it and exit 3); fleet-sim's devices in its own process stop instead. */
  readonly retired?: (reason: string) => void;
}

export type ConsensusSend = (to: string | null, bytes: Uint8Array) => void;

/** How the process running a device wants it wired (`murmur start`: runtime/cli/start.ts). */
export interface DeviceOptions {
  /** The process's logger, kept across the devices it runs one after another; default: one of its own. */
  readonly log?: PinoLogger;
  /** Told of a data-directory write that failed while running, once the device has halted (nothing more
   *  is sent or written; stop() still to be called), to log it (storageFailedMessage) and start again.
   *  Default: the device logs it and exits 74 for a supervisor to restart it. */
  readonly onStorageFailed?: (e: StorageError) => void;
  /** The process's metrics, kept across the devices it runs one after another (each registry samples
   *  the event loop for as long as the process lives); default: its own. */
  readonly metrics?: DeviceMetrics;
}

/** Committed evidence kept in the JSON status (newest last). */
const statusEvidenceMax = 8;
const statusHazardsMax = 32;
const reflexLogEveryMs = 5_000;
/** How often a device publishes its JSON status (and so how stale a status height may be). */
export const statusMs = 1_000;
/** How often the status LED is brought in line with the device's health. */
const ledRefreshMs = 1_000;

function ledPatternOf(health: Health): LedPattern {
  if (health === 'ok') return { type: 'heartbeat' };
  return { type: 'blink', periodMs: health === 'degraded' ? 1_000 : 250 };
}

/** The data directory's contents (snapshot, WAL, signer state) cannot be recovered from: a bad file for
 *  the operator to look at (`murmur start` exits 2), not an unavailable broker or port. */
export class DataDirectoryError extends Error {}

/** The chain's manifest in force no longer lists this device under its key (membershipProblem): a start
 *  refused (`murmur start` exits 3), as a device told so while running stops. */
export class NotMemberError extends Error {}

export class Device {
  readonly metrics: DeviceMetrics;
  /** Messages dropped before consensus: counted by reason, logged at a bounded rate. */
  private readonly drops: DropReport;
  /** The consensus shell's warnings, bounded (WarnBudget): a peer's flood must not flood the log. */
  private readonly consensusWarnings: WarnBudget;
  readonly log: PinoLogger;
  readonly storage: FileStorage;
  /** The device's key (DeviceParts.signer), remembering what it signs in the device's verifier. */
  private readonly signer: Signer;
  /** Every link behind one router: MQTT and any serial radios (consensus goes out on all of them). */
  readonly link: Router;
  readonly mqtt: MqttLink | undefined;
  readonly radios: readonly SerialLink[];
  readonly shell: NodeShell;
  readonly membership: MembershipView;
  readonly control: ControlPlane;
  /** The proofs of the blocks that changed the fleet manifest, kept and published retained for operators. */
  private readonly manifestProofs: ManifestProofs;
  readonly missions: MissionRunner;
  /** Per agent and action: when the reflex was last logged and how often it fired since. */
  private readonly reflexLog = new Map<string, { atMs: number; fired: number }>();
  /** Reflexes that sent the drone home or down (battery, geofence, lost link) since this start. */
  private failsafes = 0;
  private readonly hal: Hal;
  private readonly agents: DeviceAgents | null;
  readonly heartbeats: HeartbeatService;
  private readonly timers: NodeJS.Timeout[] = [];
  /** Cancels the consensus timers not yet fired. */
  private readonly pending = new Set<() => void>();
  private httpServer: import('node:http').Server | undefined;
  /** The agents' scheduler was started (start()): until then their stop is not logged agent by agent. */
  private agentsStarted = false;
  /** When the status LED last showed the device's health (hal.led), and what went wrong last time. */
  private ledShownMs = -Infinity;
  private ledError = '';
  httpPort = 0;
  private state: StatusJson['state'] = 'starting';
  private readonly session: number;
  /** One identity, one process: the proof in each birth, and the check of others' (identity-guard.ts). */
  private readonly identity: IdentityGuard;
  private telemetrySeq = 0;
  /** Which telemetry periods sign a report (telemetry-gate.ts). */
  private readonly telemetryGate: TelemetryGate;
  /** The committed mission and lostAfterS last checked against this device's radio-only cadence
   *  ("<mission> <lostAfterS>"; warned once per pair). */
  private lostAfterChecked = '';
  private lastCommitMs = Date.now();
  /** Consensus's clock: Unix time that never goes back (steady-clock.ts). */
  private readonly clock = new SteadyClock(Date.now, () => performance.now(), (stepMs, aheadMs) =>
    this.log.warn({ event: 'clock-step', stepMs: Math.round(stepMs), aheadMs: Math.round(aheadMs) }, `the wall clock went back ${(stepMs / 1000).toFixed(1)} s; consensus keeps counting on from before (now ${(aheadMs / 1000).toFixed(1)} s ahead of the wall clock) until the device restarts`),
  );

  /** The simulated vehicle's true position (hal.driver sim), for fleet-sim's world measurements. */
  simTruth(): { northM: number; eastM: number; upM: number; obstacleStrikes: number } | null {
    return this.hal.truth?.() ?? null;
  }

  constructor(
    private readonly p: DeviceParts,
    private readonly startedAt: number,
    private readonly hooks: DeviceHooks = {},
    private readonly o: DeviceOptions = {},
  ) {
    const c = p.config;
    const fleet = p.manifest.body.fleet;
    this.genesisKept = p.genesisKept;
    this.metrics = o.metrics ?? new DeviceMetrics();
    this.signer = rememberingSigner(p.signer, p.verifier);
    this.storage = new FileStorage(c.dataDir, (s) => this.metrics.walFsync.observe(s));
    // Nothing is written here: start() writes the format and this session number once the ports it
    // needs are open (a start refused before leaves the directory as it found it).
    this.session = nextSessionNumber(parseStoredSession(this.storage.read('session')), Date.now());
    this.telemetryGate = new TelemetryGate(p.config.id);
    this.log = o.log ?? createLogger(c.id, c.log.level, () => this.logPosition(), c.log.file);
    const linkLog = linkLogger(this.log, c.mqtt.url);
    this.identity = new IdentityGuard({ fleet, node: c.id, signer: this.signer, verifier: p.verifier, startedAtMs: startedAt, now: () => Date.now() });
    // Subscribing per peer (not with wildcards) keeps the broker from echoing our own frames back.
    // From the configured manifest until the chain's is known (start(), followManifest).
    const peers = peersOf(c.id, [p.manifest]);
    const links = createLinks({
      fleet,
      node: c.id,
      peers,
      mqtt: { url: c.mqtt.url, session: this.session, startWaitMs: 1_500, log: linkLog, birth: () => this.identity.birth(), ...creds(c), ...(c.mqtt.clientId !== undefined ? { clientId: c.mqtt.clientId } : {}), ...(c.mqtt.caFile !== undefined ? { tls: { ca: readFileSync(c.mqtt.caFile) } } : {}) },
      // heartbeatMs is for the heartbeat plan, not the serial link; heartbeatShare is for both (the
      // radio's queue guarantees its heartbeat lane that share of the airtime).
      radios: c.radios.map(({ heartbeatMs: _ms, ...r }) => ({ ...(Object.fromEntries(Object.entries(r).filter(([, v]) => v !== undefined)) as unknown as RadioConfig), log: linkLog })),
      ...(c.routing ? { policy: Object.fromEntries(Object.entries(c.routing).filter(([, v]) => v !== undefined)) } : {}),
    });
    if (!links.ok) throw new Error(links.error);
    this.link = links.value.router;
    this.mqtt = links.value.mqtt;
    this.mqtt?.onNodeState((st, retained) => {
      const k = this.identity.check(st, retained);
      if (k !== null) this.onIdentityConflict(k);
    });
    this.radios = links.value.radios;
    this.control = new ControlPlane({ url: c.mqtt.url, fleet, node: c.id, signer: this.signer, log: linkLog, ...creds(c), ...(c.mqtt.clientId !== undefined ? { clientId: `${c.mqtt.clientId}-ctl` } : {}) });
    this.manifestProofs = new ManifestProofs(this.storage, (payload) => this.control.manifestProofs(payload), (m) => this.log.warn({ event: 'manifest-proofs' }, m));
    const kept = this.manifestProofs.payload();
    if (kept !== null) this.control.manifestProofs(kept);
    this.membership = new MembershipView(c.id, membershipConfigOf(c, p.heartbeats));
    // Heartbeats go on each link at that link's interval, beside the router (which drops the copies
    // for everything else); the service hears every copy, so the view knows which links carry a peer.
    const beatLinks = [...(this.mqtt ? [this.mqtt] : []), ...this.radios];
    this.heartbeats = new HeartbeatService({
      fleet,
      node: c.id,
      session: this.session,
      signer: this.signer,
      verifier: p.verifier,
      keyOf: (sender, kind) => keyLookup(this.shell.core.chain.manifestAt(this.shell.core.height))(sender, kind),
      links: beatLinks.map((link) => ({ link, intervalMs: p.heartbeats.intervalsMs[link.name] as number })),
      view: this.membership,
      localState: () => this.localState(),
      // Its default clock is monotonic: a wall-clock step must not stop heartbeats or convict peers.
      onChange: (ch) => this.onMembershipChange(ch),
      linksUp: () => new Set(this.link.linkStates().filter((l) => l.up).map((l) => l.name)),
      // A member a new epoch removes stops counting in the view (its heartbeats are refused by keyOf).
      members: () => this.memberIds(),
    });
    this.hal = createHal(c, Date.now(), p.halDrivers);
    // This device's own fence (device.yaml geofence), kept by its executor and its reflexes.
    const fence = c.geofence ? c.geofence.polygon.map(([northM, eastM]) => ({ northM, eastM })) : null;
    this.drops = new DropReport(this.log, this.metrics);
    this.consensusWarnings = new WarnBudget(
      (m) => this.log.warn(m),
      (count, since, now) => this.log.warn({ event: 'warnings-not-logged', count, sinceMs: now - since }, `${count} more consensus warnings not logged in the last ${Math.round((now - since) / 1000)} s (over 20, then 1 a second): a peer sends what consensus refuses`),
      Date.now(),
    );
    this.missions = new MissionRunner({ id: c.id, fleet, manifest: p.manifest, verifier: p.verifier, control: this.control, hal: this.hal, origin: c.origin, fence, log: this.log, metrics: this.metrics, submit: (b) => this.submitTx(b), storage: this.storage });
    this.agents = c.agents.enabled
      ? new (agentsSetupOf(p).DeviceAgents)({
          id: c.id,
          fleet,
          dir: join(c.dataDir, 'agents'),
          modelsDir: c.agents.modelsDir ?? join(c.dataDir, 'models'),
          engine: c.agents.engine,
          fence,
          devices: this.hal.devices,
          signer: this.signer,
          submit: (b) => this.submitTx(b),
          validators: p.manifest.validators.length,
          position: () => this.missions.positionM(),
          home: () => this.missions.homeM(),
          committed: () => ({ height: this.shell.core.chain.height, mission: this.missions.state, lastCommitMs: this.lastCommitMs }),
          // Local reflexes act at once through the HAL; they never wait for consensus (DESIGN.md).
          onAction: (action, agent, reason) => {
            // A reflex holding the drone off a mast fires every tick: logged when it starts, then at most
            // once per reflexLogEveryMs with how often it fired since.
            if (agent === 'mission-reflexes' && (action.type === 'return-to-launch' || action.type === 'land')) this.failsafes++;
            const key = `${agent}/${action.type}`;
            const now = Date.now();
            const seen = this.reflexLog.get(key);
            if (!seen || now - seen.atMs >= reflexLogEveryMs) {
              this.reflexLog.set(key, { atMs: now, fired: 0 });
              this.log.warn({ event: 'reflex', agent, action: action.type, reason, firedSince: seen?.fired ?? 0 }, `agent ${agent}: ${action.type}`);
            } else seen.fired++;
            // A return goes home round the keep-outs, as a committed rtl does; a return or a landing is
            // not undone by a re-plan of the mission the drone leaves (the executor knows of both).
            if (action.type === 'return-to-launch') this.missions.returnHome(reason);
            else if (action.type === 'land') this.missions.landHere(reason);
            else this.missions.reflexAction(action);
          },
          onObstacle: (_agent, at) => this.missions.sawObstacle(at),
          onRelease: (agent, reason) => {
            this.log.info({ event: 'reflex-release', agent, reason }, `agent ${agent}: ${reason}; resuming`);
            this.missions.resumeAfterReflex();
          },
          // A start refused before the agents ran (a port taken) stops them too: no "stopped" line for
          // agents that never started, before the one line that says why the start was refused.
          onReport: (r) => (r.kind === 'stopped' && !this.agentsStarted ? undefined : this.log.info({ event: 'agent', agent: r.agent, kind: r.kind, detail: r.message }, `agent ${r.agent} ${r.kind}`)),
        })
      : null;
    const send: ConsensusSend = (to, bytes) => void (to === null ? this.link.broadcast(bytes, 'consensus') : this.link.unicast(to, bytes, 'consensus'));
    this.shell = new NodeShell({
      id: c.id,
      genesis: p.genesis,
      config: { ...defaultConsensusConfig, ...(Object.fromEntries(Object.entries(c.consensus).filter(([, v]) => v !== undefined)) as Partial<ConsensusConfig>) },
      clock: { now: () => this.clock.now() },
      scheduler: { at: (atMs, fire) => this.at(atMs, fire) },
      storage: this.storage,
      send: hooks.consensusSend ? hooks.consensusSend(send) : send,
      announce: hooks.announce ? hooks.announce((env) => this.link.announce(env)) : (env) => this.link.announce(env),
      follow: (sources) => this.link.follow?.(sources),
      signer: this.signer,
      verifier: p.verifier,
      logger: { info: (m) => this.log.info(m), warn: (m) => this.consensusWarnings.warn(m, Date.now()), error: (m) => this.log.error(m) },
      snapshotEveryHeights: c.snapshots.everyHeights,
      onForeignSignature: (m) => {
        this.onIdentityConflict({ seen: 'signature', ...m });
        return this.state === 'stopping';
      },
      app: {
        commit: (cb) => {
          const now = Date.now();
          this.metrics.commitLatency.observe((now - this.lastCommitMs) / 1000);
          this.lastCommitMs = now;
          this.metrics.roundsPerHeight.observe(cb.certificate.round + 1);
          this.metrics.height.set(cb.block.height);
          this.metrics.txsCommitted.inc(cb.txs.length);
          this.keepGenesis();
          this.missions.onCommit(cb, this.shell);
          this.manifestProofs.onCommit(cb);
          // A fleet.update's manifest is about to come into force (or just did): heard at once.
          if (this.state === 'ready') this.followManifest();
        },
        exportState: () => this.missions.exportState(),
        importState: (bytes) => this.missions.importState(bytes),
        superseded: (kind, sender, body, nextHeight) => this.missions.superseded(kind, sender, body, nextHeight),
      },
    });
  }

  /** Whether genesis.manifest is in the data directory (written once, keepGenesis). */
  private genesisKept: boolean;

  /** Records the chain's genesis in the data directory once the chain has committed a block (by then
   *  the chain proved it: block 1 named it, or a certified snapshot holds it), so every later start
   *  replays from it whatever manifest device.yaml names (genesis-file.ts). */
  private keepGenesis(): void {
    const chain = this.shell.core.chain;
    if (this.genesisKept || chain.height === 0) return;
    this.storage.replace(genesisFile, (chain.committedManifests()[0] as Manifest).bytes);
    this.genesisKept = true;
  }

  /** The height and round every log line carries (a logger's mixin may call it mid-construction). */
  logPosition(): { height: number; round: number } {
    return { height: this.shell?.core.height ?? 0, round: this.shell?.core.round ?? 0 };
  }

  private memberIdsOf: { manifest: Manifest; ids: ReadonlySet<string> } | null = null;

  /** The manifests the links' peers and this device's standing were last taken from (followManifest). */
  private manifestsFollowed: { inForce: Manifest; latest: Manifest } | null = null;
  /** Why the manifest in force puts this device out of the fleet, once it does (membershipProblem). */
  private retiredBecause: string | null = null;

  /**
   * Follows the chain's manifest as fleet.updates change it: the links listen to the members of the
   * manifest in force and of one committed to come (MQTT subscribes per peer, so a member added later
   * was never heard before, and one removed stays unheard), and a manifest that drops this device or
   * lists another key for it stops it (retire). Called after the replay, on each commit and once a
   * second (a state sync installs manifests without a commit). Returns why this device is out, or null.
   */
  private followManifest(): string | null {
    const chain = this.shell.core.chain;
    const inForce = chain.manifestAt(chain.height + 1);
    const latest = chain.latestManifest();
    const before = this.manifestsFollowed;
    if (before?.inForce === inForce && before.latest === latest) return null;
    this.manifestsFollowed = { inForce, latest };
    const id = this.p.config.id;
    const peers = peersOf(id, [inForce, latest]);
    const had = new Set(before === null ? peersOf(id, [this.p.manifest]) : peersOf(id, [before.inForce, before.latest]));
    const added = peers.filter((x) => !had.has(x));
    const removed = [...had].filter((x) => !peers.includes(x));
    this.link.setPeers(peers);
    if (added.length > 0 || removed.length > 0) this.log.info({ event: 'peers', epoch: inForce.body.epoch, latestEpoch: latest.body.epoch, added, removed }, `fleet manifest epoch ${latest.body.epoch}: listening to ${peers.join(', ') || 'no one'}${added.length > 0 ? ` (added ${added.join(', ')})` : ''}${removed.length > 0 ? ` (no longer ${removed.join(', ')})` : ''}`);
    const problem = membershipProblem(id, this.signer.publicKey, this.p.manifest, inForce);
    if (problem !== null && this.state === 'ready') this.retire(problem);
    return problem;
  }

  /**
   * The manifest in force drops this device or lists another key for it. Going on would sign
   * heartbeats, telemetry and (a rotated key) votes every other device refuses as an unknown sender or
   * a bad signature, while its health said ok. It stops, as the identity guard does, and exits 3
   * (refused: the systemd unit does not restart it); its last retained status says why, and a new
   * start is refused with the same line until it gets its new key (and manifest) or is retired.
   */
  private retire(reason: string): void {
    if (this.retiredBecause !== null) return;
    this.retiredBecause = reason;
    if (this.hooks.retired) return this.hooks.retired(reason);
    this.log.fatal({ event: 'not-member', reason }, `${reason}; stopping: this device signs nothing more under a manifest that does not list its key`);
    void this.stop().finally(() => process.exit(3)); // murmur's "refused" (runtime/cli/kit.ts exitCodes)
  }

  /** The ids of the manifest in force, the same set while it stays in force. */
  private memberIds(): ReadonlySet<string> {
    const m = this.shell.core.chain.manifestAt(this.shell.core.height);
    if (this.memberIdsOf?.manifest !== m) this.memberIdsOf = { manifest: m, ids: new Set([...m.body.validators, ...m.body.followers].map((x) => x.id)) };
    return this.memberIdsOf.ids;
  }


  private at(atMs: number, fire: () => void): void {
    // Once stopping, nothing new is scheduled: frames still arriving while the links close must not
    // leave timers that touch the data directory after it is closed (or removed).
    if (this.state === 'stopping') return;
    const run = (): void => {
      this.pending.delete(cancel);
      this.guarded(fire);
    };
    // Due now (a command starting the next height early): right after this turn's I/O rather than
    // through a timer, whose 1 ms floor and loop granularity cost 1-2 ms on the commit path.
    const delay = atMs - this.clock.now();
    let cancel: () => void;
    if (delay <= 0) {
      const i = setImmediate(run);
      cancel = () => clearImmediate(i);
    } else {
      const t = setTimeout(run, delay);
      cancel = () => clearTimeout(t);
    }
    this.pending.add(cancel);
  }

  /** Another process holds this device's key (identity-guard.ts): the hook's answer, else stop. */
  private onIdentityConflict(k: IdentityConflict): void {
    (this.hooks.identityConflict ?? ((x: IdentityConflict) => this.identityConflict(x)))(k);
  }

  /**
   * Another process holds this device's key: it connected just now, or signed a message this one did
   * not (identity-guard.ts). Whichever of the two this is, going on would sign votes the other does
   * not know of: evidence against this device, or worse. It stops at once (no more input is taken from
   * here on) and exits 3 (refused: the systemd unit does not restart it); the other stops too when it
   * hears this one's birth or Will, or a vote of this one's it did not sign.
   */
  private identityConflict(k: IdentityConflict): void {
    if (this.state === 'stopping') return;
    this.log.fatal({ event: 'identity-conflict', ...k }, `${describeConflict(this.p.config.id, k)}; stopping before signing anything more, so the two never sign conflicting votes: run each device identity in one place only (a copied key, device.yaml or disk image does this)`);
    // The goodbye first: under a client id of its own the other process hears nothing else from here.
    void this.mqtt?.stop();
    void this.stop().finally(() => process.exit(3)); // murmur's "refused" (runtime/cli/kit.ts exitCodes)
  }

  /** An assertion inside consensus stops the node loudly; it restarts from its WAL (STYLE.md §6). A
   *  data-directory write that failed stops it too, saying which file and what to fix: nothing it
   *  could not record first (a vote's signer state, a block in the WAL) may go out, and an fsync that
   *  failed leaves the file's state unknown (the page cache may have dropped the write). It halts here,
   *  before this turn ends, and the next start (`murmur start` waits for the directory and makes it in
   *  the same process; else a supervisor's restart) recovers from what is durable. */
  private guarded(f: () => void): void {
    if (this.state === 'stopping') return;
    try {
      f();
    } catch (e) {
      if (e instanceof StorageError) {
        this.halt();
        if (this.o.onStorageFailed) return this.o.onStorageFailed(e); // it says so (once per kind)
        this.log.fatal({ event: 'storage-failed', code: e.code, file: e.file }, storageFailedMessage(this.p.config.dataDir, e));
        process.exit(74); // murmur's "storage" (runtime/cli/kit.ts exitCodes): a supervisor restarts it
      }
      this.log.fatal({ err: (e as Error).message }, 'invariant broken; stopping so a restart recovers from the WAL');
      process.exit(70);
    }
  }

  private every(ms: number, f: () => void): void {
    this.timers.push(setInterval(() => this.guarded(f), ms));
  }

  async start(): Promise<void> {
    const c = this.p.config;
    // What the device needs and another program may hold or a cable may lack first: the HAL's ports and
    // the HTTP port. Refused there (exit 5), the start has written nothing to the data directory. Before,
    // the format and a new session number were written first and stayed behind a refused start.
    await this.hal.start();
    const http = await startHttp(c.http.host, c.http.port, this.metrics, () => this.health(), () => this.refreshMetrics());
    this.httpServer = http.server;
    this.httpPort = http.port;
    // The first write to the directory: its format, so no older release takes what follows for its own.
    markDataFormat(this.storage, this.p.dataFormatFound);
    // Recover next: replaying the WAL rebuilds the chain and the mission state before the links, the
    // control plane and the agents see anything. A directory it refuses (a damaged snapshot: exit 2)
    // keeps the session number it had.
    this.missions.replaying = true;
    try {
      this.shell.boot();
    } catch (e) {
      if (e instanceof StorageError) throw e; // a write that failed, not a directory that is wrong
      // A directory an older release kept has no genesis.manifest: its chain was replayed under the
      // manifest device.yaml names, which is not the one the chain started from.
      const fix = this.p.genesisKept || !(e instanceof GenesisMismatchError) ? '' : `; this data directory keeps no ${genesisFile} (an older release's): start the device once with the manifest the fleet started from (its first fleet.manifest), which records it, or move the data directory aside to join the fleet by state sync`;
      throw new DataDirectoryError(`${(e as Error).message}${fix}`);
    } finally {
      this.missions.replaying = false;
    }
    // The manifest device.yaml names is a trust anchor: the chain must have committed it.
    const chain = this.shell.core.chain;
    const given = givenManifestProblem(this.p.manifest, chain.committedManifests(), chain.height);
    if (given !== null) throw new DataDirectoryError(given);
    this.keepGenesis();
    // Its fleet, named once the chain in it has been read under this manifest (a directory with no
    // name yet: new, or an older release's). Named before the replay, a start its snapshot's check then
    // refused (another authority's manifest) left the directory named for that manifest's fleet, and
    // refused its own fleet's manifest from then on.
    markDataFleet(this.storage, c.dataDir, dataFleetOf(this.p.manifest.body.fleet, this.p.manifest.body.authority));
    // The chain's manifest in force, not only the configured file, says who this device listens to and
    // whether it still belongs to the fleet.
    const notMember = this.followManifest();
    if (notMember !== null) throw new NotMemberError(`${notMember}; give this device its new key and the manifest that lists it (device.yaml: key, manifest), or retire it`);
    // The session number grows on every start, even after the data directory was wiped
    // (session-number.ts; heartbeats and link birth/death use it): durable before anything carries it.
    this.storage.replace('session', Buffer.from(String(this.session)));
    this.link.onReceive((f) => {
      if (this.state === 'stopping') return;
      this.hooks.received?.(f.bytes);
      this.guarded(() => this.onFrame(f));
    });
    await this.agents?.start(Date.now());
    this.agentsStarted = true;
    this.control.onCommand((bytes, framed) => this.guarded(() => this.missions.explain(bytes, this.shell, framed)));
    this.control.start();
    this.missions.resumeOwnTask();
    await this.link.start();
    // Stopped while the links came up (another process holds this key: identityConflict): nothing more.
    if ((this.state as string) === 'stopping') return;
    // One link of several failed to start (a radio whose port is not there at boot): the device runs on
    // the others, and says which one it runs without and why (a port failing at start is a configuration
    // error, not retried; before, this was silent while MQTT came up).
    for (const [link, reason] of this.link.startErrors) this.log.error({ event: 'link-start-failed', link, reason }, `link ${link} did not start: ${reason}; this device runs without it until restarted`);
    this.heartbeats.start();
    this.every(100, () => this.tick());
    this.every(c.telemetry.periodMs, () => this.sendTelemetry());
    this.every(statusMs, () => {
      const now = Date.now();
      this.drops.linkFrames(this.link.linkStates(), now);
      this.drops.report(now);
      this.consensusWarnings.report(now);
      this.missions.reportRefusals(now);
      this.watchStall();
      this.watchHal();
      this.followManifest();
      this.control.status(this.status());
    });
    this.state = 'ready';
    if (this.p.verifier.backend !== 'sodium-native') this.log.warn({ event: 'crypto-fallback', reason: nativeLoadError() }, 'sodium-native did not load; signing and verifying on libsodium-wrappers (slower)');
    this.log.info({ event: 'ready', startMs: Date.now() - this.startedAt, http: `http://${c.http.host}:${this.httpPort}`, heartbeats: describePlan(this.p.heartbeats), height: this.shell.core.chain.height, role: this.p.role, crypto: this.p.verifier.backend }, 'ready');
  }

  private onFrame(f: ReceivedFrame): void {
    const bytes = f.bytes;
    const raw = decodeEnvelope(bytes);
    if (!raw.ok) {
      // Not an envelope inside a good link frame (the frame's CRC and fleet tag are right): a peer's bug
      // or someone who knows the frame format. Before, dropped without a trace.
      this.drops.envelope(raw.error, { link: f.link, from: f.from });
      return;
    }
    switch (raw.value.kind) {
      case 'manifest':
        // Only the manifest a committed fleet.update named counts (ChainState.pendingManifests): any
        // other, authority-signed or not, is dropped here unchecked.
        if (this.shell.core.chain.pendingManifest(hash(bytes)) === undefined) {
          this.drops.envelope({ code: 'not-needed', message: 'a manifest no committed fleet.update names' }, { link: f.link, from: f.from, kind: 'manifest' });
          return;
        }
        if (this.missions.intake(bytes, this.shell)) this.shell.receive(bytes);
        return;
      case 'command':
        if (this.missions.intake(bytes, this.shell)) this.shell.receive(bytes);
        return;
      case 'heartbeat': // the HeartbeatService hears every copy on each link itself
      case 'ack':
        return;
      default: {
        const why = this.shell.receiveOrDrop(bytes, f.announced === true);
        if (why) this.drops.envelope(why, { link: f.link, from: f.from, sender: raw.value.sender, kind: raw.value.kind });
      }
    }
  }

  /** Puts a tx into this node's mempool and gossips it, so whoever proposes next can include it. */
  private submitTx(envelope: Uint8Array): void {
    if (this.state === 'stopping') return; // halted: nothing more is signed or sent from here
    if (this.submitHooked === null) {
      const direct = (e: Uint8Array): void => {
        this.link.broadcast(e, 'telemetry');
        this.shell.receive(e);
      };
      this.submitHooked = this.hooks.txSubmit?.(direct) ?? direct;
    }
    this.submitHooked(envelope);
  }

  private submitHooked: ((envelope: Uint8Array) => void) | null = null;

  private tick(): void {
    const now = Date.now();
    this.hal.step(now);
    this.agents?.tick(now);
    if (this.hal.devices.led && now - this.ledShownMs >= ledRefreshMs) this.showHealth(this.hal.devices.led, now);
    this.metrics.round.set(this.shell.core.round);
    // While consensus rides only the radio, proposals stay small enough to arrive whole.
    this.shell.core.txBytesBudget = this.link.blockTxBytesHint ?? blockTxBytesMax;
  }

  /** What this device says about itself in each heartbeat. */
  private localState(): { height: number; round: number; health: Health; position: [number, number, number] | null; batteryPct: number | null } {
    const pos = this.missions.positionM();
    const batt = this.missions.batteryPermille();
    return {
      height: this.shell.core.height,
      round: this.shell.core.round,
      health: this.selfHealth().health,
      // A hint (heartbeat.ts), whose three numbers older devices require: none while the height is not
      // known, rather than a held or drifting one.
      position: pos && pos.upM !== null ? [round1(pos.northM), round1(pos.eastM), round1(pos.upM)] : null,
      batteryPct: batt < 0 ? null : Math.round(batt / 10),
    };
  }

  /** The status LED follows the device's health: a heartbeat when ok, a slow blink when degraded, a fast
   *  one when failing. A failed write is logged once per distinct error and retried next time. */
  private showHealth(led: StatusLed, now: number): void {
    this.ledShownMs = now;
    const pattern = ledPatternOf(this.selfHealth().health);
    if (JSON.stringify(led.current()) === JSON.stringify(pattern)) return;
    const r = led.set(pattern);
    if (!r.ok && r.error.message !== this.ledError) this.log.warn({ event: 'led-error', reason: r.error.message }, `status LED: ${r.error.message}`);
    this.ledError = r.ok ? '' : r.error.message;
  }

  /** The device's own health from its links, agents, failsafes and HAL (device-health.ts), and the
   *  fleet's stall as this validator sees it. */
  selfHealth(): HealthAssessment {
    const core = this.shell.core;
    const now = Date.now();
    const facts = deviceFacts(this.link.linkStates(), this.agents, this.hal.devices, now, core.isValidator() ? clockAheadOfNode(core) : null, core.isValidator() ? clockSetter(core) : null);
    return assessHealth({ ...facts, stall: this.stalled ? describeStall(this.stalled) : null, noDataMs: this.noData.observe(facts.hal, performance.now()), notMember: this.retiredBecause });
  }

  /** How long the HAL's flight controller and position have been silent (device-health.ts). */
  private readonly noData = new NoDataClock();
  private readonly halWatch = new HalWatch();

  /** Once a second: a HAL device whose answer changed kind (its port gone, back, a fix lost) is logged. */
  private watchHal(): void {
    const hal = halFacts(this.hal.devices).hal;
    const now = performance.now();
    this.watchFcFrames(now);
    for (const ch of this.halWatch.changes(hal, now, this.noData.observe(hal, now))) {
      if (ch.to === null) this.log.info({ event: 'hal', device: ch.kind, from: ch.from, to: 'ok' }, `${ch.kind}: answering again`);
      else if (ch.silentMs !== undefined) this.log.warn({ event: 'hal', device: ch.kind, from: 'start', to: ch.to }, `${ch.kind}: no data since the start, ${Math.round(ch.silentMs / 1000)} s (${ch.message ?? ''})`);
      else this.log.warn({ event: 'hal', device: ch.kind, from: ch.from ?? 'ok', to: ch.to }, `${ch.kind}: ${ch.to} (${ch.message ?? ''})`);
    }
  }

  /** The flight controller link's CRC failures counted at the last report, and when (monotonic ms). */
  private fcBadCrc = { counted: 0, atMs: Number.NEGATIVE_INFINITY };

  /** Frames from the flight controller that fail the CRC check, said at most once a minute with how many
   *  and out of how many: without it a bad cable or noise on the FC's wire showed nowhere (its health
   *  stayed ok while the corrupt frames were dropped one by one). */
  private watchFcFrames(now: number): void {
    const c = this.hal.fcLinkCounters?.();
    if (c === undefined || now - this.fcBadCrc.atMs < 60_000) return;
    const bad = c['badCrc'] ?? 0;
    const fresh = bad - this.fcBadCrc.counted;
    if (fresh <= 0) return;
    this.log.warn({ event: 'fc-link', badCrc: fresh, framesReceived: c['framesReceived'] ?? 0 }, `flight controller link: ${fresh} frames failed the CRC check since ${this.fcBadCrc.counted === 0 ? 'the start' : 'the last report, a minute or more ago'} (${c['framesReceived'] ?? 0} good frames in all): check the cable, its shielding and the baud rate; murmur_fc_link{counter="badCrc"} counts them`);
    this.fcBadCrc = { counted: bad, atMs: now };
  }

  /** The chain height last seen, and when (monotonic ms). */
  private lastBlock = { height: -1, atMs: 0 };
  /** While a validator's fleet commits nothing for longer than stallAfterMs: who it hears (stall.ts). */
  private stalled: StallView | null = null;

  /** Each link's up-state at the last look, and when it went down in the last minute (monotonic ms). */
  private readonly linkWatch = new Map<string, { up: boolean; disconnects: number | undefined; drops: number[] }>();

  /** This device's links that are down, or went down more than once in the last minute (looked at once
   *  a second, from watchStall): what a stall line says first, since then this device may be the one
   *  cut off (a client id taken over, a flapping broker or radio) rather than the validators it misses. */
  private unsteadyLinks(now: number): string[] {
    const out: string[] = [];
    for (const l of this.link.linkStates()) {
      const counted = (l.counters as Partial<LinkCountersDetail>).disconnects;
      const w = this.linkWatch.get(l.name) ?? { up: l.up, disconnects: counted, drops: [] as number[] };
      // A link that counts its drops (MQTT) is read by the count: a connection taken over is down for
      // 100-200 ms, which a look at `up` once a second mostly misses.
      if (counted !== undefined) {
        for (let k = Math.max(w.disconnects ?? counted, counted - 100); k < counted; k++) w.drops.push(now);
        w.disconnects = counted;
      } else if (w.up && !l.up) w.drops.push(now);
      w.up = l.up;
      w.drops = w.drops.filter((t) => now - t < 60_000);
      this.linkWatch.set(l.name, w);
      if (!l.up) out.push(`${l.name} down`);
      else if (w.drops.length > 1) out.push(`${l.name} dropped ${w.drops.length} times in 60 s`);
    }
    return out;
  }

  /** Once a second: a stall begins (said once, with who is missing) or ends (said with how long). */
  private watchStall(): void {
    const core = this.shell.core;
    const now = performance.now();
    const ownLinks = this.unsteadyLinks(now);
    if (core.chain.height !== this.lastBlock.height) {
      const forS = Math.floor((now - this.lastBlock.atMs) / 1000);
      if (this.stalled !== null) this.log.info({ event: 'stall-over', forS }, `blocks again: height ${core.chain.height} committed after ${forS} s without one`);
      this.lastBlock = { height: core.chain.height, atMs: now };
      this.stalled = null;
      return;
    }
    const forMs = now - this.lastBlock.atMs;
    if (forMs <= stallAfterMs(core.p.config)) return;
    const first = this.stalled === null;
    const down = new Set(Object.entries(this.peerStatuses()).flatMap(([id, st]) => (st === 'dead' || st === 'suspect' ? [id] : [])));
    const view = stallView(core, forMs, down);
    this.stalled = view !== null && ownLinks.length > 0 ? { ...view, ownLinks } : view;
    if (first && this.stalled !== null) this.log.warn({ event: 'stall', stall: this.stalled }, describeStall(this.stalled));
  }

  private onMembershipChange(ch: StatusChange): void {
    const level = ch.to === 'dead' || ch.to === 'suspect' ? 'warn' : 'info';
    this.log[level]({ event: 'membership', peer: ch.id, from: ch.from, to: ch.to }, `peer ${ch.id} ${ch.to}`);
  }

  private sendTelemetry(): void {
    this.checkLostAfter();
    const facts = this.missions.telemetryFacts();
    if (!facts) return;
    // Signed only when it says something new, and on the radio alone only every few periods
    // (telemetry-gate.ts): twenty devices' 1 Hz reports filled blocks a 57600-baud radio took seconds
    // to carry. Positions still travel in heartbeats.
    const radioOnly = this.radios.length > 0 && this.mqtt !== undefined && !this.mqtt.isUp();
    const body = { node: this.p.config.id, session: this.session, seq: this.telemetrySeq, ...facts };
    if (this.telemetryGate.due(facts, radioOnly)) {
      this.telemetrySeq++;
      this.submitTx(sealEnvelope('telemetry', this.p.manifest.body.fleet, this.p.config.id, encodeTelemetryBody(body), this.signer));
    }
    // The device's own report: its height not known, none (altDm and altM null, heightUnknown true),
    // not the held number the signed body carries for the committed state (telemetryFacts).
    const height = body.heightUnknown ? { altDm: null, altM: null } : { altM: body.altDm / 10 };
    if (!radioOnly) this.control.telemetry({ ...body, northM: body.northDm / 10, eastM: body.eastDm / 10, ...height, timeMs: Date.now() });
  }

  /** A device with a radio may have to report on it alone (broker down), at a slower cadence than the
   *  committed lostAfterS may allow for (telemetry-gate.ts). lostAfterS takes only a drone with an
   *  unfinished part of the committed mission for lost (reassign.ts), so it says so while it has one,
   *  once per mission and value: at start, and on a fleet that sets the value before its missions, it
   *  warned every time about a mission that might never come. */
  private checkLostAfter(): void {
    if (this.radios.length === 0) return;
    const s = this.missions.state;
    const m = s.mission;
    const id = this.p.config.id;
    if (!m || m.done.includes(id) || !m.assignments.some((a) => a.node === id)) return;
    const lostAfterS = paramOf(s.params, 'lostAfterS');
    const key = `${m.id} ${lostAfterS}`;
    if (key === this.lostAfterChecked) return;
    this.lostAfterChecked = key;
    const problem = lostAfterRadioProblem(lostAfterS, this.p.config.telemetry.periodMs);
    if (problem) this.log.warn({ event: 'lost-after-short', mission: m.id, lostAfterS, periodMs: this.p.config.telemetry.periodMs }, problem);
  }

  private peerStatuses(): Record<string, 'alive' | 'suspect' | 'dead' | 'recovered'> {
    const out: Record<string, 'alive' | 'suspect' | 'dead' | 'recovered'> = {};
    for (const v of this.membership.snapshot(this.heartbeats.now())) out[v.id] = v.status;
    return out;
  }

  status(): StatusJson {
    const core = this.shell.core;
    const pos = this.missions.positionM();
    const batt = this.missions.batteryPermille();
    const fcFence = this.hal.devices.flight?.fenceStatus?.() ?? null;
    const handedOver = this.missions.handedOver();
    return {
      node: this.p.config.id,
      role: this.p.role,
      state: this.state,
      height: core.chain.height,
      round: core.round,
      proposer: core.proposer(core.round),
      epoch: core.chain.manifestAt(core.height).body.epoch,
      peers: this.peerStatuses(),
      batteryPct: batt < 0 ? null : Math.round(batt / 10),
      position: pos ? { northM: round1(pos.northM), eastM: round1(pos.eastM), upM: pos.upM === null ? null : round1(pos.upM) } : null,
      mission: this.missions.missionSummary(),
      ...(handedOver !== null ? { handedOver } : {}),
      evidence: core.chain.evidence.slice(-statusEvidenceMax).map((e) => ({ culprit: e.culprit, height: e.height, round: e.round, vote: e.vote, committedAt: e.committedAt })),
      hazards: this.missions.committedHazards(statusHazardsMax),
      failsafes: this.failsafes,
      ...(this.radios.length > 0 ? { relayedFirst: this.link.relayedFirst } : {}),
      dropped: droppedTotals(this.drops.envelopeCounts(), this.link.linkStates()),
      stateSync: { installs: core.sync.restored, refused: core.sync.rejected },
      blockSources: isLight(core) ? [...core.light.sources] : null,
      ...(fcFence ? { fcFence } : {}),
      agents: this.agents?.status() ?? [],
      ...(this.stalled !== null ? { stall: this.stalled } : {}),
      ...(this.retiredBecause !== null ? { notMember: this.retiredBecause } : {}),
      timeMs: Date.now(),
    };
  }

  health(): HealthView {
    const core = this.shell.core;
    const self = this.selfHealth();
    const cp = core.sync.served[core.sync.served.length - 1];
    const counts = { alive: 0, suspect: 0, dead: 0 };
    for (const s of Object.values(this.peerStatuses())) counts[s === 'recovered' ? 'alive' : s]++;
    return {
      node: this.p.config.id,
      ready: this.state === 'ready',
      height: core.chain.height,
      round: core.round,
      proposer: core.proposer(core.round),
      peers: counts,
      links: Object.fromEntries(this.link.linkStates().map((l) => [l.name, { up: l.up }])),
      mission: this.missions.missionSummary()?.id ?? null,
      health: self.health,
      healthReasons: self.reasons,
      checkpoint: cp ? { height: cp.height, appHash: toHex(cp.commitment) } : null,
      stateSync: { installs: core.sync.restored, refused: core.sync.rejected },
      agents: this.agents?.status() ?? [],
      dropped: {
        envelopes: this.drops.envelopeCounts(),
        frames: Object.fromEntries(this.link.linkStates().map((l) => [l.name, { ...badFramesOf(l.counters) }])),
        duplicates: Object.fromEntries(this.link.linkStates().map((l) => [l.name, l.duplicates])),
      },
    };
  }

  private refreshMetrics(): void {
    const h = this.health();
    const blockAgeMs = this.shell.core.chain.height === this.lastBlock.height ? performance.now() - this.lastBlock.atMs : 0;
    this.metrics.blockAge.set(Math.floor(blockAgeMs / 100) / 10);
    this.metrics.stalled.set(this.stalled !== null ? 1 : 0);
    for (const state of ['ok', 'degraded', 'failing'] as const) this.metrics.health.set({ state }, h.health === state ? 1 : 0);
    for (const l of this.link.linkStates()) this.metrics.linkUp.set({ link: l.name }, l.up ? 1 : 0);
    for (const [k, v] of Object.entries(h.peers)) this.metrics.peers.set({ status: k }, v);
    this.metrics.checkpointHeight.set(h.checkpoint?.height ?? 0);
    this.metrics.stateSync.set({ outcome: 'installed' }, h.stateSync.installs);
    this.metrics.stateSync.set({ outcome: 'refused' }, h.stateSync.refused);
    this.metrics.setAgents(h.agents);
    this.metrics.signatureChecks.set({ outcome: 'verified' }, this.p.verifier.misses);
    this.metrics.signatureChecks.set({ outcome: 'remembered' }, this.p.verifier.hits);
    this.drops.linkFrames(this.link.linkStates());
    for (const r of this.radios) this.metrics.linkReopens.set({ link: r.name }, r.reopens);
    for (const [counter, v] of Object.entries(this.hal.fcLinkCounters?.() ?? {})) this.metrics.fcLink.set({ counter }, v);
    for (const { name: l, counters: lc } of this.link.linkStates()) {
      this.metrics.linkFrames.set({ link: l, direction: 'sent' }, lc.framesSent);
      this.metrics.linkFrames.set({ link: l, direction: 'received' }, lc.framesReceived);
      this.metrics.linkBytes.set({ link: l, direction: 'sent' }, lc.bytesSent);
      this.metrics.linkBytes.set({ link: l, direction: 'received' }, lc.bytesReceived);
      this.metrics.linkDropped.set({ link: l, reason: 'queue-full' }, lc.droppedQueueFull);
      this.metrics.linkDropped.set({ link: l, reason: 'bad-frame' }, lc.droppedBadFrame);
      if ('droppedStale' in lc) this.metrics.linkDropped.set({ link: l, reason: 'stale' }, (lc as { droppedStale: number }).droppedStale);
      // Not lost: a copy of the same envelope was still waiting for the air.
      if ('coalesced' in lc) this.metrics.linkDropped.set({ link: l, reason: 'coalesced' }, (lc as { coalesced: number }).coalesced);
      // Not lost either: a radio's relay cancelled because enough neighbours had sent the packet.
      if ('relaysSuppressed' in lc) this.metrics.linkDropped.set({ link: l, reason: 'relay-suppressed' }, (lc as { relaysSuppressed: number }).relaysSuppressed);
      // A radio's relays of others' frames, and the frames it would not relay (origin no member of the
      // fleet, or that origin's relays past their share of the airtime).
      if ('relayed' in lc) this.metrics.linkRelayed.set({ link: l }, (lc as { relayed: number }).relayed);
      if ('relaysRefused' in lc) this.metrics.linkDropped.set({ link: l, reason: 'relay-refused' }, (lc as { relaysRefused: number }).relaysRefused);
    }
  }

  /** Takes no more input and fires no more timers, at once (the first, synchronous part of stop()). */
  private halt(): void {
    this.state = 'stopping';
    this.heartbeats.stop();
    for (const t of this.timers) clearInterval(t);
    for (const cancel of this.pending) cancel();
    this.pending.clear();
    this.missions.stop();
  }

  /** SIGTERM: stop taking input, stop timers, say goodbye on MQTT, close files. `refused`: a start that
   *  failed (its one-line error says why), so no `stopped` line comes before that error. */
  async stop(o: { readonly refused?: boolean } = {}): Promise<void> {
    this.halt();
    await this.agents?.stop(Date.now());
    // A broker that died with us would leave a QoS 1 goodbye waiting forever: bound each step.
    // The last status stays retained: it says the device went offline (as its Will does after an
    // unclean loss), with what it last knew, not "stopping" for as long as the device stays off.
    await withinMs(this.control.stop({ ...this.status(), state: 'offline' }), stopStepMs);
    await withinMs(this.link.stop(), stopStepMs);
    for (const cancel of this.pending) cancel();
    this.pending.clear();
    this.hal.devices.led?.set({ type: 'off' });
    try {
      await this.hal.stop();
      await new Promise<void>((r) => (this.httpServer ? this.httpServer.close(() => r()) : r()));
      this.storage.close();
    } finally {
      // Whatever failed above, the directory is free for the next start.
      await this.p.lock?.release();
    }
    if (o.refused !== true) this.log.info({ event: 'stopped' }, 'stopped');
  }
}

const round1 = (x: number): number => Math.round(x * 10) / 10;

const stopStepMs = 1_500;

function creds(c: DeviceConfig): { username?: string; password?: string } {
  return { ...(c.mqtt.username !== undefined ? { username: c.mqtt.username } : {}), ...(c.mqtt.password !== undefined ? { password: c.mqtt.password } : {}) };
}

