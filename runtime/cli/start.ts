// `murmur start --config device.yaml`: validate everything, start the device, run until SIGTERM or
// SIGINT, then shut down cleanly. A bad config or identity is one line on stderr and exit code 2.

import { loadDeviceConfig } from '../config/device-config.js';
import { DataDirectoryError, Device, openDevice } from '../device/device.js';
import { StorageError, storageFix } from '../device/file-storage.js';
import { readFile } from 'node:fs/promises';
import { CliError, exitCodes, need, parse } from './kit.js';
import { textManifestProblem } from './manifest-file.js';

export const startUsage = `Usage: murmur start --config FILE

Runs this device: consensus over MQTT, the mission state machine, HAL drivers, metrics on
http://127.0.0.1:<http.port>/metrics and /health. SIGTERM or SIGINT stops it cleanly; after a crash
the next start recovers from dataDir. The config fields are in docs/device-config.md. It logs JSON
lines (pino) to stdout or log.file, so it takes no --json.

Exit codes: 0 stopped by SIGTERM or SIGINT, 2 bad config or identity (or dataDir in use by another
murmur), 3 refused (another process holds this device's key), 5 unavailable (http.port in use),
70 internal error, 74 storage failed (the data directory stopped taking writes: disk full, a file-size
limit, an I/O error, read-only).`;

export async function startCommand(argv: string[]): Promise<number> {
  const processStart = Date.now() - process.uptime() * 1000;
  const a = parse(argv, { config: { type: 'string' } }, startUsage);
  if (a.values.help) return void process.stdout.write(startUsage + '\n'), exitCodes.ok;
  const file = need(a.values.config, 'config');
  const cfg = loadDeviceConfig(file);
  if (!cfg.ok) throw new CliError(cfg.error, exitCodes.usage);
  // A draft (or other text) where the signed manifest belongs is named for what it is; openDevice says
  // the rest (unreadable, bad signature, not a member).
  const manifestBytes = await readFile(cfg.value.manifest).catch(() => null);
  const text = manifestBytes === null ? null : textManifestProblem(new Uint8Array(manifestBytes), cfg.value.manifest);
  if (text !== null) throw new CliError(`${file}: manifest: ${text}`, exitCodes.usage);
  const parts = await openDevice(cfg.value, file);
  if (!parts.ok) throw new CliError(parts.error, exitCodes.usage);
  let device: Device;
  try {
    device = new Device(parts.value, processStart);
  } catch (e) {
    // Building the device writes the data format and the session number: a write that fails is the
    // data directory's storage failure, not a bad file.
    if (e instanceof StorageError) throw new CliError(`${file}: dataDir: ${cfg.value.dataDir}: ${e.message}: ${storageFix(e.code)}`, exitCodes.storage);
    throw new CliError(`${file}: ${(e as Error).message}`, exitCodes.usage);
  }
  try {
    await device.start();
  } catch (e) {
    await device.stop().catch(() => undefined);
    if (e instanceof DataDirectoryError) throw new CliError(`${file}: dataDir: ${cfg.value.dataDir}: ${e.message}`, exitCodes.usage);
    if (e instanceof StorageError) throw new CliError(`${file}: dataDir: ${cfg.value.dataDir}: ${e.message}: ${storageFix(e.code)}`, exitCodes.storage);
    const m = (e as NodeJS.ErrnoException).code === 'EADDRINUSE' ? `http.port ${cfg.value.http.port} is in use; pick another port in ${file}` : (e as Error).message;
    throw new CliError(m, exitCodes.unavailable);
  }
  await new Promise<void>((resolve) => {
    let stopping = false;
    const onSignal = (sig: string): void => {
      if (stopping) return;
      stopping = true;
      device.log.info({ event: 'signal', signal: sig }, 'shutting down');
      device.stop().then(resolve, (e: unknown) => {
        device.log.error({ err: (e as Error).message }, 'shutdown failed');
        resolve();
      });
    };
    process.once('SIGTERM', () => onSignal('SIGTERM'));
    process.once('SIGINT', () => onSignal('SIGINT'));
  });
  // Timers and sockets are closed; exit now rather than wait on a straggling handle.
  process.exit(exitCodes.ok);
}
