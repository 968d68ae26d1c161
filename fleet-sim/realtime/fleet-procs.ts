// The real fleet for real-time mode: keys and a signed manifest in a temporary directory, one
// device.yaml per device, the embedded aedes broker (with a credential per device) or an external
// broker, and one `murmur start` child process per device, started, killed and restarted by PID.

import type { ChildProcess } from 'node:child_process';
import { cpSync, existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { randomBytes } from 'node:crypto';
import { createSigner, createVerifier, generateKeyPair, initCrypto, type KeyPair, type Signer } from '../../runtime/crypto/sodium.js';
import { writeKeyFile } from '../../runtime/crypto/key-file.js';
import { unwrap } from '../../runtime/lib/result.js';
import { signManifest, type Manifest } from '../../runtime/manifest/manifest.js';
import { EmbeddedBroker } from '../../runtime/links/broker.js';
import { hashPasswordAsync, type BrokerCredential } from '../../runtime/links/broker-acl.js';
import type { Obstacle } from '../../hal/sim/obstacles.js';
import { aheadFile, walFile } from '../../runtime/node/shell.js';
import { signerStateFile } from '../../runtime/node/signer-guard.js';
import { encodeWalRecord, readWal } from '../../runtime/node/wal.js';
import { padPosition, type FlightWorld } from '../flight/flight-layer.js';
import type { ClassPolicy } from '../../runtime/links/router.js';
import type { TrafficClass } from '../../runtime/links/link.js';
import { loadDeviceConfig } from '../../runtime/config/device-config.js';
import { Device, openDevice, type DeviceHooks, type DeviceParts } from '../../runtime/device/device.js';
import { keepTempDir, ownedTempDir, spawnTied } from '../../firmware-bridge/tools/processes.js';
import { describeConflict } from '../../runtime/device/identity-guard.js';
import { nodeId, type RadioModel } from '../scenario/scenario.js';
import { memoVerifier, type MemoVerifier } from '../../runtime/crypto/memo-verifier.js';
import { limits } from '../../runtime/lib/limits.js';
import { DeviceLogFile } from './device-log-file.js';
import { installRoot } from '../../runtime/lib/install-root.js';

/** The clone's or the release's root: devices start through its bin/murmur.js, from source or built as this process. */
const launchRoot = installRoot(import.meta.url);
// Twenty Node processes starting on two busy cores can take most of a minute before the last is ready.
const readyTimeoutMs = 90_000;

export interface RealDevice {
  readonly index: number;
  readonly id: string;
  readonly config: string;
  proc: ChildProcess | null;
  /** The device when it runs inside this process (no --processes). */
  inproc: Device | null;
  output: string;
  /** Set while fleet-sim itself stops the device's process (a crash fault, a restart, the teardown). */
  stopping?: boolean;
}

export interface FleetProcsOptions {
  readonly validators: number;
  readonly followers: number;
  /** External broker (e.g. Mosquitto); null starts the embedded aedes broker on a free port. */
  readonly brokerUrl: string | null;
  /** One OS process per device (crash = SIGKILL); otherwise every device runs in this process. */
  readonly processes: boolean;
  readonly fleet?: string;
  /** Each device's serial radio: the scenario's radio model and the pty path device i opens. */
  readonly radio?: { readonly model: RadioModel; readonly path: (i: number) => string };
  /** The embedded broker asks this for each delivery of device traffic (partitions, loss, twins). */
  readonly forward?: (from: string, to: string, toClient: string) => boolean;
  /** Devices that run in this process even with `processes` (Byzantine nodes: their hooks live here). */
  readonly inProcess?: (i: number) => boolean;
  /** Hooks for an in-process device (fleet-sim's Byzantine wrappers), given its opened parts. */
  readonly hooks?: (i: number, parts: DeviceParts) => DeviceHooks | undefined;
  /** Hardware in the loop: the pty of the flight controller device i drives over MAVLink, if any. */
  readonly hil?: { readonly path: (i: number) => string | undefined; readonly autopilot: string; readonly baud: number };
  /** Where the devices running in this process write their logs (JSON lines, all devices, info level);
   *  without it they print warnings and errors on standard output. */
  readonly deviceLog?: string;
  /** Where a device that runs as its own process keeps its output (device-log-file.ts; at most
   *  2 x limits.fleetSimDeviceLogBytesMax each): the report directory, so a failure can be read after
   *  the run, when the fleet's temporary directory is gone. Absent: only the last 100-200 kB in memory. */
  readonly processLogs?: (id: string) => string;
  /** The clone or release whose bin/murmur.js starts each device process (with `processes`); default:
   *  the one this module is in (installRoot), so devices run from source or built as fleet-sim does. */
  readonly launchRoot?: string;
  /** Roles of the operator "ops" in the manifest (the scenario's operator.roles; default operator). */
  readonly operatorRoles?: readonly ('operator' | 'admin')[];
  /** The devices' router policy per traffic class (the scenario's links.policy). */
  readonly policy?: Readonly<Partial<Record<TrafficClass, ClassPolicy>>>;
  /** Obstacles every simulated vehicle's range ring sees (the scenario's world.hazards). */
  readonly obstacles?: readonly Obstacle[];
  /** A device process that was ready exited without fleet-sim stopping it (it died, or someone else
   *  killed it): the run must say so, or a scenario's crash could land on a device already dead. */
  readonly onExit?: (d: RealDevice, code: number | null, signal: NodeJS.Signals | null) => void;
  /** Each simulated vehicle's pack, Wh (the scenario's world.batteryWh; default the vehicle's 100). */
  readonly batteryWh?: number;
  /** Where the drones wait (the scenario's world.pads; default a 6 m grid south-west of the origin). */
  readonly pads?: FlightWorld['pads'];
  /** The scenario's checkpoint interval, block-sync window and disk-snapshot interval (heights), when it
   *  sets them (device.yaml consensus.checkpointEveryHeights, consensus.syncWindowHeights,
   *  snapshots.everyHeights), and how many validators a follower takes blocks from
   *  (consensus.followerSources); the devices' defaults otherwise. */
  readonly checkpoints?: { readonly everyHeights?: number; readonly syncWindowHeights?: number; readonly snapshotEveryHeights?: number; readonly followerSources?: number };
  /** The fence every device keeps to on its own (the scenario's world.geofence), [north, east] metres. */
  readonly geofence?: readonly (readonly [number, number])[];
}

/** Signature checks the in-process devices remember together, and the bytes they may hold (a Byzantine
 *  device sending large blocks must not grow it without bound); cleared when full (only costs time). */
const verifyMemoEntriesMax = 50_000;
const verifyMemoBytesMax = 32 * 1024 * 1024;

export class FleetProcs {
  /** Keys, configs and the devices' data; removed at teardown, or by a later run if this one is killed. */
  readonly dir = ownedTempDir('murmur-fleet-sim-');
  readonly devices: RealDevice[] = [];
  readonly fleet: string;
  manifest!: Manifest;
  private authority!: Signer;
  private keys: KeyPair[] = [];
  private epoch = 1;
  operator!: KeyPair & { id: string };
  /** An observer in the manifest: it may read, not command (fleet-sim's attacker signs with its key). */
  observer!: KeyPair & { id: string };
  operatorPassword = '';
  brokerUrl = '';
  private broker: EmbeddedBroker | null = null;
  /** Settles when the last broker stopped has let its port go. */
  private brokerStopped: Promise<void> = Promise.resolve();
  private credentials: BrokerCredential[] = [];
  private brokerPort = 0;
  /** The log files of devices run as their own processes (processLogs), by id. */
  private readonly logFiles = new Map<string, DeviceLogFile>();
  /** Shared by the devices running in this process (see launch). */
  private verifier: MemoVerifier | undefined;

  /** Signature checks of the in-process devices: done for real, and answered from the shared memo. */
  verifyCounts(): { checked: number; remembered: number } | null {
    return this.verifier ? { checked: this.verifier.misses, remembered: this.verifier.hits } : null;
  }

  constructor(private readonly o: FleetProcsOptions) {
    this.fleet = o.fleet ?? 'fleetsim';
  }

  static idOf(index: number, validators: number): string {
    return nodeId(index, validators);
  }

  async setup(): Promise<void> {
    await initCrypto();
    const n = this.o.validators + this.o.followers;
    const keys: KeyPair[] = [];
    const passwords: string[] = [];
    for (let i = 0; i < n; i++) {
      const id = FleetProcs.idOf(i, this.o.validators);
      const kp = generateKeyPair();
      keys.push(kp);
      unwrap(await writeKeyFile(join(this.dir, 'keys', `${id}.key`), { id, ...kp }));
      passwords.push(randomBytes(12).toString('hex'));
    }
    this.operator = { id: 'ops', ...generateKeyPair() };
    this.observer = { id: 'watch', ...generateKeyPair() };
    this.operatorPassword = randomBytes(12).toString('hex');
    const authority = createSigner(generateKeyPair());
    this.authority = authority;
    this.keys = keys;
    const ids = keys.map((_, i) => FleetProcs.idOf(i, this.o.validators));
    this.manifest = unwrap(
      signManifest(
        {
          fleet: this.fleet,
          epoch: 1,
          authority: authority.publicKey,
          validators: ids.slice(0, this.o.validators).map((id, i) => ({ id, publicKey: (keys[i] as KeyPair).publicKey, power: 1 })),
          followers: ids.slice(this.o.validators).map((id, j) => ({ id, publicKey: (keys[this.o.validators + j] as KeyPair).publicKey })),
          operators: [
            { id: 'ops', publicKey: this.operator.publicKey, roles: [...(this.o.operatorRoles ?? ['operator'])] },
            { id: this.observer.id, publicKey: this.observer.publicKey, roles: ['observer'] },
          ],
          createdAt: Date.now(),
        },
        authority,
      ),
    );
    writeFileSync(join(this.dir, 'fleet.manifest'), this.manifest.bytes);
    if (this.o.deviceLog !== undefined && ids.some((_, i) => this.runsHere(i))) {
      mkdirSync(dirname(this.o.deviceLog), { recursive: true });
      writeFileSync(this.o.deviceLog, ''); // this run's lines only
    }
    // Hashed in libuv's thread pool, all at once: one scrypt is ~60 ms here, 1.3 s for 21 one after another.
    const hashes = await Promise.all([...passwords, this.operatorPassword].map((p) => hashPasswordAsync(p)));
    this.credentials = [
      ...ids.map((id, i) => ({ id, role: 'device' as const, fleet: this.fleet, passwordHash: hashes[i] as string })),
      { id: 'ops', role: 'operator' as const, fleet: this.fleet, passwordHash: hashes[ids.length] as string },
    ];
    if (this.o.brokerUrl === null) await this.startBroker();
    else this.brokerUrl = this.o.brokerUrl;
    const embedded = this.o.brokerUrl === null;
    ids.forEach((id, i) => {
      const config = join(this.dir, `${id}.yaml`);
      const creds = embedded ? `, username: ${id}, password: "${passwords[i]}"` : '';
      const r = this.o.radio;
      const start = this.startPosition(i);
      const hilPath = this.o.hil?.path(i);
      writeFileSync(
        config,
        [
          `id: ${id}`,
          `key: keys/${id}.key`,
          'manifest: fleet.manifest',
          `dataDir: data/${id}`,
          `mqtt: { url: "${this.brokerUrl}"${creds} }`,
          ...(r ? [`radios: [{ paths: ["${r.path(i)}"], baud: ${r.model.baud}, packetBytes: ${r.model.mtuBytes}, hopLimit: ${r.model.hopLimit}${r.model.relaySuppress !== undefined ? `, relaySuppress: ${r.model.relaySuppress}` : ''}${r.model.relayJitterMs !== undefined ? `, relayJitterMs: ${r.model.relayJitterMs}` : ''} }]`] : []),
          ...(this.o.policy ? [`routing: ${JSON.stringify(this.o.policy)}`] : []),
          ...(this.o.geofence ? [`geofence: { polygon: ${JSON.stringify(this.o.geofence)} }`] : []),
          ...this.checkpointLines(),
          'http: { port: 0 }',
          // In one process the devices' logs would drown the progress output: to a file, or warnings only.
          this.runsHere(i) && this.o.deviceLog !== undefined ? `log: { level: info, file: ${JSON.stringify(resolve(this.o.deviceLog))} }` : `log: { level: ${this.runsHere(i) ? 'warn' : 'info'} }`,
          hilPath !== undefined
            ? `hal: { driver: mavlink, mavlink: { serial: "${hilPath}", baud: ${this.o.hil?.baud}, autopilot: ${this.o.hil?.autopilot} } }`
            : `hal: { driver: sim, sim: { startNorthM: ${start.northM}, startEastM: ${start.eastM}, timeScale: 1, seed: ${i + 1}, obstacles: ${JSON.stringify(this.o.obstacles ?? [])}${this.o.batteryWh !== undefined ? `, batteryWh: ${this.o.batteryWh}` : ''} } }`,
          '',
        ].join('\n'),
      );
      this.devices.push({ index: i, id, config, proc: null, inproc: null, output: '' });
    });
  }

  /** device.yaml lines for the scenario's checkpoint settings (none when it sets none). */
  private checkpointLines(): string[] {
    const c = this.o.checkpoints;
    const consensus = { ...(c?.everyHeights !== undefined ? { checkpointEveryHeights: c.everyHeights } : {}), ...(c?.syncWindowHeights !== undefined ? { syncWindowHeights: c.syncWindowHeights } : {}), ...(c?.followerSources !== undefined ? { followerSources: c.followerSources } : {}) };
    return [...(Object.keys(consensus).length > 0 ? [`consensus: ${JSON.stringify(consensus)}`] : []), ...(c?.snapshotEveryHeights !== undefined ? [`snapshots: { everyHeights: ${c.snapshotEveryHeights} }`] : [])];
  }

  /** The authority signs the next epoch's manifest with these sets (device indexes; power 1 each, the
   *  operator as before): what an admin hands to `fleet.update`. */
  nextManifest(validators: readonly number[], followers: readonly number[]): Uint8Array {
    const key = (i: number): KeyPair => {
      const k = this.keys[i];
      if (!k) throw new Error(`fleet.update names device ${i}, but the fleet has ${this.keys.length}`);
      return k;
    };
    const id = (i: number): string => FleetProcs.idOf(i, this.o.validators);
    this.epoch++;
    const m = unwrap(
      signManifest(
        {
          ...this.manifest.body,
          epoch: this.epoch,
          validators: validators.map((i) => ({ id: id(i), publicKey: key(i).publicKey, power: 1 })),
          followers: followers.map((i) => ({ id: id(i), publicKey: key(i).publicKey })),
          createdAt: Date.now(),
        },
        this.authority,
      ),
    );
    return m.bytes;
  }

  /** Where device i stands before take-off: its pad (the same grid as deterministic mode's). */
  startPosition(i: number): { northM: number; eastM: number } {
    return padPosition(i, this.o.validators + this.o.followers, this.o.pads);
  }

  get embedded(): boolean {
    return this.o.brokerUrl === null;
  }

  /** Starts the embedded broker, once: while it runs this does nothing (a second broker on its port
   *  ended the run in "internal error: listen EADDRINUSE"), and after a stop it waits for the port. */
  async startBroker(): Promise<void> {
    if (this.broker !== null) return;
    await this.brokerStopped;
    if (this.broker !== null) return; // another start came first while the port was being let go
    const b = new EmbeddedBroker({ port: this.brokerPort, credentials: this.credentials, ...(this.o.forward ? { forward: this.o.forward } : {}) });
    this.broker = b;
    await b.start().catch((e: unknown) => {
      this.broker = null;
      throw e;
    });
    this.brokerPort = b.port;
    this.brokerUrl = b.url;
  }

  /** Stops the embedded broker (a broker outage), once; its port is kept for the restart. */
  async stopBroker(): Promise<void> {
    const b = this.broker;
    if (b === null) return this.brokerStopped;
    this.broker = null;
    this.brokerStopped = b.stop();
    await this.brokerStopped;
  }

  /** Whether the embedded broker is running (false while a scenario's outage has it stopped). */
  get brokerRunning(): boolean {
    return this.broker !== null;
  }

  /** Starts (or restarts) one device; resolves when it is ready. */
  start(d: RealDevice): Promise<void> {
    return this.runsHere(d.index) ? this.startInProcess(d) : this.spawn(d);
  }

  /** Whether device i runs inside this process (every device without --processes). */
  runsHere(i: number): boolean {
    return !this.o.processes || this.o.inProcess?.(i) === true;
  }

  private async startInProcess(d: RealDevice): Promise<void> {
    d.inproc = await this.launch(d.config, (parts) => this.o.hooks?.(d.index, parts));
  }

  /** Opens and starts the real device runtime in this process from a device.yaml; errors name the file. */
  private async launch(config: string, hooks: (parts: DeviceParts) => DeviceHooks | undefined = () => undefined): Promise<Device> {
    const cfg = loadDeviceConfig(config);
    if (!cfg.ok) throw new Error(cfg.error);
    const opened = await openDevice(cfg.value, config);
    if (!opened.ok) throw new Error(opened.error);
    // The devices of this process share one signature memo, as deterministic mode's do
    // (runtime/crypto/memo-verifier.ts), instead of one each: every broadcast reaches every device, and
    // twenty checks of one (signature, message, key) on one event loop are the same work done twenty
    // times. Each device's signer seeds it. Exact: a triple that differs in any byte is checked for real.
    this.verifier ??= memoVerifier(createVerifier(), verifyMemoEntriesMax, verifyMemoBytesMax);
    const parts: DeviceParts = { ...opened.value, verifier: this.verifier };
    let device: Device | undefined;
    // Another process holding a device's key, or a manifest that no longer lists it, stops that device,
    // not this whole process (the Device's own answer is to exit 3); twins, Byzantine by design, pass a hook of their own that goes on.
    const stopOnConflict: DeviceHooks = {
      identityConflict: (k) => {
        device?.log.error({ event: 'identity-conflict', ...k }, `${describeConflict(parts.config.id, k)}; stopping this device`);
        void device?.stop();
      },
      // A device a fleet.update removed (or whose key it replaced) stops, not this whole process.
      retired: (reason) => {
        device?.log.error({ event: 'not-member', reason }, `${reason}; stopping this device`);
        void device?.stop();
      },
    };
    try {
      device = new Device(parts, Date.now(), { ...stopOnConflict, ...hooks(parts) });
    } catch (e) {
      await parts.lock?.release(); // its data directory is free for a later start
      throw e;
    }
    try {
      await device.start();
    } catch (e) {
      await device.stop().catch(() => undefined); // releases the lock whatever else fails
      throw e;
    }
    return device;
  }

  /** The files holding the output of the devices run as their own processes, oldest first per device. */
  processLogFiles(): string[] {
    return [...this.logFiles.values()].flatMap((f) => f.files());
  }

  private logFileOf(d: RealDevice): DeviceLogFile | undefined {
    const path = this.o.processLogs?.(d.id);
    if (path === undefined) return undefined;
    let f = this.logFiles.get(d.id);
    if (!f) {
      mkdirSync(dirname(path), { recursive: true });
      f = new DeviceLogFile(path, limits.fleetSimDeviceLogBytesMax);
      f.onError = (reason) => process.stderr.write(`fleet-sim: ${d.id}: ${reason}\n`);
      this.logFiles.set(d.id, f);
    }
    return f;
  }

  private spawn(d: RealDevice): Promise<void> {
    d.output = '';
    d.stopping = false;
    const logFile = this.logFileOf(d);
    // Tied: a fleet-sim that dies without stopping them (kill -9) takes its device processes with it
    // (each gets SIGTERM: a clean stop), rather than leave them reconnecting to a broker that is gone.
    const proc = spawnTied(process.execPath, [join(this.o.launchRoot ?? launchRoot, 'bin', 'murmur.js'), 'start', '--config', d.config], { cwd: this.dir, stdio: ['ignore', 'pipe', 'pipe'] });
    d.proc = proc;
    return new Promise<void>((resolve, reject) => {
      let ready = false;
      const timer = setTimeout(() => reject(new Error(`${d.id} was not ready within ${readyTimeoutMs} ms:\n${d.output.slice(-1_500)}`)), readyTimeoutMs);
      const onData = (b: Buffer): void => {
        logFile?.write(b);
        d.output += b.toString('utf8');
        if (d.output.length > 200_000) d.output = d.output.slice(-100_000);
        if (!ready && d.output.includes('"event":"ready"')) {
          ready = true;
          clearTimeout(timer);
          resolve();
        }
      };
      proc.stdout?.on('data', onData);
      proc.stderr?.on('data', onData);
      proc.once('exit', (code, signal) => {
        clearTimeout(timer);
        if (ready && !d.stopping && d.proc === proc) this.o.onExit?.(d, code, signal);
        reject(new Error(`${d.id} exited (${code ?? signal}) before it was ready:\n${d.output.slice(-1_500)}`));
      });
    });
  }

  alive(d: RealDevice): boolean {
    if (this.runsHere(d.index)) return d.inproc !== null;
    return d.proc !== null && d.proc.exitCode === null && d.proc.signalCode === null;
  }

  /** With --processes, SIGKILL by PID (like pulling the power); in one process, the device stops
   *  (its shutdown code runs: a gentler crash, which is why --processes exists). */
  async kill(d: RealDevice): Promise<void> {
    if (this.runsHere(d.index)) {
      const device = d.inproc;
      d.inproc = null;
      await device?.stop();
      return;
    }
    const p = d.proc;
    if (p === null || !this.alive(d) || p.pid === undefined) return;
    const exited = new Promise<void>((r) => p.once('exit', () => r()));
    d.stopping = true;
    process.kill(p.pid, 'SIGKILL');
    await exited;
  }

  /** Amnesia: the device forgets its consensus memory (its lock, its own votes, the signer's state)
   *  but keeps its committed blocks and snapshot, as a validator restored from a stale backup would,
   *  then starts again. The same cut as deterministic mode's (sim/world-faults.ts). */
  async forget(d: RealDevice): Promise<void> {
    await this.kill(d);
    // A stopped in-process device may have one timer turn in flight that touches its files.
    await new Promise((r) => setTimeout(r, 200));
    const dir = join(this.dir, 'data', d.id);
    const walPath = join(dir, walFile);
    if (existsSync(walPath)) {
      const wal = readWal(new Uint8Array(readFileSync(walPath)), walFile);
      const commits = wal.ok ? wal.value.records.filter((r) => r.t === 'commit').map((r) => encodeWalRecord(r)) : [];
      writeFileSync(walPath, Buffer.concat(commits));
    }
    rmSync(join(dir, signerStateFile), { force: true });
    rmSync(join(dir, aheadFile), { force: true });
    await this.start(d);
  }

  /** Twins started by twin(), stopped at teardown. */
  private readonly twins: { readonly id: string; readonly device: Device }[] = [];

  /** The MQTT client id of device id's twin (its control plane adds -ctl). */
  static twinClientId(fleet: string, id: string): string {
    return `twin-${fleet}-${id}`;
  }

  /** What each twin has done so far: its id, the height it reached and the consensus messages it sent. */
  twinStats(): { id: string; height: number; sent: number }[] {
    return this.twins.map(({ id, device }) => ({ id, height: device.shell.core.chain.height, sent: device.shell.messagesSent }));
  }

  /**
   * Twins: a second instance of device d with the same identity and key, started in this process from a
   * copy of d's data directory taken now (a cloned SD card), under MQTT client ids of its own so the
   * broker keeps both connected (outside the murmur-* ids the embedded broker reserves to each node).
   * Both run the honest code; whatever the two see differently they sign differently, and to everyone
   * else that is one validator signing twice. No radio (the pty is d's), and for a hardware-in-the-loop
   * node no flight controller (it has one companion).
   */
  async twin(d: RealDevice): Promise<void> {
    const dir = `data/${d.id}.twin`;
    cpSync(join(this.dir, 'data', d.id), join(this.dir, dir), { recursive: true });
    const config = join(this.dir, `${d.id}.twin.yaml`);
    // d's own device.yaml (written above, one field per line) with the twin's data directory and client
    // ids, without d's radio; a flight controller on a pty has one companion, so a HIL node's twin flies none.
    const twinLine = (l: string): string | null =>
      l.startsWith('radios:') ? null
      : l.startsWith('hal: { driver: mavlink') ? 'hal: { driver: none }'
      : l.startsWith('dataDir:') ? `dataDir: ${dir}`
      : l.startsWith('mqtt: {') ? l.replace(/ }$/, `, clientId: ${FleetProcs.twinClientId(this.fleet, d.id)} }`)
      : l;
    writeFileSync(config, readFileSync(d.config, 'utf8').split('\n').map(twinLine).filter((l) => l !== null).join('\n'));
    // Byzantine by design: it goes on when it hears its original's births (identity-guard.ts).
    const twin = await this.launch(config, () => ({ identityConflict: () => undefined })).catch((e: Error) => Promise.reject(new Error(`${d.id}'s twin: ${e.message}`)));
    this.twins.push({ id: d.id, device: twin });
  }

  /** SIGTERM every device by PID (SIGKILL after 5 s), stop the broker, remove the directory. */
  async teardown(): Promise<void> {
    const hadTwins = this.twins.length > 0;
    await Promise.all(this.twins.splice(0).map((t) => t.device.stop()));
    const inProcess = hadTwins || this.devices.some((d) => d.inproc !== null);
    await Promise.all(this.devices.map((d) => (d.inproc ? this.kill(d) : undefined)));
    // A stopped in-process device may still have one timer turn in flight that touches its data
    // directory; give it a moment before the directory goes.
    if (inProcess) await new Promise((r) => setTimeout(r, 500));
    await Promise.all(
      this.devices.map(async (d) => {
        const p = d.proc;
        if (p === null || !this.alive(d) || p.pid === undefined) return;
        const exited = new Promise<void>((r) => p.once('exit', () => r()));
        d.stopping = true;
        process.kill(p.pid, 'SIGTERM');
        const t = setTimeout(() => this.alive(d) && p.pid !== undefined && process.kill(p.pid, 'SIGKILL'), 5_000);
        await exited;
        clearTimeout(t);
      }),
    );
    await this.stopBroker();
    // The devices have exited: what they printed last is in their files.
    for (const f of this.logFiles.values()) f.close();
    if (process.env.MURMUR_KEEP_FLEET) {
      keepTempDir(this.dir);
      for (const d of this.devices) writeFileSync(join(this.dir, `${d.id}.out`), d.output);
      return;
    }
    rmSync(this.dir, { recursive: true, force: true });
  }
}
