// Membership changes with real processes: four `murmur start` validators on a real Mosquitto.
// A fleet.update adds a fifth validator, started afterwards with the new manifest: the running devices
// start listening to it (they subscribe per peer, and before only to the peers of the manifest they
// started with, so it was never heard while it counted in the quorum), it catches up and votes, and the
// fleet survives an old validator stopped (4 of 5 needed: d5's vote counts).

import { join } from 'node:path';
import { writeFileSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createSigner } from '../../runtime/crypto/sodium.js';
import { unwrap } from '../../runtime/lib/result.js';
import { signManifest, type Manifest } from '../../runtime/manifest/manifest.js';
import { DeviceFleet, until } from './device-fleet.js';

const fleet = new DeviceFleet({ validators: 4, timeScale: 20, consensus: { commitWaitMs: 20, proposeMs: 200, checkpointEveryHeights: 8, syncWindowHeights: 16 }, snapshotEveryHeights: 16, agents: false });

beforeAll(async () => {
  await fleet.setup();
  await fleet.startAll();
}, 60_000);

afterAll(async () => {
  await fleet.teardown();
}, 60_000);

/** Signs the next epoch of `from` with `change` applied, as the fleet authority, into the fleet's dir. */
function nextManifest(from: Manifest, file: string, change: (b: Manifest['body']) => Partial<Manifest['body']>): { manifest: Manifest; file: string } {
  const manifest = unwrap(signManifest({ ...from.body, ...change(from.body), epoch: from.body.epoch + 1, createdAt: Date.now() }, createSigner(fleet.authority)));
  const path = join(fleet.dir, file);
  writeFileSync(path, manifest.bytes);
  return { manifest, file: path };
}

async function fleetUpdate(file: string, ctlManifest: string): Promise<void> {
  const r = await fleet.ctl(['send', 'fleet.update', '--arg', `manifest=@${file}`, '--key', fleet.keyFile('boss'), '--wait', 'committed', '--timeout', '20s', '--json'], 30_000, ctlManifest);
  expect(r.code, r.stdout + r.stderr).toBe(0);
}

/** Waits until `id` commits `heights` more blocks. */
async function commits(id: string, heights: number, ms: number): Promise<void> {
  const from = (await fleet.health(id)).height;
  await until(`${id} to commit ${heights} blocks past ${from}`, async () => ((await fleet.health(id)).height >= from + heights ? true : null), ms);
}

describe('devices a fleet.update adds or removes', () => {
  it('a validator added by fleet.update is heard, catches up and votes: the fleet commits with an old validator stopped', async () => {
    await fleet.addDevice('d5', 'e2.manifest');
    const e2 = nextManifest(fleet.manifest, 'e2.manifest', (b) => ({ validators: [...b.validators, { id: 'd5', publicKey: fleet.publicKey('d5'), power: 1 }] }));
    await fleetUpdate(e2.file, fleet.manifestFile);
    await until('epoch 2 in force at d1', async () => ((await fleet.retainedStatus('d1')) as { epoch?: number }).epoch === 2 || null, 10_000, 300);
    expect(fleet.devices.get('d1')?.output).toMatch(/"event":"peers".*"added":\["d5"\]/);

    fleet.start('d5');
    await fleet.devices.get('d5')?.ready;
    await until('d5 to catch up with d1', async () => {
      const [a, b] = await Promise.all([fleet.health('d1'), fleet.health('d5')]);
      return b.height > 0 && b.height >= a.height - 2 ? true : null;
    }, 25_000, 200);

    // Five validators of power 1: a block needs 4 precommits. With d1 stopped, d2, d3 and d4 are 3.
    await fleet.stop('d1');
    await commits('d2', 3, 20_000);
    const d5 = await fleet.health('d5');
    expect(d5.health, d5.healthReasons.join('; ')).not.toBe('failing');
  }, 90_000);
});
