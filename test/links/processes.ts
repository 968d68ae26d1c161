// Real peers for link tests: Mosquitto on a free loopback port with its own config file, and socat
// pty pairs. Each is started by the test and stopped by its PID (never by name).

import { execFileSync, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import { tmpdir, userInfo } from 'node:os';
import { join } from 'node:path';
import { spawnTied } from '../../firmware-bridge/tools/processes.js';

/** The kernel's ephemeral range starts here: it hands ports from that range to every outgoing
 *  connection and to every listen on port 0, so a port found free there can be taken by any test's
 *  next connect before the process it was meant for binds it. */
function ephemeralLow(): number {
  try {
    const low = Number(readFileSync('/proc/sys/net/ipv4/ip_local_port_range', 'utf8').trim().split(/\s+/)[0]);
    return Number.isInteger(low) && low > 12_000 ? low : 32_768;
  } catch {
    return 32_768;
  }
}

function canListen(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const s = net.createServer();
    s.once('error', () => resolve(false));
    s.listen(port, '127.0.0.1', () => s.close(() => resolve(true)));
  });
}

/** A loopback port no one listens on now, from below the ephemeral range (10000 up to it), so no
 *  outgoing connection is given it meanwhile: only another test picking the same port at random at
 *  the same moment could take it (and Mosquitto, below, retries on a fresh port if one does). */
export async function freePort(): Promise<number> {
  const low = ephemeralLow();
  for (let attempt = 0; attempt < 100; attempt++) {
    const port = 10_000 + Math.floor(Math.random() * (low - 10_000));
    if (await canListen(port)) return port;
  }
  throw new Error(`no free loopback port between 10000 and ${low - 1} after 100 tries`);
}

/** A decade of ports (base*10 + 1..9) no one listens on now, below the ephemeral range as freePort's. */
export async function freeDecade(): Promise<number> {
  const low = ephemeralLow();
  for (let attempt = 0; attempt < 50; attempt++) {
    const base = 1_000 + Math.floor(Math.random() * (Math.floor(low / 10) - 1_000));
    let all = true;
    for (let i = 1; i <= 9 && all; i++) all = await canListen(base * 10 + i);
    if (all) return base;
  }
  throw new Error('no free decade of loopback ports after 50 tries');
}

async function waitForPort(port: number, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const ok = await new Promise<boolean>((r) => {
      const c = net.connect(port, '127.0.0.1');
      c.once('connect', () => {
        c.destroy();
        r(true);
      });
      c.once('error', () => r(false));
    });
    if (ok) return;
    if (Date.now() > deadline) throw new Error(`nothing listening on 127.0.0.1:${port} after ${timeoutMs} ms`);
    await new Promise((r) => setTimeout(r, 25));
  }
}

async function stopProcess(p: ChildProcess, timeoutMs = 3_000): Promise<void> {
  if (p.exitCode !== null || p.signalCode !== null || p.pid === undefined) return;
  const exited = new Promise<void>((r) => p.once('exit', () => r()));
  process.kill(p.pid, 'SIGTERM');
  const t = setTimeout(() => p.pid !== undefined && p.exitCode === null && process.kill(p.pid, 'SIGKILL'), timeoutMs);
  await exited;
  clearTimeout(t);
}

export interface MosquittoAuth {
  /** username -> password, written with mosquitto_passwd. */
  readonly users: Readonly<Record<string, string>>;
  /** The acl_file contents. */
  readonly acl: string;
}

/** Mosquitto's own log said the port was in use. */
class PortTaken extends Error {}

export class Mosquitto {
  private proc: ChildProcess | undefined;
  readonly dir = mkdtempSync(join(tmpdir(), 'murmur-mosquitto-'));

  private constructor(
    readonly port: number,
    private readonly auth: MosquittoAuth | undefined,
  ) {}

  /** On `port`, or on a free one: a port another process took between the probe and the bind (test
   *  files run side by side) is given up for another, a few times at most. */
  static async start(port?: number, auth?: MosquittoAuth): Promise<Mosquitto> {
    for (let attempt = 1; ; attempt++) {
      const m = new Mosquitto(port ?? (await freePort()), auth);
      if (auth) {
        const passwd = join(m.dir, 'passwd');
        writeFileSync(passwd, '', { mode: 0o600 });
        for (const [user, pw] of Object.entries(auth.users)) execFileSync('mosquitto_passwd', ['-b', passwd, user, pw], { stdio: 'pipe', timeout: 10_000 });
        writeFileSync(join(m.dir, 'acl'), auth.acl, { mode: 0o600 });
      }
      try {
        await m.run();
        return m;
      } catch (e) {
        await m.stop();
        if (port !== undefined || attempt >= 5 || !(e instanceof PortTaken)) throw e;
      }
    }
  }

