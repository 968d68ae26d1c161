// A validator whose data directory comes back without its signer state (restored from a backup, a disk
// image with the chain copied in) cannot know what it signed last. Four `murmur start` validators on a
// real Mosquitto at a few heights a second. d3 stops, so every certificate the other three make holds
// d2's precommit; then d2 stops too, which leaves no quorum: the chain stands still at blocks d2 signed.
// d2's signer state is deleted and it starts again: catching up, it finds its own precommits in the last
// blocks' certificates, which its signer state never signed, and stops before its first vote (exit 3,
// one line) instead of risking a vote that contradicts one it cast a moment ago. Started again once those
// blocks are older than the window (consensus.ownVotesWindowMs), it runs, and with d3 back the fleet
// commits on. The chain stands still and the window is 60 s for the first start, because a restart
// slowed down by a loaded machine must still find them: in one CI run d2 took 7.5 s to become ready
// while the fleet, still at quorum without it, committed past the blocks it had signed, and it ran on;
// 3 s for the second, so the test need not wait out a minute.

import { readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { signerStateFile } from '../../runtime/node/signer-guard.js';
import { DeviceFleet } from './device-fleet.js';

// A 250 ms commit wait: the heights the test waits for (4, then 2 with d3 stopped, then 3 with both back)
// come about four times as fast as at 1 s; the chain stands still while it matters, whatever the rate.
const fleet = new DeviceFleet({ validators: 4, consensus: { commitWaitMs: 250, ownVotesWindowMs: 60_000 }, agents: false });

beforeAll(async () => {
  await fleet.setup();
  await fleet.startAll();
}, 60_000);
afterAll(() => fleet.teardown(), 30_000);

describe('a validator restarted without its signer state', () => {
  it('stops before its first vote while its last precommits are in blocks of the last seconds, and runs once they are older', async () => {
    // Let d2 sign a few heights; then d3 stops, and the three left commit two heights, d2 in every certificate.
    for (let i = 0; i < 40 && ((await fleet.health('d2')).height ?? 0) < 4; i++) await new Promise((r) => setTimeout(r, 250));
    expect(await fleet.stop('d3')).toBe(0);
    const h0 = (await fleet.health('d2')).height;
    for (let i = 0; i < 60 && (await fleet.health('d2')).height < h0 + 2; i++) await new Promise((r) => setTimeout(r, 250));
    expect((await fleet.health('d2')).height).toBeGreaterThanOrEqual(h0 + 2);
    // d2 stops: two of four, no quorum; the chain stands at blocks d2 signed.
    expect(await fleet.stop('d2')).toBe(0);
    const stoppedAt = Date.now();
    rmSync(join(fleet.dataDir('d2'), signerStateFile));
    fleet.start('d2');
    const code = await fleet.exitWithin('d2', 30_000);
    const out = fleet.devices.get('d2')!.output;
    const why = `d2 exit ${code}\n${out.slice(-3_000)}`;
    expect(code, why).toBe(3);
    const line = out.split('\n').find((l) => l.includes('"event":"identity-conflict"'));
    expect(line, why).toContain('a precommit for height');
    expect(line, why).toContain("signed with the key of d2 turned up that this process never signed: another process holds the key, or this device's data directory was replaced since it last signed");
    expect(out, why).not.toMatch(/\n\s+at /); // no stack trace
    expect(out, why).not.toContain('"event":"signed"');
    // Once its last precommits are older than the window it starts and votes again (3 s here).
    const config = fleet.devices.get('d2')!.config;
    writeFileSync(config, readFileSync(config, 'utf8').replace('"ownVotesWindowMs":60000', '"ownVotesWindowMs":3000'));
    expect(readFileSync(config, 'utf8')).toContain('"ownVotesWindowMs":3000');
    await new Promise((r) => setTimeout(r, Math.max(0, stoppedAt + 3_500 - Date.now())));
    const d = fleet.start('d2');
    await d.ready;
    fleet.start('d3'); // a quorum again
    const h1 = (await fleet.health('d2')).height;
    for (let i = 0; i < 60 && (await fleet.health('d2')).height < h1 + 3; i++) await new Promise((r) => setTimeout(r, 250));
    expect((await fleet.health('d2')).height, fleet.devices.get('d2')!.output.slice(-3_000)).toBeGreaterThanOrEqual(h1 + 3);
    expect(await fleet.exitWithin('d2', 1)).toBeNull();
  }, 120_000);
});
