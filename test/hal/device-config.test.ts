// The devices section: drivers chosen by config, and errors that name the field.

import { describe, expect, it } from 'vitest';
import { Prng } from '../../runtime/lib/prng.js';
import { SimMultirotor } from '../../hal/sim/multirotor.js';
import { openDevices } from '../../hal/device-config.js';

describe('openDevices (drivers chosen by the devices config section)', () => {
  it('builds sim drivers over the given vehicle, and a sysfs LED', async () => {
    const vehicle = new SimMultirotor({}, new Prng(1), 0);
    const r = await openDevices({ position: { driver: 'sim' }, flight: { driver: 'sim' }, range: { driver: 'sim' }, led: { driver: 'sysfs', name: 'led0' } }, { vehicle });
    expect(r.ok).toBe(true);
    if (!r.ok) return;
    expect(r.value.devices.position?.driver).toBe('sim');
    expect(r.value.devices.flight?.driver).toBe('sim');
    expect(r.value.devices.led?.driver).toBe('sysfs');
    expect(r.value.devices.battery).toBeUndefined();
    await r.value.close();
  });

  it('names the field and the fix when the config is wrong', async () => {
    expect(await openDevices({ position: { driver: 'gpsd' } })).toMatchObject({ ok: false, error: expect.stringMatching(/^devices\.position/) });
    expect(await openDevices({ flight: { driver: 'mavlink' } })).toEqual({ ok: false, error: 'devices.mavlink: a device uses the mavlink driver; set mavlink.serial or mavlink.udp' });
    expect(await openDevices({ flight: { driver: 'sim' } })).toMatchObject({ ok: false, error: expect.stringContaining('needs the simulated vehicle') });
    const both = await openDevices({ flight: { driver: 'mavlink' }, mavlink: { serial: { path: '/dev/null' }, udp: {} } });
    expect(both).toMatchObject({ ok: false, error: expect.stringContaining('exactly one of mavlink.serial or mavlink.udp') });
    const missing = await openDevices({ flight: { driver: 'mavlink' }, mavlink: { serial: { path: '/nonexistent/ttyACM9' } } });
    expect(missing).toMatchObject({ ok: false, error: expect.stringContaining('cannot open serial port /nonexistent/ttyACM9') });
  });
});
