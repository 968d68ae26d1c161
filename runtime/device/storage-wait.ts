// A device whose data directory takes no writes (disk full, a file-size limit, a file system gone
// read-only) waits for it in the process instead of exiting: StorageWait says so on the log and on
// /health while it waits, and spaces the attempts; `murmur start` runs the loop (runtime/cli/start.ts).
// Exiting was systemd's restart every 2 s until the unit's start limit (5 in 120 s) gave up, leaving
// the device down after the space came back.

import { statfsSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Logger as PinoLogger } from 'pino';
import type { DeviceConfig } from '../config/device-config.js';
import { limits } from '../lib/limits.js';
import { storageFix, type StorageError } from './file-storage.js';

/** A device that ran this long before its storage failed starts its waits from the first again; one
 *  that fails sooner (a disk with a few free bytes) goes on doubling, so it never restarts every second. */
export const storageRunResetMs = limits.storageWaitMaxMs;

/** How long to wait before attempt `attempt` (0: the first after the failure): 1 s doubling to 60 s. */
export function storageRetryMs(attempt: number): number {
  return Math.min(limits.storageWaitMaxMs, limits.storageWaitFirstMs * 2 ** Math.min(attempt, 16));
}

/** Bytes an unprivileged writer may still use on the file system holding `dir`; null when it cannot be
 *  asked (the directory is gone). */
export function freeBytesOf(dir: string): number | null {
  try {
    const s = statfsSync(dir);
    return s.bavail * s.bsize;
  } catch {
    return null;
  }
}

/** Same op, file and error: the same failure again, which the log says once. */
export const failureKind = (e: StorageError): string => `${e.op}\u0000${e.file}\u0000${e.code}`;

/** The one line an operator reads about the wait: what failed, the fix, the room left. */
export function describeWait(dataDir: string, e: StorageError, freeBytes: number | null): string {
  const room = freeBytes === null ? 'its file system cannot be asked how much room it has' : `${freeBytes} bytes free on its file system`;
  return `data directory ${dataDir}: ${e.message}: ${storageFix(e.code)}; ${room}`;
}

/** The line for a write that failed while the device ran: the device stops at once. */
export function storageFailedMessage(dataDir: string, e: StorageError): string {
  return `data directory ${dataDir}: ${e.message}; stopping before sending anything it could not record first: ${storageFix(e.code)}, then start again (the WAL recovers what was written; a cut last record is dropped)`;
}

/** What /health answers while the device waits (503: not ready). */
export interface StorageWaitHealth {
  // The reason early: install.sh's health check shows the first 200 characters of the answer.
  readonly ready: false;
  readonly state: 'waiting-for-storage';
  readonly healthReasons: readonly string[];
  readonly node: string;
  readonly health: 'failing';
  readonly storage: {
    readonly code: string;
    readonly file: string;
    readonly fix: string;
    readonly freeBytes: number | null;
    readonly waitingS: number;
    readonly attempts: number;
    readonly nextAttemptInS: number;
  };
}

/** Serves /health (503 with the view) and /metrics (503: nothing to measure) while the device waits, on
 *  the device's own http host and port; resolves with the bound port. */
export async function serveStorageWait(host: string, port: number, view: () => StorageWaitHealth): Promise<{ server: Server; port: number }> {
  const server = createServer((req, res) => {
    const path = (req.url ?? '/').split('?')[0];
    if (req.method !== 'GET') return void res.writeHead(405, { allow: 'GET' }).end();
    if (path === '/health') return void res.writeHead(503, { 'content-type': 'application/json' }).end(JSON.stringify(view()));
    const v = view();
    if (path === '/metrics') return void res.writeHead(503, { 'content-type': 'text/plain' }).end(`waiting for the data directory to take writes: ${v.healthReasons[0] ?? ''}\n`);
    res.writeHead(404, { 'content-type': 'text/plain' }).end('try /metrics or /health\n');
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => resolve());
  });
  return { server, port: (server.address() as AddressInfo).port };
}

/**
 * The waits between starts while the data directory takes no writes: 1 s doubling to 60 s, one warning
 * per kind of failure (op, file, error) rather than one per attempt (journald may be on the same full
 * disk), /health answering 503 with the reason meanwhile, and a warning when it takes writes again.
 */
export class StorageWait {
  private attempts = 0;
  private sinceMs: number | null = null;
  private lastKind = '';
  private lastFailedKind = '';
  private failure: { e: StorageError; nextAtMs: number } | null = null;
  private http: Server | null = null;
  private httpUrl: string | null = null;
  private httpError = '';

