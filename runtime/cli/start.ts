// `murmur start --config device.yaml`: validate everything, start the device, run until SIGTERM or
// SIGINT, then shut down cleanly. A bad config or identity is one line on stderr and exit code 2. A data
// directory that takes no writes, at start or later, is waited for in this process (storage-wait.ts).

import { fixFor, loadDeviceConfig, type DeviceConfig } from '../config/device-config.js';
import { DataDirectoryError, Device, NotMemberError, openDevice, type DeviceOptions, type DeviceParts } from '../device/device.js';
import { checkDataFormat } from '../device/data-format.js';
import { HalOpenError } from '../device/hal-setup.js';
import type { DataLock } from '../device/data-lock.js';
import { StorageError } from '../device/file-storage.js';
import { createLogger, DeviceMetrics } from '../device/observability.js';
import { StorageWait, storageRunResetMs } from '../device/storage-wait.js';
import { rmdirSync } from 'node:fs';
import { userInfo } from 'node:os';
import { readFile } from 'node:fs/promises';
import type { Logger as PinoLogger } from 'pino';
import { CliError, exitCodes, need, noStrayArguments, parse } from './kit.js';
import { textManifestProblem } from './manifest-file.js';
import { fsReason } from '../lib/fs-reason.js';

export const startUsage = `Usage: murmur start --config FILE

Runs this device: consensus over MQTT, the mission state machine, HAL drivers, metrics on
http://127.0.0.1:<http.port>/metrics and /health. SIGTERM or SIGINT stops it cleanly; after a crash
the next start recovers from dataDir. A dataDir that takes no writes (disk full, read-only) is waited
for: /health answers 503 with the reason, and the device starts once it does. The config fields are in
docs/device-config.md. It logs JSON lines (pino) to stdout or log.file, so it takes no --json.

Exit codes: 0 stopped by SIGTERM or SIGINT (also while waiting for dataDir), 2 bad config or identity
(or dataDir in use by another murmur), 3 refused (another process holds this device's key, or the fleet manifest in force no longer
lists this device under its key),
5 unavailable (http.port in use, or a serial port or LED that hal names cannot be opened), 70 internal
error. SIGHUP (the terminal it was started from closed) stops it cleanly as well, exit 0. (In Node's
own start-up, about the first tenth of a second after exec, before any of murmur's code runs, a
signal still has its default action: the shell says 143 (or 130, after Ctrl-C).)`;

