// Byte transports the bridges run over: a serial port (real UART or a socat pty) and UDP. Protocol
// engines take any ByteTransport, so tests use real ptys and sockets and devices use real UARTs.
// serialport (and @serialport/bindings-cpp) is imported when a port is first opened, not with this module:
// every device's HAL setup imports this file, and a simulated one never opens a port; loading it cost
// each such start about 0.02 s of CPU (runtime/links/serial-link.ts loads it the same way for radios).

import { createSocket, type Socket } from 'node:dgram';
import { existsSync } from 'node:fs';

export interface ByteTransport {
  readonly name: string;
  write(bytes: Uint8Array): void;
  /** Registers a reader (chunk boundaries carry no meaning); returns what unregisters it. */
  onData(handler: (chunk: Uint8Array) => void): () => void;
  close(): Promise<void>;
}

/** Adds a handler to a list; the returned function removes it again. */
function subscribe<T>(list: T[], h: T): () => void {
  list.push(h);
  return () => {
    const i = list.indexOf(h);
    if (i >= 0) list.splice(i, 1);
  };
}

export interface SerialOptions {
  readonly path: string;
  readonly baudRate: number;
}

/** A serial port that reports when it closes on its own (unplugged, an I/O error). */
export interface SerialTransport extends ByteTransport {
  /** Called once if the port closes without close() being asked; the transport is dead after it. */
  onClose(handler: (reason: string) => void): void;
}

/** Opens a serial port; rejects with a message naming the path when it cannot. */
export async function openSerial(o: SerialOptions): Promise<SerialTransport> {
  const { SerialPort } = await import('serialport');
  return new Promise((resolve, reject) => {
    const port = new SerialPort({ path: o.path, baudRate: o.baudRate, autoOpen: false });
    port.open((e) => {
      if (e) {
        reject(new Error(`cannot open serial port ${o.path}: ${e.message}`));
        return;
      }
      const handlers: Array<(c: Uint8Array) => void> = [];
      const closeHandlers: Array<(reason: string) => void> = [];
      let closing = false;
      port.on('data', (c: Buffer) => {
        for (const h of handlers) h(c);
      });
      // A read or write error on a vanished port closes it (serialport's DisconnectedError) and shows
      // as 'close'; the 'error' event before it carries the same message.
      port.on('error', () => undefined);
      port.on('close', (why?: Error | null) => {
        if (closing) return;
        closing = true;
        for (const h of closeHandlers) h(why?.message ?? 'closed');
      });
      resolve({
        name: `serial:${o.path}`,
        write: (b) => {
          if (port.isOpen) port.write(Buffer.from(b));
        },
        onData: (h) => subscribe(handlers, h),
        onClose: (h) => {
          closeHandlers.push(h);
        },
        close: () =>
          new Promise<void>((res) => {
            closing = true;
            if (!port.isOpen) {
              res();
              return;
            }
            port.close(() => res());
          }),
      });
    });
  });
}

export interface UdpOptions {
  /** Local port to bind on 127.0.0.1 (0 = any free port). */
  readonly localPort: number;
  readonly localHost?: string;
  /** Where to send; when absent, replies go to the last peer heard from (how PX4 answers 14550). */
  readonly remotePort?: number;
  readonly remoteHost?: string;
}

/** MAVLink's UDP conventions: a GCS listens on 14550; PX4 sends offboard/companion traffic to 14540. */
export const udpPortGcs = 14550;
export const udpPortCompanion = 14540;

export interface UdpTransport extends ByteTransport {
  readonly localPort: number;
}

export function openUdp(o: UdpOptions): Promise<UdpTransport> {
  return new Promise((resolve, reject) => {
    const sock: Socket = createSocket('udp4');
    let peer: { port: number; host: string } | null = o.remotePort !== undefined ? { port: o.remotePort, host: o.remoteHost ?? '127.0.0.1' } : null;
    const handlers: Array<(c: Uint8Array) => void> = [];
    let closed = false;
    sock.once('error', (e) => {
      sock.close(); // the failed socket would otherwise stay open for the life of the process
      reject(new Error(`cannot bind UDP ${o.localHost ?? '127.0.0.1'}:${o.localPort}: ${e.message}`));
    });
    sock.on('message', (msg, rinfo) => {
      if (o.remotePort === undefined) peer = { port: rinfo.port, host: rinfo.address };
      for (const h of handlers) h(msg);
    });
    sock.bind(o.localPort, o.localHost ?? '127.0.0.1', () => {
      sock.removeAllListeners('error');
      sock.on('error', () => undefined);
      resolve({
        name: `udp:${sock.address().port}`,
        localPort: sock.address().port,
        write: (b) => {
          if (peer) sock.send(b, peer.port, peer.host);
        },
        onData: (h) => subscribe(handlers, h),
        close: () => {
          if (closed) return Promise.resolve();
          closed = true;
          return new Promise<void>((res) => sock.close(() => res()));
        },
      });
    });
  });
}

