// A fleet of real `murmur start` OS processes on a real Mosquitto, for the end-to-end tests and the
// e2e benchmark: keys and a signed manifest in a temp dir, one device.yaml per device, start/kill/stop
// by PID, and the operator CLI run as a process.

import type { ChildProcess } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import mqtt from 'mqtt';
import { createSigner, generateKeyPair, initCrypto, type KeyPair } from '../../runtime/crypto/sodium.js';
import { writeKeyFile } from '../../runtime/crypto/key-file.js';
import { unwrap } from '../../runtime/lib/result.js';
import { signManifest, type Manifest } from '../../runtime/manifest/manifest.js';
import type { HealthView } from '../../runtime/device/observability.js';
import { controlTopics } from '../../runtime/device/control-topics.js';
import { Mosquitto } from '../links/processes.js';
import { cliEntry, runCli, type CliRun } from '../support/run-cli.js';
import { spawnTied } from '../../firmware-bridge/tools/processes.js';

export interface DeviceProc {
  readonly id: string;
  proc: ChildProcess;
  readonly config: string;
  httpPort: number;
  output: string;
  ready: Promise<number>;
}

export interface FleetOptions {
  readonly validators: number;
  readonly timeScale?: number;
  readonly logLevel?: string;
  /** Consensus timing overrides written into every device.yaml (e.g. { commitWaitMs: 20 }). */
  readonly consensus?: Readonly<Record<string, number>>;
  /** Disk snapshot interval written into every device.yaml (default: the device default). */
  readonly snapshotEveryHeights?: number;
  /** false: `agents: { enabled: false }` in every device.yaml, for tests the agents are not part of (four
   *  devices start on about 1 s less CPU between them, and run on about a tenth less). Default: enabled. */
  readonly agents?: boolean;
}

/** Children still running when this process exits are killed, so an aborted run leaves no devices. */
const children = new Set<ChildProcess>();
process.once('exit', () => {
  for (const c of children) if (c.pid !== undefined && c.exitCode === null && c.signalCode === null) process.kill(c.pid, 'SIGKILL');
});

/** Polls `probe` every `everyMs` until it gives a value (not null), for at most `ms`; the error names
 *  `what` it waited for. */
export async function until<T>(what: string, probe: () => Promise<T | null>, ms: number, everyMs = 100): Promise<T> {
  const deadline = Date.now() + ms;
  for (let i = 0; Date.now() < deadline && i < 10_000; i++) {
    const v = await probe();
    if (v !== null) return v;
    await new Promise((r) => setTimeout(r, everyMs));
  }
  throw new Error(`timed out after ${ms} ms waiting for ${what}`);
}

export class DeviceFleet {
  readonly dir = mkdtempSync(join(tmpdir(), 'murmur-e2e-'));
  readonly devices = new Map<string, DeviceProc>();
  manifest!: Manifest;
  broker!: Mosquitto;
  private readonly keys = new Map<string, KeyPair>();
  authority!: KeyPair;

  constructor(private readonly o: FleetOptions) {}

  get manifestFile(): string {
    return join(this.dir, 'fleet.manifest');
  }

  /** Signs as `id` (a device, an operator): for tests that speak for a device on the wire. */
  signer(id: string): ReturnType<typeof createSigner> {
    const kp = this.keys.get(id);
    if (!kp) throw new Error(`no key for ${id}`);
    return createSigner(kp);
  }

  keyFile(id: string): string {
    return join(this.dir, 'keys', `${id}.key`);
  }