export async function startCommand(argv: string[]): Promise<number> {
  // Whole milliseconds: the ready line says "startMs":3430, not 3430.322998046875.
  const processStart = Math.round(Date.now() - process.uptime() * 1000);
  const a = parse(argv, { config: { type: 'string' } }, startUsage);
  if (a.values.help) return void process.stdout.write(startUsage + '\n'), exitCodes.ok;
  noStrayArguments(a.positionals, 0, (w) => `the config file goes as --config ${w}`);
  const file = need(a.values.config, 'config');
  const cfg = loadDeviceConfig(file);
  if (!cfg.ok) throw new CliError(cfg.error, exitCodes.usage);
  const c = cfg.value;
  // A draft (or other text) where the signed manifest belongs is named for what it is; openDevice says
  // the rest (unreadable, bad signature, not a member).
  const manifestBytes = await readFile(c.manifest).catch(() => null);
  const text = manifestBytes === null ? null : textManifestProblem(new Uint8Array(manifestBytes), c.manifest);
  if (text !== null) throw new CliError(`${file}: manifest: ${text}`, exitCodes.usage);
  const signal = signalLatch();
  let current: Device | null = null;
  let log: PinoLogger;
  try {
    log = createLogger(c.id, c.log.level, () => current?.logPosition() ?? { height: 0, round: 0 }, c.log.file);
  } catch (e) {
    const why = (e as NodeJS.ErrnoException).code !== undefined ? `cannot open ${c.log.file}: ${fsReason(e)}` : (e as Error).message;
    throw new CliError(`${file}: log.file: ${why}; ${fixFor('log.file')}`, exitCodes.usage);
  }
  const metrics = new DeviceMetrics();
  const wait = new StorageWait(c, log);
  let lock: DataLock | null = null;
  let startedAt = processStart;
  /** The directories this process made for dataDir (openDevice), until a device has started in them. */
  let made: readonly string[] = [];
  /** Set when the start is refused before any device started: those directories are removed. */
  let unmake: readonly string[] = [];
  try {
    for (;;) {
      const opened = await openParts(c, file, lock);
      if (lock === null) made = opened.parts.madeDirs ?? [];
      lock = opened.lock;
      let failedMidRun: StorageError | null = null;
      let tell: (e: StorageError) => void = () => {};
      const failed = new Promise<StorageError>((r) => (tell = r));
      const onStorageFailed = (e: StorageError): void => {
        failedMidRun = e;
        tell(e);
      };
      const r = await run(opened.parts, startedAt, file, { log, metrics, onStorageFailed }, (d) => (current = d));
      let failure: StorageError;
      if (r instanceof Device) {
        made = [];
        // Started, and its writes (session, WAL recovery) went through: unless one failed meanwhile.
        if (failedMidRun === null) wait.resumed();
        const ranFromMs = Date.now();
        // A storage failure first: it may have come while the links started.
        const outcome = await Promise.race([failed.then((e) => ({ e })), signal.fired.then((sig) => ({ sig }))]);
        if ('e' in outcome) wait.failedWhileRunning(outcome.e);
        else log.info({ event: 'signal', signal: outcome.sig }, 'shutting down');
        await r.stop().catch((e: unknown) => log.error({ err: (e as Error).message }, 'shutdown failed'));
        if ('sig' in outcome) break;
        if (Date.now() - ranFromMs >= storageRunResetMs) wait.ranLong();
        failure = outcome.e;
      } else failure = r;
      current = null;
      if (signal.name !== null) break;
      const sig = await wait.until(failure, signal.fired);
      if (sig !== null) {
        log.info({ event: 'signal', signal: sig }, 'shutting down while waiting for the data directory');
        break;
      }
      startedAt = Date.now();
    }
  } catch (e) {
    unmake = made;
    throw e;
  } finally {
    await wait.close();
    await lock?.release();
    removeEmptyDirs(unmake);
  }
  // Timers and sockets are closed; exit now rather than wait on a straggling handle.
  process.exit(exitCodes.ok);
}

/**
 * A start refused before a device ran (http.port in use, a HAL port that does not open: exit 5) leaves
 * no data directory it made: removed deepest first, each only while empty (nothing is written before
 * those ports are open: Device.start), so nothing that anything wrote is ever removed. Before, the
 * refused start left the directory, with `data-format` and `session` in it.
 */
function removeEmptyDirs(dirs: readonly string[]): void {
  for (const d of [...dirs].reverse()) {
    try {
      rmdirSync(d);
    } catch {
      return; // not empty (or gone): it and those above it stay
    }
  }
}

/** The device's parts; the data directory is locked by the first call and stays this process's, across
 *  the starts it makes after a storage failure (a second `murmur start` is refused meanwhile). */
async function openParts(c: DeviceConfig, file: string, lock: DataLock | null): Promise<{ parts: DeviceParts; lock: DataLock | null }> {
  const opened = await openDevice(c, file, { lock: lock === null });
  if (!opened.ok) throw new CliError(opened.error, exitCodes.usage);
  if (lock === null) return { parts: { ...opened.value, lock: null }, lock: opened.value.lock };
  // openDevice reads the format only for the process that takes the lock: read it again here.
  const format = checkDataFormat(c.dataDir);
  if (!format.ok) throw new CliError(`${file}: dataDir: ${format.error}`, exitCodes.usage);
  return { parts: { ...opened.value, dataFormatFound: format.value, lock: null }, lock };
}

/** A file of the data directory the device could not open (a WAL, the signer state made unreadable,
 *  or owned by another user after a start as root): said as the data directory's, with the fix. */
