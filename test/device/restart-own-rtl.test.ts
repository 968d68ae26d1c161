// A device killed (SIGKILL, by PID) on its own committed rtl, end to end, and started again on the same
// data directory: `murmur start` as a real process on the simulated ArduPilot, its own process
// (restart-world.ts). The FC flies the rtl on (its failsafe on its companion's loss finds it returning
// already). The restarted device finds it returning, as restart-fc-failsafe-return.test.ts's device
// finds the FC's own failsafe return, but its data directory says the return is its own (file
// own-return, runtime/device/own-return.ts): the committed rtl goes on, nothing is sent to the FC, and
// the drone is not handed over. Before, this read as the FC's own failsafe: handed over, and "committed
// rtl not carried out". Its own file, so its processes do not slow the other file's, whose FC's return
// must outlast their hold and resume.

import { existsSync, readFileSync } from 'node:fs';
import { describe, it } from 'vitest';
import { decodeOwnReturn, ownReturnFile } from '../../runtime/device/own-return.js';
import { waitFor } from '../bridge/companion.js';
import { restartWorld } from './restart-world.js';

describe('a device restarted on its own committed rtl', () => {
  it("ardupilot: its own committed rtl, killed on the way: the rtl goes on, nothing sent, not handed over", { timeout: 60_000 }, async (t) => {
    const { expect } = t;
    const { p, sent, fcSaid, statuses, status, start, committed } = await restartWorld(t, 'ardupilot', 'ownrtl');
    const before = start();
    await before.ready;
    await committed('mission.goto', '--arg', 'waypoints=[[0,400]]', '--arg', 'node=d1', '--arg', 'altM=10', '--arg', 'speedMps=12');
    await waitFor('the drone up and on its way', () => fcSaid.armed && fcSaid.mode === 'guided' && fcSaid.relAltM > 5 && sent.some((s) => s.what === 'goto'), 20_000);
    const { command: rtl } = await committed('rtl', '--arg', 'nodes=["d1"]');
    const file = p(`data-d1/${ownReturnFile}`);
    await waitFor('its rtl flown and recorded', () => fcSaid.mode === 'return' && existsSync(file) && readFileSync(file).length > 0, 10_000);
    expect(decodeOwnReturn(new Uint8Array(readFileSync(file)))).toMatchObject({ ok: true, value: { action: 'return-to-launch', command: rtl, what: `rtl for command ${rtl}` } });
    process.kill(before.proc.pid as number, 'SIGKILL');
    fcSaid.modesSince.length = 0;
    fcSaid.modesSince.push('return');
    const killedAt = sent.length;

    const after = start();
    await after.ready;
    const out = (): string => `\n--- restarted d1 ---\n${after.output().slice(-4_000)}`;
    const goesOn = `committed rtl goes on: the vehicle flies this device's own rtl for command ${rtl} from before the restart (mode return); not sent again`;
    await waitFor('the committed rtl goes on', () => after.output().includes(goesOn), 10_000).catch((e: Error) => expect.fail(`${e.message}${out()}`));
    const seen = statuses();
    await waitFor('a status since', () => statuses() > seen, 5_000);
    expect(status()?.handedOver, out()).toBeUndefined();
    expect(after.output(), out()).not.toMatch(/nothing more is commanded until an operator's command/);
    expect(sent.slice(killedAt).map((s) => s.what), out()).toEqual([]);
    expect(fcSaid.modesSince, out()).toEqual(['return']);
  });
});