  async setup(): Promise<void> {
    await initCrypto();
    this.broker = await Mosquitto.start();
    const ids = Array.from({ length: this.o.validators }, (_, i) => `d${i + 1}`);
    for (const id of [...ids, 'ops', 'boss', 'ops2', 'stranger']) {
      const kp = generateKeyPair();
      this.keys.set(id, kp);
      unwrap(await writeKeyFile(this.keyFile(id), { id, ...kp }));
    }
    const authority = generateKeyPair();
    this.authority = authority;
    const body = {
      fleet: 'e2e',
      epoch: 1,
      authority: authority.publicKey,
      validators: ids.map((id) => ({ id, publicKey: (this.keys.get(id) as KeyPair).publicKey, power: 1 })),
      followers: [],
      operators: [
        { id: 'ops', publicKey: (this.keys.get('ops') as KeyPair).publicKey, roles: ['operator' as const] },
        { id: 'boss', publicKey: (this.keys.get('boss') as KeyPair).publicKey, roles: ['admin' as const] },
      ],
      createdAt: Date.now(),
    };
    this.manifest = unwrap(signManifest(body, createSigner(authority)));
    writeFileSync(this.manifestFile, this.manifest.bytes);
    for (const [i, id] of ids.entries()) {
      const httpPort = 0; // the OS picks it; read back from the ready line (a port probed free could be taken by then)
      const config = join(this.dir, `${id}.yaml`);
      writeFileSync(
        config,
        [
          `id: ${id}`,
          `key: keys/${id}.key`,
          'manifest: fleet.manifest',
          `dataDir: data/${id}`,
          `mqtt: { url: "${this.broker.url}" }`,
          `http: { port: ${httpPort} }`,
          `log: { level: ${this.o.logLevel ?? 'info'} }`,
          `hal: { driver: sim, sim: { startNorthM: ${i * 5}, startEastM: 0, timeScale: ${this.o.timeScale ?? 20}, seed: ${i + 1} } }`,
          ...(this.o.consensus ? [`consensus: ${JSON.stringify(this.o.consensus)}`] : []),
          ...(this.o.snapshotEveryHeights !== undefined ? [`snapshots: { everyHeights: ${this.o.snapshotEveryHeights} }`] : []),
          ...(this.o.agents === false ? ['agents: { enabled: false }'] : []),
          '',
        ].join('\n'),
      );
      this.devices.set(id, { id, config, httpPort, output: '', proc: undefined as unknown as ChildProcess, ready: Promise.resolve(0) });
    }
  }

  /** Registers a new device `id` with a key of its own and a device.yaml naming `manifest` (a file in
   *  the fleet's directory): a device a fleet.update adds. Its public key is publicKey(id). */
  async addDevice(id: string, manifest: string): Promise<DeviceProc> {
    const kp = generateKeyPair();
    this.keys.set(id, kp);
    unwrap(await writeKeyFile(this.keyFile(id), { id, ...kp }));
    const first = [...this.devices.values()][0];
    if (!first) throw new Error('addDevice: set up the fleet first');
    const config = join(this.dir, `${id}.yaml`);
    const text = readFileSync(first.config, 'utf8').replace(/^id: .*$/m, `id: ${id}`).replace(/^key: .*$/m, `key: keys/${id}.key`).replace(/^manifest: .*$/m, `manifest: ${manifest}`).replace(/^dataDir: .*$/m, `dataDir: data/${id}`);
    writeFileSync(config, text);
    const d: DeviceProc = { id, config, httpPort: 0, output: '', proc: undefined as unknown as ChildProcess, ready: Promise.resolve(0) };
    this.devices.set(id, d);
    return d;
  }

  /** Registers `as`: device `id`'s config with a data directory and HTTP port of its own (a second
   *  process with the same key, as a copied device.yaml makes). Start it with start(as). */
  async copy(id: string, as: string): Promise<DeviceProc> {
    const d = this.devices.get(id);
    if (!d) throw new Error(`no device ${id}`);
    const httpPort = 0; // the OS picks it; read back from the ready line (a port probed free could be taken by then)
    const config = join(this.dir, `${as}.yaml`);
    const text = readFileSync(d.config, 'utf8').replace(`dataDir: data/${id}`, `dataDir: data/${as}`).replace(/http: \{ port: \d+ \}/, `http: { port: ${httpPort} }`);
    writeFileSync(config, text);
    const c: DeviceProc = { id: as, config, httpPort, output: '', proc: undefined as unknown as ChildProcess, ready: Promise.resolve(0) };
    this.devices.set(as, c);
    return c;
  }

