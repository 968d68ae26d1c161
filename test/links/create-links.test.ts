// Building a device's links from configuration: presets, names, and errors that name the field.

import { describe, expect, it } from 'vitest';
import { createLinks } from '../../runtime/links/create-links.js';

describe('createLinks', () => {
  it('builds MQTT first, then radios from presets, under one router', () => {
    const r = createLinks({
      fleet: 'f',
      node: 'v0',
      peers: ['v0', 'v1'],
      mqtt: { url: 'mqtt://127.0.0.1:1883', username: 'v0', password: 'x' },
      radios: [
        { preset: 'sik', paths: ['/dev/ttyUSB0'] },
        { preset: 'e32', paths: ['/dev/ttyS1'], dutyCycle: 0.01, relayJitterMs: 200 },
      ],
    });
    expect(r.ok).toBe(true);
    if (!r.ok) return;
    expect(r.value.router.linkStates().map((l) => [l.name, l.mtuBytes])).toEqual([
      ['mqtt', 1_048_576],
      ['radio0', 64 * 226],
      ['radio1', 64 * 32],
    ]);
    expect(r.value.router.isUp()).toBe(false); // nothing started yet
  });

  it('builds the slowest radio it takes: its relays wait at most limits.radioRelayJitterMsMax, not four packets of slow air', () => {
    // Four 256-byte packets at 1,200 baud (120 bytes/s) are 8.5 s; on a 300 bit/s air, 27 s: past the limit.
    for (const air of [undefined, 300]) {
      const r = createLinks({ fleet: 'f', node: 'n', radios: [{ paths: ['/dev/x'], baud: 1_200, packetBytes: 256, ...(air !== undefined ? { airBitsPerSec: air } : {}) }] });
      expect(r.ok ? 'built' : r.error, `air ${air ?? 'the baud'}`).toBe('built');
    }
  });

  it('names the bad field', () => {
    const e = (c: Parameters<typeof createLinks>[0]) => {
      const r = createLinks(c);
      return r.ok ? '' : r.error;
    };
    expect(e({ fleet: 'f', node: 'n' })).toMatch(/configure mqtt or at least one radio/);
    expect(e({ fleet: 'f', node: 'n', mqtt: { url: 'localhost:1883' } })).toMatch(/links.mqtt.url/);
    expect(e({ fleet: 'f', node: 'n', radios: [{ paths: [] }] })).toMatch(/links.radios\[0\].paths/);
    expect(e({ fleet: 'f', node: 'n', radios: [{ paths: ['/dev/x'] }] })).toMatch(/links.radios\[0\].baud/);
    expect(e({ fleet: 'f', node: 'n', radios: [{ preset: 'sik', paths: ['/dev/x'], dutyCycle: 2 }] })).toMatch(/dutyCycle/);
    expect(e({ fleet: 'f', node: 'n', radios: [{ preset: 'sik', paths: ['/dev/x'], hopLimit: 9 }] })).toMatch(/hopLimit/);
    // Before: "relayJitterMs must be 0..10000, is 33600", a field the user never set.
    expect(e({ fleet: 'f', node: 'n', radios: [{ paths: ['/dev/x'], baud: 300, packetBytes: 252 }] })).toBe("links.radios[0].baud is 300: a radio's serial port runs at 1200 baud or more (SiK and E32 radios: 1200..115200)");
    expect(e({ fleet: 'f', node: 'n', radios: [{ preset: 'sik', paths: ['/a'], name: 'r' }, { preset: 'sik', paths: ['/b'], name: 'r' }] })).toMatch(/two links are named "r"/);
  });
});