  constructor(
    private readonly c: DeviceConfig,
    private readonly log: PinoLogger,
  ) {}

  /** Waits out the next delay after `e`: null when it is time to start again, else the signal. */
  async until(e: StorageError, signal: Promise<string>): Promise<string | null> {
    const now = Date.now();
    this.sinceMs ??= now;
    const delayMs = storageRetryMs(this.attempts++);
    const freeBytes = freeBytesOf(this.c.dataDir);
    this.failure = { e, nextAtMs: now + delayMs };
    await this.serve();
    const fields = { event: 'storage-wait', code: e.code, file: e.file, freeBytes, attempt: this.attempts, retryInS: delayMs / 1000, http: this.httpUrl };
    const kind = failureKind(e);
    if (kind === this.lastKind) this.log.debug(fields, 'data directory still takes no writes');
    else this.log.warn(fields, `${describeWait(this.c.dataDir, e, freeBytes)}; waiting for it to take writes, trying again in ${delayMs / 1000} s and then at most every ${limits.storageWaitMaxMs / 1000} s (SIGTERM stops)`);
    this.lastKind = kind;
    let timer: NodeJS.Timeout | undefined;
    const sig = await Promise.race([new Promise<null>((r) => (timer = setTimeout(() => r(null), delayMs))), signal]);
    clearTimeout(timer);
    // The device binds the port itself once it starts.
    await this.close();
    return sig;
  }

  /** A write that failed while a device ran (it has halted): said once per kind of failure (a restart
   *  that fails the same way again is a debug line), with the height it stopped at. */
  failedWhileRunning(e: StorageError): void {
    const kind = failureKind(e);
    const fields = { event: 'storage-failed', code: e.code, file: e.file };
    if (kind === this.lastFailedKind) this.log.debug(fields, storageFailedMessage(this.c.dataDir, e));
    else this.log.error(fields, storageFailedMessage(this.c.dataDir, e));
    this.lastFailedKind = kind;
  }

  /** A device started: the wait (if any) is over. */
  resumed(): void {
    if (this.sinceMs !== null) {
      const waitedS = Math.round((Date.now() - this.sinceMs) / 100) / 10;
      this.log.warn({ event: 'storage-resumed', waitedS, attempts: this.attempts }, `data directory ${this.c.dataDir} takes writes again after ${waitedS} s (${this.attempts} attempts); running`);
    }
    this.sinceMs = null;
    this.lastKind = '';
    this.lastFailedKind = '';
    this.failure = null;
  }

  /** The device ran long enough before failing that the next waits start from the first again. */
  ranLong(): void {
    this.attempts = 0;
  }

  private view(): StorageWaitHealth {
    const f = this.failure;
    const now = Date.now();
    const freeBytes = freeBytesOf(this.c.dataDir); // now, not at the last attempt: one statfs per request
    return {
      ready: false,
      state: 'waiting-for-storage',
      healthReasons: f ? [describeWait(this.c.dataDir, f.e, freeBytes)] : [],
      node: this.c.id,
      health: 'failing',
      storage: {
        code: f?.e.code ?? '',
        file: f?.e.file ?? '',
        fix: f ? storageFix(f.e.code) : '',
        freeBytes,
        waitingS: Math.round((now - (this.sinceMs ?? now)) / 1000),
        attempts: this.attempts,
        nextAttemptInS: f ? Math.max(0, Math.round((f.nextAtMs - now) / 1000)) : 0,
      },
    };
  }

  /** /health on the device's port while it waits; a port that cannot be had is said once, not fatal. */
  private async serve(): Promise<void> {
    if (this.http !== null) return;
    try {
      const h = await serveStorageWait(this.c.http.host, this.c.http.port, () => this.view());
      this.http = h.server;
      this.httpUrl = `http://${this.c.http.host.includes(':') ? `[${this.c.http.host}]` : this.c.http.host}:${h.port}`;
    } catch (e) {
      this.httpUrl = null;
      const m = (e as Error).message;
      if (m !== this.httpError) this.log.warn({ event: 'storage-wait-http', reason: m }, `no /health while waiting for the data directory: ${m}`);
      this.httpError = m;
    }
  }

  async close(): Promise<void> {
    const s = this.http;
    this.http = null;
    if (s === null) return;
    await new Promise<void>((r) => {
      s.close(() => r());
      s.closeAllConnections();
    });
  }
}