  /** Starts (or restarts) one device; `ready` resolves with the ms the process took to be ready. */
  start(id: string): DeviceProc {
    const d = this.devices.get(id);
    if (!d) throw new Error(`no device ${id}`);
    const t0 = Date.now();
    d.output = '';
    // MURMUR_E2E_ENTRY runs a built murmur.js (dist/) instead of the sources; MURMUR_E2E_NODE_FLAGS adds node flags.
    const entry = process.env.MURMUR_E2E_ENTRY ?? cliEntry('murmur');
    const flags = (process.env.MURMUR_E2E_NODE_FLAGS ?? '').split(' ').filter((x) => x !== '');
    d.proc = spawnTied(process.execPath, [...flags, entry, 'start', '--config', d.config], { cwd: this.dir, stdio: ['ignore', 'pipe', 'pipe'] }); // ends with the test's process
    const proc = d.proc;
    children.add(proc);
    proc.once('exit', () => children.delete(proc));
    d.ready = new Promise<number>((resolve, reject) => {
      const onData = (b: Buffer): void => {
        d.output += b.toString('utf8');
        if (d.output.length > 2_000_000) d.output = d.output.slice(-1_000_000);
        const ready = /"event":"ready"[^\n]*"http":"http:\/\/[^":]+:(\d+)"/.exec(d.output.slice(Math.max(0, d.output.lastIndexOf('"event":"ready"'))));
        if (ready) {
          d.httpPort = Number(ready[1]);
          resolve(Date.now() - t0);
        }
      };
      proc.stdout?.on('data', onData);
      proc.stderr?.on('data', onData);
      proc.once('exit', (code) => reject(new Error(`${id} exited with ${code} before ready:\n${d.output.slice(-2_000)}`)));
    });
    d.ready.catch(() => undefined);
    return d;
  }

  async startAll(): Promise<number[]> {
    for (const id of this.devices.keys()) this.start(id);
    return Promise.all([...this.devices.values()].map((d) => d.ready));
  }

  /** SIGKILL by PID: no shutdown code runs, like pulling the power. */
  async kill9(id: string): Promise<void> {
    const d = this.devices.get(id) as DeviceProc;
    const exited = new Promise<void>((r) => (d.proc.exitCode !== null || d.proc.signalCode !== null ? r() : d.proc.once('exit', () => r())));
    if (d.proc.pid !== undefined) process.kill(d.proc.pid, 'SIGKILL');
    await exited;
  }

  /** SIGTERM by PID; resolves with the exit code. */
  async stop(id: string): Promise<number | null> {
    const d = this.devices.get(id) as DeviceProc;
    if (d.proc.exitCode !== null || d.proc.signalCode !== null) return d.proc.exitCode;
    const exited = new Promise<number | null>((r) => d.proc.once('exit', (code) => r(code)));
    if (d.proc.pid !== undefined) process.kill(d.proc.pid, 'SIGTERM');
    const t = setTimeout(() => d.proc.pid !== undefined && d.proc.exitCode === null && process.kill(d.proc.pid, 'SIGKILL'), 5_000);
    const code = await exited;
    clearTimeout(t);
    return code;
  }

  /** Exit code of a device process, or null if it is still running after `ms`. */
  exitWithin(id: string, ms: number): Promise<number | null> {
    const p = (this.devices.get(id) as DeviceProc).proc;
    if (p.exitCode !== null) return Promise.resolve(p.exitCode);
    return new Promise((resolve) => {
      const t = setTimeout(() => resolve(null), ms);
      p.once('exit', (code) => {
        clearTimeout(t);
        resolve(code);
      });
    });
  }

  /** A device's retained JSON status (height and committed evidence among its fields), from the broker. */
  async retainedStatus(id: string): Promise<{ height: number; evidence: { culprit: string }[] }> {
    const c = await mqtt.connectAsync(this.broker.url, { reconnectPeriod: 0 });
    try {
      const got = new Promise<{ height: number; evidence: { culprit: string }[] }>((resolve) => c.on('message', (_t, p) => resolve(JSON.parse(p.toString('utf8')))));
      await c.subscribeAsync(controlTopics('e2e').status(id));
      return await Promise.race([got, new Promise<never>((_, reject) => setTimeout(() => reject(new Error(`no status from ${id}`)), 5_000))]);
    } finally {
      await c.endAsync();
    }
  }

  /** `id`'s retained status once it is `heights` past `from`, or the last one seen after `ms`. */
  async retainedStatusPast(id: string, from: number, heights: number, ms: number): Promise<{ height: number; evidence: { culprit: string }[] }> {
    const t0 = Date.now();
    let s = await this.retainedStatus(id);
    while (s.height < from + heights && Date.now() - t0 < ms) {
      await new Promise((r) => setTimeout(r, 500));
      s = await this.retainedStatus(id);
    }
    return s;
  }

  async health(id: string): Promise<HealthView> {
    const d = this.devices.get(id) as DeviceProc;
    const r = await fetch(`http://127.0.0.1:${d.httpPort}/health`);
    return (await r.json()) as HealthView;
  }

  dataDir(id: string): string {
    return join(this.dir, 'data', id);
  }

  publicKey(id: string): Uint8Array {
    return (this.keys.get(id) as KeyPair).publicKey;
  }

  pid(id: string): number | undefined {
    return this.devices.get(id)?.proc.pid;
  }

  /** murmurctl with the fleet's broker and, unless `manifest` names another copy, its manifest. */
  ctl(args: string[], timeoutMs = 60_000, manifest = this.manifestFile): Promise<CliRun> {
    return runCli('murmurctl', [...args, '--broker', this.broker.url, '--manifest', manifest], { cwd: this.dir, timeoutMs, env: { MURMUR_KEY: this.keyFile('ops') } });
  }

  async teardown(): Promise<void> {
    for (const id of this.devices.keys()) await this.stop(id).catch(() => undefined);
    await this.broker?.stop();
    rmSync(this.dir, { recursive: true, force: true });
  }
}
