// device.yaml's hal section: configurations that would start a device on other hardware than the one
// described are refused when the file is read, naming the field and the fix.

import { describe, expect, it } from 'vitest';
import { parseDeviceConfig } from '../../runtime/config/device-config.js';

const base = 'id: v0\nkey: k\nmanifest: m\ndataDir: d\nmqtt: { url: "mqtt://127.0.0.1:1883" }\n';
const parse = (hal: string) => parseDeviceConfig(`${base}${hal}\n`, 'device.yaml');

describe('device.yaml hal section', () => {
  it('refuses hal.mavlink without driver: mavlink (the default driver is the simulated vehicle)', () => {
    // Accepted before: the device flew a simulated vehicle while its flight controller sat unused.
    const r = parse('hal: { mavlink: { serial: /dev/ttyACM0, baud: 921600, autopilot: px4 } }');
    expect(r.ok ? `accepted, driver ${r.value.hal.driver}` : r.error).toBe(
      'device.yaml: hal.mavlink: set, but hal.driver is sim (the default: a simulated vehicle); add `driver: mavlink` to fly the flight controller on /dev/ttyACM0, or remove hal.mavlink',
    );
  });

  it('refuses hal.mavlink with driver: none the same way', () => {
    const r = parse('hal: { driver: none, mavlink: { serial: /dev/ttyACM0 } }');
    expect(r.ok ? 'accepted' : r.error).toContain('hal.mavlink: set, but hal.driver is none');
  });

  it('refuses one serial port for both the flight controller and the GNSS receiver', () => {
    const r = parse('hal: { driver: mavlink, mavlink: { serial: /dev/ttyAMA0 }, gnss: { driver: nmea, serial: /dev/ttyAMA0 } }');
    expect(r.ok ? 'accepted' : r.error).toBe('device.yaml: hal.gnss.serial: /dev/ttyAMA0 is also hal.mavlink.serial; a port carries one of them: give the receiver its own port, or remove hal.gnss to use the flight controller\'s position');
  });

  it('still accepts the documented combinations', () => {
    expect(parse('hal: { driver: mavlink, mavlink: { serial: /dev/ttyACM0 }, gnss: { driver: nmea, serial: /dev/ttyAMA0 } }').ok).toBe(true);
    expect(parse('hal: { driver: none, gnss: { driver: nmea, serial: /dev/ttyAMA0 } }').ok).toBe(true);
    expect(parse('hal: { driver: sim, sim: { seed: 3 } }').ok).toBe(true);
  });
});
