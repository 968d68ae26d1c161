// Two byte transports joined back to back in memory, delivering on the next tick: for protocol tests
// that script one side (a flight controller misbehaving on purpose) without a process or a pty.

import type { ByteTransport } from '../../firmware-bridge/transport.js';

export function memoryPair(): [ByteTransport, ByteTransport] {
  const handlers: Array<Array<(b: Uint8Array) => void>> = [[], []];
  const end = (me: number): ByteTransport => ({
    name: `mem${me}`,
    write: (b) => setImmediate(() => handlers[1 - me]?.forEach((h) => h(b))),
    onData: (h) => {
      handlers[me]?.push(h);
      return () => undefined;
    },
    close: () => Promise.resolve(),
  });
  return [end(0), end(1)];
}
