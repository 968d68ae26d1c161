// One process per data directory. Two devices on one signer state (systemd's instance and one started
// by hand, a copied unit) would each keep their own guard in memory and could sign two different votes
// at one position: an equivocation the fleet names in evidence. The lock is a listening UNIX socket
// named after the directory: on Linux in the abstract namespace, which the kernel frees when the
// process dies however it dies (kill -9 included), so there is no stale lock to clean up; elsewhere
// (fleet-sim on a laptop) a socket file in the temporary directory, taken over when nothing answers on
// it. A second start asks the holder for its pid and names it.
//
// Limits: abstract names are per network namespace and have no permissions, so another local user
// listening on the name blocks a start (it cannot make two devices run); on the socket-file form two
// starts racing to take over a stale file can both succeed. Linux (the devices) has neither race.

import { createHash } from 'node:crypto';
import { realpathSync, rmSync } from 'node:fs';
import { createConnection, createServer, type Server } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { err, ok, type Result } from '../lib/result.js';

export interface DataLock {
  /** Frees the directory for another process (a device stopped in a process that goes on). */
  release(): Promise<void>;
}

const askMs = 1_000;

/** The socket path that stands for `dir` (its real path, so two spellings of one directory agree). */
function lockPath(real: string, abstract: boolean): string {
  const name = `murmur-data-${createHash('sha256').update(real).digest('hex').slice(0, 24)}`;
  // The socket file lives outside the directory, which is copied whole at times (fleet-sim's twins).
  return abstract ? `\0${name}` : join(tmpdir(), `${name}.sock`);
}

function listen(server: Server, path: string): Promise<NodeJS.ErrnoException | null> {
  return new Promise((resolve) => {
    const onError = (e: NodeJS.ErrnoException): void => resolve(e);
    server.once('error', onError);
    server.listen({ path }, () => {
      server.off('error', onError);
      resolve(null);
    });
  });
}

/** The pid the holder of `path` answers with; null when nothing answers (a stale socket file). */
function holderPid(path: string): Promise<string | null> {
  return new Promise((resolve) => {
    let text = '';
    const sock = createConnection({ path });
    const done = (v: string | null): void => {
      clearTimeout(timer);
      sock.destroy();
      resolve(v);
    };
    const timer = setTimeout(() => done(text === '' ? '?' : text), askMs);
    sock.setEncoding('utf8');
    sock.on('data', (d: string) => (text += d));
    sock.on('end', () => done(/^\d+$/.test(text) ? text : '?'));
    sock.on('error', () => done(null));
  });
}

/** Takes `dir` for this process, or says which process holds it. `abstract`: the Linux abstract
 *  namespace (the default there), else a socket file in `dir`. */
export async function lockDataDir(dir: string, o: { readonly abstract?: boolean } = {}): Promise<Result<DataLock>> {
  const abstract = o.abstract ?? process.platform === 'linux';
  let real: string;
  try {
    real = realpathSync(dir);
  } catch (e) {
    return err(`cannot lock ${dir}: ${(e as Error).message}`);
  }
  const path = lockPath(real, abstract);
  const server = createServer((sock) => sock.end(String(process.pid)));
  for (let attempt = 0; attempt < 2; attempt++) {
    const e = await listen(server, path);
    if (e === null) {
      // The lock never keeps a process alive on its own.
      server.unref();
      return ok({ release: () => new Promise<void>((r) => server.close(() => r())) });
    }
    if (e.code !== 'EADDRINUSE') return err(`cannot lock ${real}: ${e.message}`);
    const pid = await holderPid(path);
    if (pid !== null) return err(`${real} is in use by another murmur process (pid ${pid}); stop it first: two processes on one signer state could sign twice`);
    // A socket file left by a process that died: nothing answers on it.
    if (!abstract) rmSync(path, { force: true });
  }
  return err(`cannot lock ${real}: its lock socket is taken and nothing answers on it`);
}