  get url(): string {
    return `mqtt://127.0.0.1:${this.port}`;
  }

  get pid(): number | undefined {
    return this.proc?.pid;
  }

  /** (Re)starts the broker on the same port with the same config. */
  async run(): Promise<void> {
    const conf = join(this.dir, 'mosquitto.conf');
    writeFileSync(
      conf,
      [
        `listener ${this.port} 127.0.0.1`,
        ...(this.auth ? ['allow_anonymous false', `password_file ${join(this.dir, 'passwd')}`, `acl_file ${join(this.dir, 'acl')}`] : ['allow_anonymous true']),
        // Run as whoever started the test: as root, Mosquitto would switch to user "mosquitto", which
        // cannot read this private temp directory's password and ACL files.
        `user ${userInfo().username}`,
        'set_tcp_nodelay true', // Nagle + delayed ACK costs ~80 ms per QoS 1 round trip otherwise
        'persistence false',
        'max_queued_messages 100000', // the default 1000 silently drops QoS 1 bursts (baseline.md §4)
        'max_inflight_messages 1000',
        `log_dest file ${join(this.dir, 'mosquitto.log')}`,
        '',
      ].join('\n'),
    );
    // Its own log says whether it listens: something answering on the port may be another process's
    // (a test file beside this one that took the port between freePort and the bind; then both fleets,
    // each named e2e, met on one broker). A restart appends to the same log: read from where it ends.
    const logFile = join(this.dir, 'mosquitto.log');
    const from = existsSync(logFile) ? statSync(logFile).size : 0;
    // Tied (setpriv --pdeathsig): a test worker ended mid-test (a timeout, vitest stopping) takes it along.
    const proc = spawnTied('mosquitto', ['-c', conf], { stdio: ['ignore', 'ignore', 'pipe'] });
    this.proc = proc;
    let stderr = '';
    proc.stderr?.on('data', (d: Buffer) => (stderr += d.toString()));
    const deadline = Date.now() + 5_000;
    for (;;) {
      const log = existsSync(logFile) ? readFileSync(logFile).subarray(from).toString('utf8') : '';
      if (/Address already in use/.test(log)) {
        await this.kill();
        throw new PortTaken(`mosquitto could not listen on 127.0.0.1:${this.port}: another process took it`);
      }
      if (/ running\n/.test(log)) break;
      if (proc.exitCode !== null || proc.signalCode !== null || Date.now() > deadline) {
        await this.kill();
        throw new Error(`mosquitto did not start: ${log.trim() || stderr || 'no log within 5 s'}`);
      }
      await new Promise((r) => setTimeout(r, 25));
    }
    await waitForPort(this.port, 5_000);
  }

  /** Stops the broker by PID (SIGTERM, then SIGKILL). */
  async kill(): Promise<void> {
    if (this.proc) await stopProcess(this.proc);
    this.proc = undefined;
  }

  log(): string {
    const f = join(this.dir, 'mosquitto.log');
    return existsSync(f) ? readFileSync(f, 'utf8') : '';
  }

  async stop(): Promise<void> {
    await this.kill();
    rmSync(this.dir, { recursive: true, force: true });
  }
}

/** A socat pty pair: two linked serial device paths. */
export class PtyPair {
  private proc: ChildProcess | undefined;

  private constructor(
    readonly a: string,
    readonly b: string,
    private readonly dir: string,
  ) {}

  static async start(): Promise<PtyPair> {
    const dir = mkdtempSync(join(tmpdir(), 'murmur-pty-'));
    const pair = new PtyPair(join(dir, 'ttyA'), join(dir, 'ttyB'), dir);
    await pair.run();
    return pair;
  }

  /** (Re)creates the pair at the same paths: a radio plugged back in. */
  async run(): Promise<void> {
    const proc = spawnTied('socat', ['-d', '-d', `pty,raw,echo=0,link=${this.a}`, `pty,raw,echo=0,link=${this.b}`], { stdio: ['ignore', 'ignore', 'pipe'] });
    this.proc = proc;
    const deadline = Date.now() + 5_000;
    while (!(existsSync(this.a) && existsSync(this.b))) {
      if (Date.now() > deadline || proc.exitCode !== null) {
        await stopProcess(proc);
        throw new Error('socat did not create the pty pair within 5 s');
      }
      await new Promise((r) => setTimeout(r, 10));
    }
  }

  /** Stops socat by PID: both ptys vanish, as when a radio is unplugged. */
  async kill(): Promise<void> {
    if (this.proc) await stopProcess(this.proc);
    this.proc = undefined;
    const deadline = Date.now() + 2_000;
    while ((existsSync(this.a) || existsSync(this.b)) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 10));
  }

  async stop(): Promise<void> {
    await this.kill();
    rmSync(this.dir, { recursive: true, force: true });
  }
}
