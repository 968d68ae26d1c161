// A validator whose key the fleet rotated (a fleet.update to epoch 2) must be restarted with the epoch-2
// manifest: the epoch-1 file lists its old key and is refused. Restarted so before its data directory
// holds a disk snapshot, it replayed its WAL from height 1 with the epoch-2 manifest as genesis, decided
// the old blocks differently (its appHash differed) and refused every block after, reporting health ok.
// The data directory now keeps the chain's genesis (genesis.manifest) and replays from it; a directory
// without one (an older release's) is refused in one line instead of replayed under the wrong set.

import { renameSync, existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createSigner, generateKeyPair } from '../../runtime/crypto/sodium.js';
import { writeKeyFile } from '../../runtime/crypto/key-file.js';
import { unwrap } from '../../runtime/lib/result.js';
import { signManifest } from '../../runtime/manifest/manifest.js';
import { genesisFile } from '../../runtime/device/genesis-file.js';
import { DeviceFleet, until } from './device-fleet.js';

// Checkpoints every 4 heights: a replay under the wrong set hashes another state within a few heights.
const fleet = new DeviceFleet({ validators: 4, consensus: { checkpointEveryHeights: 4, commitWaitMs: 100 }, agents: false });

beforeAll(async () => {
  await fleet.setup();
  await fleet.startAll();
}, 30_000);
afterAll(() => fleet.teardown(), 30_000);

const heightOf = async (id: string): Promise<number> => (await fleet.health(id)).height;

describe('a validator restarted with a newer manifest before its first disk snapshot', () => {
  it('replays from the genesis its data directory keeps and commits on with the fleet', async () => {
    // Epoch 2 rotates d4's key.
    const d4New = generateKeyPair();
    unwrap(await writeKeyFile(join(fleet.dir, 'keys', 'd4new.key'), { id: 'd4', ...d4New }));
    const b = fleet.manifest.body;
    const e2 = unwrap(signManifest({ ...b, epoch: 2, validators: b.validators.map((v) => (v.id === 'd4' ? { ...v, publicKey: d4New.publicKey } : v)) }, createSigner(fleet.authority)));
    const e2File = join(fleet.dir, 'epoch2.manifest');
    writeFileSync(e2File, e2.bytes);
    const update = await fleet.ctl(['send', 'fleet.update', '--arg', `manifest=@${e2File}`, '--key', fleet.keyFile('boss'), '--timeout', '20s']);
    expect(update.code, update.stdout + update.stderr).toBe(0);
    await until('epoch 2 in force on d1', async () => (((await fleet.retainedStatus('d1')) as unknown as { epoch: number }).epoch === 2 ? true : null), 20_000, 250);

    // The d4 process on the old key stops on its own once epoch 2 lists another key for it (exit 3).
    expect(await fleet.exitWithin('d4', 15_000)).toBe(3);
    const dir = fleet.dataDir('d4');
    expect(existsSync(join(dir, 'consensus.snapshot'))).toBe(false);
    const config = fleet.devices.get('d4')!.config;
    writeFileSync(config, readFileSync(config, 'utf8').replace('key: keys/d4.key', 'key: keys/d4new.key').replace('manifest: fleet.manifest', 'manifest: epoch2.manifest'));

    // A data directory an older release kept has no genesis.manifest: refused in one line, not replayed
    // under the epoch-2 set.
    const kept = join(dir, genesisFile);
    expect(existsSync(kept)).toBe(true);
    renameSync(kept, `${kept}.aside`);
    fleet.start('d4');
    const code = await fleet.exitWithin('d4', 15_000);
    const out = fleet.devices.get('d4')!.output;
    expect(code, out.slice(-2_000)).toBe(2);
    const lines = out.trimEnd().split('\n').filter((l) => l.startsWith('murmur:'));
    expect(lines, out.slice(-2_000)).toHaveLength(1);
    expect(lines[0]).toMatch(/consensus\.wal: block 1 names fleet manifest [0-9a-f]{16}…, but replayed from this node's genesis \(epoch 2\) the manifest in force there is epoch 2/);
    expect(lines[0]).toContain(`keeps no ${genesisFile} (an older release's): start the device once with the manifest the fleet started from`);
    renameSync(`${kept}.aside`, kept);

    // With the genesis kept, the epoch-2 file is a trust anchor only: d4 replays under epoch 1 and
    // commits the fleet's next blocks.
    const from = await heightOf('d1');
    fleet.start('d4');
    await fleet.devices.get('d4')!.ready;
    const reached = await until('d4 committing past d1\'s height at its restart', async () => {
      const h = await heightOf('d4');
      return h >= from + 8 ? h : null;
    }, 30_000, 250).catch((e: Error) => {
      throw new Error(`${e.message}\n${fleet.devices.get('d4')!.output.slice(-3_000)}`);
    });
    expect(reached).toBeGreaterThanOrEqual(from + 8);
    expect(fleet.devices.get('d4')!.output).not.toContain('appHash differs');
    // And it holds the fleet's state: its latest checkpoint hashes as d1's at the same height.
    const same = await until('d1 and d4 at the same checkpoint', async () => {
      const [a, b] = [(await fleet.health('d1')).checkpoint, (await fleet.health('d4')).checkpoint];
      return a !== null && b !== null && a.height === b.height ? [a.appHash, b.appHash] : null;
    }, 10_000, 50);
    expect(same[1]).toBe(same[0]);
  }, 90_000);
});
