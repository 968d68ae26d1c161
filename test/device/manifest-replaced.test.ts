// A device whose fleet.manifest was replaced, while it was stopped, by one another authority signed (an
// image of another fleet's /etc/murmur, a provisioning mix-up): a real `murmur start` on a data directory
// holding a snapshot refuses in one line that names the manifest as what to fix (exit 2). It said the
// snapshot failed to verify and to move the snapshot aside, which would not have helped. The data
// directory names its fleet and authority (file `fleet`, data-fleet.ts), which refuses first, then the
// genesis it keeps (genesis-file.ts); a directory from a release before those files has the snapshot's
// check alone, tested here too.

import { copyFileSync, existsSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createSigner, generateKeyPair } from '../../runtime/crypto/sodium.js';
import { toHex } from '../../runtime/lib/bytes.js';
import { unwrap } from '../../runtime/lib/result.js';
import { signManifest } from '../../runtime/manifest/manifest.js';
import { snapshotFile } from '../../runtime/node/snapshot-file.js';
import { dataFleetFile } from '../../runtime/device/data-fleet.js';
import { genesisFile } from '../../runtime/device/genesis-file.js';
import { DeviceFleet } from './device-fleet.js';

// One validator commits alone; a snapshot every 4 heights is on disk within a second or two.
const fleet = new DeviceFleet({ validators: 1, consensus: { checkpointEveryHeights: 2, syncWindowHeights: 4 }, snapshotEveryHeights: 4 });

beforeAll(async () => {
  await fleet.setup();
  await fleet.startAll();
}, 30_000);
afterAll(() => fleet.teardown(), 30_000);

describe('a fleet.manifest replaced by another authority\'s while the device was stopped', () => {
  it('refuses to start naming the manifest and both authorities; with its own manifest back it starts', async () => {
    const snapshot = join(fleet.dataDir('d1'), snapshotFile);
    for (let i = 0; i < 80 && !existsSync(snapshot); i++) await new Promise((r) => setTimeout(r, 100));
    expect(existsSync(snapshot), fleet.devices.get('d1')!.output.slice(-2_000)).toBe(true);
    expect(await fleet.stop('d1')).toBe(0);
    const own = fleet.manifestFile + '.own';
    copyFileSync(fleet.manifestFile, own);
    const other = generateKeyPair();
    const body = { ...fleet.manifest.body, authority: other.publicKey };
    writeFileSync(fleet.manifestFile, unwrap(signManifest(body, createSigner(other))).bytes);
    const refusal = async (): Promise<string> => {
      fleet.start('d1');
      const code = await fleet.exitWithin('d1', 15_000);
      const out = fleet.devices.get('d1')!.output;
      expect(code, out.slice(-2_000)).toBe(2);
      const lines = out.trimEnd().split('\n').filter((l) => l.startsWith('murmur:'));
      expect(lines, out.slice(-2_000)).toHaveLength(1);
      expect(out).not.toMatch(/\n\s+at /);
      return lines[0] as string;
    };
    const ours = toHex(fleet.authority.publicKey).slice(0, 16);
    const theirs = toHex(other.publicKey).slice(0, 16);
    // The directory's own record of its fleet refuses first, naming the manifest as the first fix.
    const first = await refusal();
    expect(first).toContain(`holds the data of fleet "${fleet.manifest.body.fleet}" (authority ${ours}…), not of the manifest's fleet "${fleet.manifest.body.fleet}" (authority ${theirs}…): give the device its own fleet's manifest (device.yaml: manifest)`);
    expect(first).not.toContain('move it aside');
    // The genesis the directory keeps (genesis-file.ts) refuses next, naming the manifest too.
    rmSync(join(fleet.dataDir('d1'), dataFleetFile));
    const genesis = await refusal();
    expect(genesis).toContain(`${genesisFile}: the chain in this data directory is fleet authority ${ours}…'s, but the manifest this device was given is signed by authority ${theirs}…; give the device its own fleet's manifest (device.yaml: manifest)`);
    // A directory with neither record (an older release's): the snapshot's check says the same.
    rmSync(join(fleet.dataDir('d1'), genesisFile));
    const older = await refusal();
    expect(older).toContain(`${snapshotFile}: the chain in this data directory is fleet authority ${ours}…'s, but the manifest this device was given is signed by authority ${theirs}…; give the device its own fleet's manifest (device.yaml: manifest)`);
    expect(older).not.toContain('move it aside');
    copyFileSync(own, fleet.manifestFile);
    await fleet.start('d1').ready;
  }, 30_000);
});
