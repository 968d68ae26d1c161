// A signer-state whose last record a crash cut short (the file truncated mid-record while the device was
// stopped): a real `murmur start` drops the record, as README says a power loss's is, and now says so in
// one warning naming the file, the bytes and the offset, as it does for a torn WAL record. It said
// nothing. It runs on and commits.

import { readFileSync, statSync, truncateSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { signerStateFile } from '../../runtime/node/signer-guard.js';
import { DeviceFleet } from './device-fleet.js';

// One validator commits alone, several heights a second.
const fleet = new DeviceFleet({ validators: 1 });

beforeAll(async () => {
  await fleet.setup();
  await fleet.startAll();
}, 30_000);
afterAll(() => fleet.teardown(), 30_000);

describe('a signer-state cut short mid-record', () => {
  it('is dropped with a warning naming the file, the bytes and the offset, and the device runs on', async () => {
    for (let i = 0; i < 40 && (await fleet.health('d1')).height < 5; i++) await new Promise((r) => setTimeout(r, 100));
    expect(await fleet.stop('d1')).toBe(0);
    const file = join(fleet.dataDir('d1'), signerStateFile);
    const size = statSync(file).size;
    expect(size % 512, 'whole 512-byte records').toBe(0);
    truncateSync(file, size - 200);
    await fleet.start('d1').ready;
    const out = fleet.devices.get('d1')!.output;
    const warn = out.split('\n').find((l) => l.includes(`${signerStateFile}: dropped`));
    expect(warn, out.slice(-2_000)).toContain(`d1: ${signerStateFile}: dropped a torn final record of 312 bytes at offset ${size - 512} (a write a crash cut; its signature never left`);
    expect((JSON.parse(warn as string) as { level: number }).level).toBe(40);
    const h = (await fleet.health('d1')).height;
    for (let i = 0; i < 40 && (await fleet.health('d1')).height < h + 3; i++) await new Promise((r) => setTimeout(r, 100));
    expect((await fleet.health('d1')).height).toBeGreaterThanOrEqual(h + 3);
    // The file is whole records again.
    expect(statSync(file).size % 512).toBe(0);
    expect(readFileSync(file).length).toBeGreaterThan(0);
  }, 30_000);
});