function dataFileProblem(e: unknown, c: DeviceConfig, file: string): string | null {
  const f = e as NodeJS.ErrnoException;
  if (f.code === undefined || typeof f.path !== 'string') return null;
  const denied = f.code === 'EACCES' || f.code === 'EPERM';
  const user = userInfo().username;
  const fix = denied ? `; give the user running murmur (${user}) read and write access to every file in ${c.dataDir} (chown -R ${user} ${c.dataDir}; chmod -R u+rw ${c.dataDir})` : '';
  return `${file}: dataDir: ${f.path}: ${fsReason(e)}${fix}`;
}

/** Builds and starts a device: the running device, or the storage failure that stopped it (anything
 *  else is a CliError with its exit code). */
async function run(parts: DeviceParts, startedAt: number, file: string, o: DeviceOptions, built: (d: Device) => void): Promise<Device | StorageError> {
  const c = parts.config;
  let device: Device;
  try {
    device = new Device(parts, startedAt, {}, o);
    built(device); // its height and round on every log line from here
  } catch (e) {
    // A storage failure while building it (nothing is written until Device.start) is the data
    // directory's, not a bad file.
    if (e instanceof StorageError) return e;
    throw new CliError(dataFileProblem(e, c, file) ?? `${file}: ${(e as Error).message}`, exitCodes.usage);
  }
  try {
    await device.start();
  } catch (e) {
    await device.stop({ refused: true }).catch(() => undefined);
    if (e instanceof DataDirectoryError) throw new CliError(`${file}: dataDir: ${c.dataDir}: ${e.message}`, exitCodes.usage);
    if (e instanceof NotMemberError) throw new CliError(`${file}: ${e.message}`, exitCodes.refused);
    if (e instanceof StorageError) return e;
    // The HTTP port's refusals name the field as every other refusal does ("FILE: field: problem; fix").
    const code = (e as NodeJS.ErrnoException).code;
    const at = `${c.http.host}:${c.http.port}`;
    const m =
      e instanceof HalOpenError ? `${file}: ${e.field}: ${e.message}; ${e.fix}`
      : code === 'EADDRINUSE' ? `${file}: http.port: ${c.http.port} is in use (another program listens on ${at}: another device of this machine, or an earlier one still running); pick another port, or stop that program`
      : code === 'EACCES' ? `${file}: http.port: ${c.http.port} needs privileges this user does not have (ports below 1024); pick a port from 1024 to 65535`
      : code === 'EADDRNOTAVAIL' ? `${file}: http.host: ${c.http.host} is not an address of this machine (IPv6 off, for ::1?); use 127.0.0.1`
      : (e as Error).message;
    throw new CliError(m, exitCodes.unavailable);
  }
  return device;
}

/** The first SIGTERM, SIGINT or SIGHUP, from the moment the command starts. Each is taken once: a second
 *  of the same kind (Ctrl-C again) ends the process at once, as the system would. SIGHUP is a stop, not
 *  a reload (there is nothing to reload in place): a device started from a terminal that closes, or an
 *  SSH session that drops, shuts down as for SIGTERM (its goodbye, the WAL closed) instead of dying by
 *  the signal's default action. */
function signalLatch(): { readonly fired: Promise<string>; readonly name: string | null } {
  let name: string | null = null;
  let fire: (sig: string) => void = () => {};
  const fired = new Promise<string>((r) => (fire = r));
  for (const sig of ['SIGTERM', 'SIGINT', 'SIGHUP'] as const) {
    // bin/murmur.js's handlers for a stop while the modules load (exit 0 at once): from here, this one.
    for (const l of process.listeners(sig)) if ((l as { murmurEarlyStop?: boolean }).murmurEarlyStop === true) process.off(sig, l);
  }
  for (const sig of ['SIGTERM', 'SIGINT', 'SIGHUP'] as const)
    process.once(sig, () => {
      name ??= sig;
      fire(sig);
    });
  return {
    fired,
    get name() {
      return name;
    },
  };
}
