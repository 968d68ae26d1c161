// A device whose consensus.snapshot was removed while it was stopped (an operator clearing space, or
// following "move it aside" for the WAL on the wrong file), its WAL and signer state kept: a real
// `murmur start` cannot replay the WAL's blocks (they follow the snapshot), skips them, and catches up
// from its peers by state sync, safely (its signer state is intact). It said nothing about the blocks
// it skipped; now one warning names the WAL, how many blocks and which heights.

import { rmSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { snapshotFile } from '../../runtime/node/snapshot-file.js';
import { DeviceFleet } from './device-fleet.js';

// Snapshots every 16 heights, checkpoints every 2: a snapshot on disk within a few seconds, the WAL
// then holding the blocks since it. (At 64, the wait for the first one was about 7 s of the file's 17.)
const fleet = new DeviceFleet({ validators: 4, consensus: { checkpointEveryHeights: 2, syncWindowHeights: 4 }, snapshotEveryHeights: 16, agents: false });

beforeAll(async () => {
  await fleet.setup();
  await fleet.startAll();
}, 30_000);
afterAll(() => fleet.teardown(), 30_000);

describe('consensus.snapshot removed, the WAL kept', () => {
  it('skips the WAL blocks past the gap with a warning naming them, and catches up from peers', async () => {
    // Past the first snapshot (16) and a few heights more, not at a multiple of 16 (an empty WAL).
    for (let i = 0; i < 120 && (await fleet.health('d2')).height < 22; i++) await new Promise((r) => setTimeout(r, 100));
    expect((await fleet.health('d2')).height).toBeGreaterThanOrEqual(22);
    expect(await fleet.stop('d2')).toBe(0);
    rmSync(join(fleet.dataDir('d2'), snapshotFile));
    await fleet.start('d2').ready;
    const tip = (await fleet.health('d1')).height;
    for (let i = 0; i < 100 && (await fleet.health('d2')).height < tip; i++) await new Promise((r) => setTimeout(r, 100));
    expect((await fleet.health('d2')).height).toBeGreaterThanOrEqual(tip);
    // Its stdout may reach this process after /health answered: the install line is awaited (5 s at most).
    for (let i = 0; i < 50 && !fleet.devices.get('d2')!.output.includes('state sync: installed snapshot'); i++) await new Promise((r) => setTimeout(r, 100));
    const out = fleet.devices.get('d2')!.output;
    const warn = out.split('\n').find((l) => l.includes('consensus.wal: skipped'));
    expect(warn, out.slice(-3_000)).toMatch(/d2: consensus\.wal: skipped \d+ committed blocks \(heights (1[7-9]|2[01])-\d+\) that do not follow the chain here \(height 0; consensus\.snapshot missing or older than the WAL\?\); catching up from peers instead/);
    expect((JSON.parse(warn as string) as { level: number }).level).toBe(40);
    expect(out).toContain('state sync: installed snapshot');
    expect(out).not.toContain('identity-conflict');
  }, 40_000);
});
