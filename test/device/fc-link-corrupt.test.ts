// A flight controller whose frames reach the device corrupted (a bad cable, noise on its wire): the
// device keeps flying on the good frames and says what it drops, in its log (at most once a minute, with
// how many) and in /metrics (murmur_fc_link{counter="badCrc"}). Before, the corrupt frames were dropped
// one by one with health ok, no log line and no metric: nothing showed a cable going bad.

import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { SimFlightController } from '../../firmware-bridge/sim-fc/sim-fc.js';
import { openSerial, type ByteTransport } from '../../firmware-bridge/transport.js';
import { Device } from '../../runtime/device/device.js';
import { createLogger } from '../../runtime/device/observability.js';
import { mavlinkDeviceRig } from './mavlink-device-rig.js';

describe('a device whose flight controller link corrupts frames', () => {
  it('says how many frames failed the CRC check, in its log and its metrics, and keeps the FC heard', { timeout: 60_000 }, async (t) => {
    const { p, pair, parts, cleanup } = await mavlinkDeviceRig(t, 'fccorrupt');
    const logFile = p('d1.log');
    const device = new Device(parts, Date.now(), {}, { log: createLogger('d1', 'info', () => ({ height: 0, round: 0 }), logFile) });
    cleanup.push(() => device.stop());
    await device.start();
    const serial = await openSerial({ path: pair.b, baudRate: 115_200 });
    cleanup.push(() => serial.close());
    // Every third write of the FC has one byte of its payload flipped (a frame of its own: sim-fc writes
    // one frame per write), so its CRC fails on the device's side.
    let writes = 0;
    const noisy: ByteTransport = {
      name: serial.name,
      onData: (h) => serial.onData(h),
      close: () => serial.close(),
      write: (bytes) => {
        const b = new Uint8Array(bytes);
        if (++writes % 3 === 0 && b.length > 12) b[11] = (b[11] as number) ^ 0x5a;
        serial.write(b);
      },
    };
    const fc = new SimFlightController({ transport: noisy, family: 'ardupilot', seed: 5, heartbeatIntervalMs: 200 });
    fc.start();
    cleanup.push(() => fc.stop());

    const metric = async (): Promise<number> => {
      const text = await (await fetch(`http://127.0.0.1:${device.httpPort}/metrics`)).text();
      const m = /^murmur_fc_link\{counter="badCrc"\} (\d+)$/m.exec(text);
      return m ? Number(m[1]) : -1;
    };
    const lines = (): string[] => readFileSync(logFile, 'utf8').trim().split('\n').map((l) => JSON.parse(l) as { event?: string; msg: string }).filter((l) => l.event === 'fc-link').map((l) => l.msg);
    let bad = -1;
    for (const deadline = Date.now() + 20_000; Date.now() < deadline && (bad <= 0 || lines().length === 0); await new Promise((r) => setTimeout(r, 250))) bad = await metric();
    expect(bad).toBeGreaterThan(0);
    expect(lines()).toHaveLength(1);
    expect(lines()[0]).toMatch(/^flight controller link: \d+ frames failed the CRC check since the start \(\d+ good frames in all\): check the cable, its shielding and the baud rate/);
    // The good frames keep the flight controller heard.
    const health = (await (await fetch(`http://127.0.0.1:${device.httpPort}/health`)).json()) as { healthReasons: string[] };
    expect(health.healthReasons.filter((r) => r.startsWith('flight:'))).toEqual([]);
  });
});
