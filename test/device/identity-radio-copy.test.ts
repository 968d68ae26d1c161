// A copy of a device that never shares the broker with it: four `murmur start` validators on a real
// Mosquitto, each with a serial radio (socat ptys through fleet-sim's radio medium), and a fifth
// process with d2's key and device.yaml, its own data directory, its MQTT on a second, empty Mosquitto
// and its radio on the same air. The broker's birth check cannot see it (identity-guard.ts); what it
// signs can: the first proposal or vote with d2's key that one of the two never signed stops that one
// (exit 3, one line). Before, a radio dropped every frame with its own origin, so the two never heard
// each other at all. The other three commit on and nothing is committed against d2.

import { readFileSync, writeFileSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { RadioMedium } from '../../fleet-sim/realtime/radio-medium.js';
import { Mosquitto } from '../links/processes.js';
import { DeviceFleet } from './device-fleet.js';

// About two heights a second: a radio at this rate keeps up with the chain (at ten, the copy's catch-up
// over the air falls behind for good).
const fleet = new DeviceFleet({ validators: 4, consensus: { commitWaitMs: 400 }, agents: false });
const ids = ['d1', 'd2', 'd3', 'd4', 'd2-copy'];
const baud = 230_400;
const air = new RadioMedium({
  fleet: 'e2e',
  ids,
  radio: { baud, mtuBytes: 252, loss: 0, rangeM: 1e6, hopLimit: 3 },
  seed: 1,
  position: () => null,
  up: () => true,
  reach: () => ({ cut: false, loss: 0 }),
});
let otherBroker: Mosquitto;

beforeAll(async () => {
  await fleet.setup();
  await air.start();
  otherBroker = await Mosquitto.start();
  for (const [i, id] of ids.slice(0, 4).entries()) {
    const d = fleet.devices.get(id)!;
    writeFileSync(d.config, `${readFileSync(d.config, 'utf8')}radios: [{ paths: [${air.devicePath(i)}], preset: sik, baud: ${baud} }]\n`);
  }
  await fleet.startAll();
}, 60_000);
afterAll(async () => {
  await fleet.teardown();
  await air.stop();
  await otherBroker.stop();
}, 30_000);

describe('one identity, one process: a copy on the radio only', () => {
  it("a process with d2's key on another broker and the same air: the one that hears a vote it never signed stops with a one-line reason; no evidence against d2; the rest commit on", async () => {
    // Well into the chain, so the copy catches up first: on the way it is sent d2's votes of heights
    // the fleet has passed, which prove nothing (a device whose data directory was replaced hears its
    // earlier votes the same way); what stops one of the two is a vote at the fleet's front.
    let before = await fleet.retainedStatus('d1');
    for (let i = 0; i < 60 && before.height < 15; i++) {
      await new Promise((r) => setTimeout(r, 500));
      before = await fleet.retainedStatus('d1');
    }
    expect(before.height).toBeGreaterThanOrEqual(15);
    const copy = await fleet.copy('d2', 'd2-copy');
    writeFileSync(copy.config, readFileSync(copy.config, 'utf8').replace(fleet.broker.url, otherBroker.url).replace(air.devicePath(1), air.devicePath(4)));
    fleet.start('d2-copy');
    const exits = await Promise.race([
      Promise.all([fleet.exitWithin('d2-copy', 45_000), fleet.exitWithin('d2', 45_000)]),
      // Whichever stops first; then the other gets a moment to stop too (it may not: see below).
      Promise.any([fleet.exitWithin('d2-copy', 45_000), fleet.exitWithin('d2', 45_000)].map((p) => p.then((c) => (c === null ? Promise.reject(new Error('still running')) : c)))).then(async () => Promise.all([fleet.exitWithin('d2-copy', 3_000), fleet.exitWithin('d2', 3_000)])),
    ]).catch(() => [null, null] as const);
    const out = (id: string) => fleet.devices.get(id)!.output;
    const why = `exits (d2-copy, d2): ${exits.join(', ')}\n--- d2-copy:\n${out('d2-copy').slice(-3_000)}\n--- d2:\n${out('d2').slice(-3_000)}`;
    // At least one of the two stopped, with exit 3 and the reason in one line; a copy that is still
    // behind stops on hearing d2's live votes before it signs anything there, so d2 may go on.
    const stopped = (['d2-copy', 'd2'] as const).filter((_, i) => exits[i] !== null);
    expect(stopped.length, why).toBeGreaterThan(0);
    for (const id of stopped) {
      expect(exits[id === 'd2-copy' ? 0 : 1], why).toBe(3);
      const line = out(id).split('\n').find((l) => l.includes('"event":"identity-conflict"'));
      expect(line, why).toContain('signed with the key of d2 turned up that this process never signed');
      expect(out(id), why).not.toMatch(/\n\s+at /); // no stack trace
    }
    if (exits[0] === null) await fleet.stop('d2-copy'); // the copy must not outlive the test either way
    // The fleet (three or four of four votes) commits on; nothing was committed against d2.
    const after = await fleet.retainedStatusPast('d1', before.height, 10, 20_000);
    expect(after.height, why).toBeGreaterThanOrEqual(before.height + 10);
    expect(after.evidence.filter((e) => e.culprit === 'd2'), why).toEqual([]);
  }, 120_000);
});