export interface DeferredTransport extends ByteTransport {
  /** Opens the port; bytes written before then are dropped (a protocol engine retries them). */
  open(): Promise<void>;
  /** Why the port is not open although it should be (unplugged, reopen failing); null when it is. */
  problem(): string | null;
  /** Times the port was reopened after it went away. */
  reopens(): number;
  /** Registers a handler called each time the port is reopened after it went away (the device on the
   *  other end may have rebooted, or be another one); returns what unregisters it. */
  onReopen(handler: () => void): () => void;
}

export interface DeferredSerialOptions extends SerialOptions {
  /** How often a port that went away is tried again (default 1000 ms). */
  readonly reopenMs?: number;
}

/** A serial transport that exists before its port is open, so protocol engines and the devices built
 *  on them can be wired at construction and the port opened when the device starts. A port that goes
 *  away while open (a USB flight controller or receiver unplugged, a pty pair ended) is reopened every
 *  reopenMs until it is back, as runtime/links/serial-link.ts does for radios; only the first open
 *  failing is an error (a wrong path in device.yaml). */
export function deferredSerial(o: DeferredSerialOptions): DeferredTransport {
  const reopenMs = o.reopenMs ?? 1000;
  let port: SerialTransport | null = null;
  let running = false;
  let lostReason: string | null = null;
  let problem: string | null = null;
  let reopenTimer: NodeJS.Timeout | null = null;
  let watchdog: NodeJS.Timeout | null = null;
  let reopens = 0;
  const handlers: Array<(c: Uint8Array) => void> = [];
  const reopenHandlers: Array<() => void> = [];

  const attach = (p: SerialTransport): void => {
    port = p;
    p.onData((c) => {
      if (port !== p) return;
      for (const h of handlers) h(c);
    });
    p.onClose((reason) => lost(p, reason));
  };
  const lost = (p: SerialTransport, reason: string): void => {
    if (port !== p) return;
    port = null;
    lostReason = reason;
    problem = `serial port ${o.path} went away (${reason}); reopening every ${reopenMs} ms`;
    void p.close();
    scheduleReopen();
  };
  const scheduleReopen = (): void => {
    if (!running || reopenTimer) return;
    reopenTimer = setTimeout(() => {
      reopenTimer = null;
      if (!running) return;
      openSerial(o).then(
        (p) => {
          if (!running || port) return void p.close();
          attach(p);
          problem = null;
          lostReason = null;
          reopens++;
          for (const h of [...reopenHandlers]) h();
        },
        (e: unknown) => {
          problem = `serial port ${o.path} went away (${lostReason ?? 'closed'}); reopening every ${reopenMs} ms, last try: ${(e as Error).message}`;
          scheduleReopen();
        },
      );
    }, reopenMs);
    reopenTimer.unref?.();
  };

  return {
    name: `serial:${o.path}`,
    write: (b) => port?.write(b),
    onData: (h) => subscribe(handlers, h),
    open: async () => {
      if (running) return;
      attach(await openSerial(o));
      running = true;
      // The driver does not always report a hang-up (a pty whose pair ended reports nothing until a
      // write fails; a read-only NMEA port never writes): a device node that is gone closes the port.
      watchdog = setInterval(() => {
        if (port && !existsSync(o.path)) lost(port, 'device node gone');
      }, Math.max(100, Math.min(reopenMs, 1000)));
      watchdog.unref?.();
    },
    problem: () => problem,
    reopens: () => reopens,
    onReopen: (h) => subscribe(reopenHandlers, h),
    close: async () => {
      running = false;
      if (reopenTimer) clearTimeout(reopenTimer);
      if (watchdog) clearInterval(watchdog);
      reopenTimer = null;
      watchdog = null;
      problem = null;
      const p = port;
      port = null;
      await p?.close();
    },
  };
}
