// A device with MQTT and a radio whose serial port is not there at boot (a USB radio not plugged in, a
// wrong path): it runs on MQTT, and its log says which link it runs without and why. Before, the
// router dropped the radio silently (Router.startErrors was never read).

import { readFileSync, writeFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { fleetForFile } from '../support/fleet-procs.js';

const fleet = fleetForFile({ validators: 1, followers: 0, brokerUrl: null, processes: true, fleet: 'radio-missing' });

describe('a link that does not start', () => {
  it('is named in one log line with its reason, and the device runs on the others', async () => {
    const d = fleet.devices[0];
    if (!d) throw new Error('no device');
    writeFileSync(d.config, readFileSync(d.config, 'utf8') + 'radios: [{ name: radio0, paths: ["/dev/murmur-test-no-such-radio"], baud: 57600, packetBytes: 252 }]\n');
    await fleet.start(d);
    const line = d.output.split('\n').find((l) => l.includes('"event":"link-start-failed"'));
    expect(line, d.output.slice(-2_000)).toBeDefined();
    expect(line).toContain('link radio0 did not start');
    expect(line).toContain('/dev/murmur-test-no-such-radio');
    expect(line).toContain('this device runs without it until restarted');
    expect(d.output).not.toMatch(/\n\s+at /); // no stack trace
    expect(d.output).toContain('"event":"ready"');
    await fleet.kill(d);
  }, 40_000);
});
