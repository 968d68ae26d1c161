// fleet-sim's air on its own: real socat pty pairs, a packet written into one device's end arrives at
// the devices in range after its airtime at the scenario's baud rate, and nowhere else.

import { afterEach, describe, expect, it } from 'vitest';
import { openSerial, type ByteTransport } from '../../firmware-bridge/transport.js';
import { RadioMedium } from '../../fleet-sim/realtime/radio-medium.js';
import { createSigner, generateKeyPair, initCrypto } from '../../runtime/crypto/sodium.js';
import { cobsEncode } from '../../runtime/links/cobs.js';
import { fleetTag } from '../../runtime/links/frame.js';
import { encodeRadioFrame } from '../../runtime/links/radio-frame.js';
import { nodeTag } from '../../runtime/links/serial-link.js';
import { sealEnvelope } from '../../runtime/wire/envelope.js';
import { encodeHeartbeatBody } from '../../runtime/wire/heartbeat.js';

const positions = [
  { northM: 0, eastM: 0 },
  { northM: 0, eastM: 500 },
  { northM: 0, eastM: 2_000 },
];

describe('radio medium', () => {
  let medium: RadioMedium | null = null;
  const ends: ByteTransport[] = [];
  afterEach(async () => {
    for (const e of ends.splice(0)) await e.close();
    await medium?.stop();
  });

  it('delivers a packet after its airtime to the devices in range only, and honours a cut', async () => {
    let cut = false;
    medium = new RadioMedium({
      fleet: 'air',
      ids: ['a', 'b', 'c'],
      radio: { baud: 9_600, mtuBytes: 252, loss: 0, rangeM: 800, hopLimit: 1 },
      seed: 1,
      position: (i) => positions[i] ?? null,
      up: () => true,
      reach: () => ({ cut, loss: 0 }),
    });
    await medium.start();
    const got: { at: number; bytes: number }[][] = [[], [], []];
    for (let i = 0; i < 3; i++) {
      const end = await openSerial({ path: medium.devicePath(i), baudRate: 9_600 });
      end.onData((c) => got[i]?.push({ at: performance.now(), bytes: c.length }));
      ends.push(end);
    }
    const packet = Buffer.concat([Buffer.alloc(239, 7), Buffer.of(0)]); // 240 bytes on the air: 250 ms at 9600 baud
    const sentAt = performance.now();
    ends[0]?.write(packet);
    for (let k = 0; k < 100 && got[1]?.reduce((n, x) => n + x.bytes, 0) !== 240; k++) await new Promise((r) => setTimeout(r, 20));
    expect(got[1]?.reduce((n, x) => n + x.bytes, 0)).toBe(240);
    expect((got[1]?.[0]?.at ?? 0) - sentAt).toBeGreaterThanOrEqual(240);
    expect(got[2]).toEqual([]); // 2 km away
    expect(got[0]).toEqual([]); // no echo to the sender
    expect(medium.links()).toEqual([[0, 1]]);
    cut = true;
    ends[0]?.write(packet);
    await new Promise((r) => setTimeout(r, 600));
    expect(got[1]?.reduce((n, x) => n + x.bytes, 0)).toBe(240);
    expect(medium.counters).toMatchObject({ packetsSent: 2, copiesDelivered: 1, copiesCut: 1, copiesOutOfRange: 2, relays: 0 }); // not a frame: no origin to judge
  }, 20_000);

  it('reads the heartbeats it carries (height, position, battery), so a run is followed without the broker', async () => {
    await initCrypto();
    medium = new RadioMedium({
      fleet: 'air',
      ids: ['a', 'b'],
      radio: { baud: 57_600, mtuBytes: 252, loss: 0, rangeM: 800, hopLimit: 1 },
      seed: 1,
      position: () => null,
      up: () => true,
      reach: () => ({ cut: false, loss: 0 }),
    });
    await medium.start();
    const end = await openSerial({ path: medium.devicePath(1), baudRate: 57_600 });
    ends.push(end);
    const body = encodeHeartbeatBody({ node: 'b', seq: 1, session: 1, height: 42, round: 1, health: 'ok', position: [10, -5, 30], batteryPct: 77 });
    const env = sealEnvelope('heartbeat', 'air', 'b', body, createSigner(generateKeyPair()));
    const frame = (origin: number) => encodeRadioFrame({ cls: 'heartbeat', fleetTag: fleetTag('air'), origin, msgId: 1, hopsLeft: 1, index: 0, count: 1, dest: undefined, fragment: env });
    end.write(Buffer.concat([Buffer.from(cobsEncode(frame(nodeTag('a')))), Buffer.of(0)])); // b relays a's packet
    for (let k = 0; k < 50 && !medium.heard.has(1); k++) await new Promise((r) => setTimeout(r, 20));
    expect(medium.heard.get(1)).toMatchObject({ height: 42, round: 1, position: [10, -5, 30], batteryPct: 77 });
    end.write(Buffer.concat([Buffer.from(cobsEncode(frame(nodeTag('b')))), Buffer.of(0)])); // b's own
    for (let k = 0; k < 50 && medium.counters.packetsSent < 2; k++) await new Promise((r) => setTimeout(r, 20));
    // Relays are told from a transmitter's own packets by the origin in the frame.
    expect(medium.counters).toMatchObject({ packetsSent: 2, relays: 1 });
  }, 20_000);
});
