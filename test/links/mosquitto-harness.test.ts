// The tests' Mosquitto (processes.ts) knows its own broker from another process's listener: a port
// taken between freePort and the bind (test files run side by side) once let two fleets, each named
// e2e, meet on one broker. It reads its own log instead of trusting whatever answers on the port.

import net from 'node:net';
import { describe, expect, it } from 'vitest';
import { freePort, Mosquitto } from './processes.js';

describe("the tests' Mosquitto", () => {
  it('refuses a port another process listens on (it does not take that listener for its own); a fresh start gets a port of its own', async () => {
    const port = await freePort();
    const other = net.createServer((s) => s.destroy());
    await new Promise<void>((r) => other.listen(port, '127.0.0.1', () => r()));
    try {
      await expect(Mosquitto.start(port)).rejects.toThrow(`mosquitto could not listen on 127.0.0.1:${port}: another process took it`);
      const m = await Mosquitto.start();
      try {
        expect(m.port).not.toBe(port);
        expect(m.log()).toMatch(new RegExp(`Opening ipv4 listen socket on port ${m.port}\\.`));
      } finally {
        await m.stop();
      }
    } finally {
      await new Promise<void>((r) => other.close(() => r()));
    }
  });
});
