// Byte transports the bridges run over: a serial port (real UART or a socat pty) and UDP. Protocol
// engines take any ByteTransport, so tests use real ptys and sockets and devices use real UARTs.

import { createSocket, type Socket } from 'node:dgram';
import { SerialPort } from 'serialport';

export interface ByteTransport {
  readonly name: string;
  write(bytes: Uint8Array): void;
  /** Registers the reader; chunk boundaries carry no meaning. */
  onData(handler: (chunk: Uint8Array) => void): void;
  close(): Promise<void>;
}

export interface SerialOptions {
  readonly path: string;
  readonly baudRate: number;
}

/** Opens a serial port; rejects with a message naming the path when it cannot. */
export function openSerial(o: SerialOptions): Promise<ByteTransport> {
  return new Promise((resolve, reject) => {
    const port = new SerialPort({ path: o.path, baudRate: o.baudRate, autoOpen: false });
    port.open((e) => {
      if (e) {
        reject(new Error(`cannot open serial port ${o.path}: ${e.message}`));
        return;
      }
      const handlers: Array<(c: Uint8Array) => void> = [];
      port.on('data', (c: Buffer) => {
        for (const h of handlers) h(c);
      });
      // A write error on a vanished port surfaces as 'error'; the link-loss detector reports it.
      port.on('error', () => undefined);
      resolve({
        name: `serial:${o.path}`,
        write: (b) => {
          if (port.isOpen) port.write(Buffer.from(b));
        },
        onData: (h) => {
          handlers.push(h);
        },
        close: () =>
          new Promise<void>((res) => {
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
    sock.once('error', (e) => reject(new Error(`cannot bind UDP ${o.localHost ?? '127.0.0.1'}:${o.localPort}: ${e.message}`)));
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
        onData: (h) => {
          handlers.push(h);
        },
        close: () => new Promise<void>((res) => sock.close(() => res())),
      });
    });
  });
}

export interface DeferredTransport extends ByteTransport {
  /** Opens the port; bytes written before then are dropped (a protocol engine retries them). */
  open(): Promise<void>;
}

/** A serial transport that exists before its port is open, so protocol engines and the devices built
 *  on them can be wired at construction and the port opened when the device starts. */
export function deferredSerial(o: SerialOptions): DeferredTransport {
  let port: ByteTransport | null = null;
  const handlers: Array<(c: Uint8Array) => void> = [];
  return {
    name: `serial:${o.path}`,
    write: (b) => port?.write(b),
    onData: (h) => {
      handlers.push(h);
    },
    open: async () => {
      if (port) return;
      port = await openSerial(o);
      port.onData((c) => {
        for (const h of handlers) h(c);
      });
    },
    close: async () => {
      const p = port;
      port = null;
      await p?.close();
    },
  };
}
