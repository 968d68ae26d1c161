// Membership changes with real processes: four `murmur start` validators on a real Mosquitto.
// A fleet.update adds a fifth validator, started afterwards with the new manifest: the running devices
// start listening to it (they subscribe per peer, and before only to the peers of the manifest they
// started with, so it was never heard while it counted in the quorum), it catches up and votes, and the
// fleet survives an old validator stopped (4 of 5 needed: d5's vote counts). A second fleet.update
// removes d4: d4 says why and stops with exit 3, its last status says so, and a new start is refused.
// A third rotates d3's key: the process with the old key stops the same way; given the new key, it
// votes again. An operator holding only the first manifest follows the three changes to verify a commit.

import { join } from 'node:path';
import { readFileSync, writeFileSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { writeKeyFile } from '../../runtime/crypto/key-file.js';
import { createSigner, generateKeyPair } from '../../runtime/crypto/sodium.js';
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
  let e2: { manifest: Manifest; file: string };
  let e3: { manifest: Manifest; file: string };

  it('a validator added by fleet.update is heard, catches up and votes: the fleet commits with an old validator stopped', async () => {
    await fleet.addDevice('d5', 'e2.manifest');
    e2 = nextManifest(fleet.manifest, 'e2.manifest', (b) => ({ validators: [...b.validators, { id: 'd5', publicKey: fleet.publicKey('d5'), power: 1 }] }));
    await fleetUpdate(e2.file, fleet.manifestFile);
    // Started at once, as README says: its first offers are of a snapshot proven under epoch 1, older
    // than the epoch-2 manifest it was given, which it must wait out rather than hold against its peers.
    fleet.start('d5');
    await until('epoch 2 in force at d1', async () => ((await fleet.retainedStatus('d1')) as { epoch?: number }).epoch === 2 || null, 10_000, 300);
    expect(fleet.devices.get('d1')?.output).toMatch(/"event":"peers".*"added":\["d5"\]/);
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

  it('a validator a fleet.update removes says so and stops with exit 3; a new start is refused', async () => {
    // d2, d3 and d5 of the new four (d1 stopped): 3 of 4, enough.
    e3 = nextManifest(e2.manifest, 'e3.manifest', (b) => ({ validators: b.validators.filter((v) => v.id !== 'd4') }));
    await fleetUpdate(e3.file, e2.file);
    expect(await fleet.exitWithin('d4', 15_000)).toBe(3);
    const out = fleet.devices.get('d4')?.output ?? '';
    expect(out).toMatch(/"event":"not-member".*the fleet manifest in force \(epoch 3\) no longer lists \\"d4\\": a fleet.update removed it/);
    const last = (await fleet.retainedStatus('d4')) as unknown as { state: string; notMember?: string };
    expect(last.state).toBe('offline');
    expect(last.notMember).toContain('(epoch 3) no longer lists "d4"');
    await commits('d2', 3, 20_000);

    fleet.start('d4');
    expect(await fleet.exitWithin('d4', 20_000)).toBe(3);
    expect(fleet.devices.get('d4')?.output).toContain('the fleet manifest in force (epoch 3) no longer lists "d4": a fleet.update removed it; give this device its new key and the manifest that lists it');
  }, 90_000);

  it('a validator whose key a fleet.update rotates stops with exit 3 and runs again with the new key', async () => {
    // d1 back (its device.yaml still names epoch 1: it takes epochs 2 and 3 from the chain), so d1, d2
    // and d5 keep a quorum of the four while d3 changes keys.
    fleet.start('d1');
    await fleet.devices.get('d1')?.ready;
    const rotated = generateKeyPair();
    const e4 = nextManifest(e3.manifest, 'e4.manifest', (b) => ({ validators: b.validators.map((v) => (v.id === 'd3' ? { ...v, publicKey: rotated.publicKey } : v)) }));
    await fleetUpdate(e4.file, e3.file);
    expect(await fleet.exitWithin('d3', 15_000)).toBe(3);
    expect(fleet.devices.get('d3')?.output).toMatch(/"event":"not-member".*the fleet manifest in force \(epoch 4\) lists another key for \\"d3\\".*its key was rotated/);
    await commits('d2', 3, 20_000);

    // The device given its new key and the manifest that lists it votes again.
    unwrap(await writeKeyFile(join(fleet.dir, 'keys', 'd3-new.key'), { id: 'd3', ...rotated }));
    const config = fleet.devices.get('d3')?.config as string;
    writeFileSync(config, readFileSync(config, 'utf8').replace('key: keys/d3.key', 'key: keys/d3-new.key').replace('manifest: fleet.manifest', 'manifest: e4.manifest'));
    fleet.start('d3');
    await fleet.devices.get('d3')?.ready;
    await commits('d3', 3, 20_000);
    expect((await fleet.health('d3')).health).not.toBe('failing');

    // An operator still holding the epoch-1 manifest: murmurctl follows the three changes from the
    // proofs the devices keep (each checked with keys it already trusts) and verifies the commit
    // against epoch 4, where d3 signs with its new key. Before, this was `unverified` (exit 3).
    const r = await fleet.ctl(['send', 'noop', '--wait', 'committed', '--timeout', '20s'], 30_000, fleet.manifestFile);
    expect(r.code, r.stdout + r.stderr).toBe(0);
    expect(r.stderr).toMatch(/the fleet's manifest is epoch 4 \([0-9a-f]{16}\), newer than --manifest \S+ \(epoch 1\): followed through 3 committed changes, each proven by its block's certificate/);
    expect(r.stdout).toMatch(/^certificate verified: signed by (d\d, )+d\d \(\d of 4 voting power\)$/m);
    const j = await fleet.ctl(['send', 'noop', '--wait', 'committed', '--timeout', '20s', '--json'], 30_000, fleet.manifestFile);
    expect(j.code, j.stdout + j.stderr).toBe(0);
    expect(JSON.parse(j.stdout)).toMatchObject({ outcome: 'accepted', totalPower: 4, followed: { fromEpoch: 1, epoch: 4, hash: Buffer.from(e4.manifest.hash).toString('hex') } });
    // status follows them too: the members in force (d4 removed, d5 added), not the copy's.
    const st = await fleet.ctl(['status', '--json', '--timeout', '1s'], 30_000, fleet.manifestFile);
    expect(st.code, st.stdout + st.stderr).toBe(0);
    expect((JSON.parse(st.stdout) as { node: string }[]).map((row) => row.node)).toEqual(['d1', 'd2', 'd3', 'd5']);
    expect(st.stderr).toMatch(/the fleet's manifest is epoch 4 .*followed through 3 committed changes.*the table shows its members/);

    // The broker restarts without persistence (as README's Mosquitto runs): every retained message is
    // gone, and each device publishes its own again as it reconnects, its decision log and its manifest
    // proofs among them. Before, `murmurctl log` said no device was running until the next commit.
    await fleet.broker.kill();
    await fleet.broker.run();
    await until('d2 to publish its status again', async () => ((await fleet.retainedStatus('d2').catch(() => null)) !== null ? true : null), 20_000, 300);
    const lg = await fleet.ctl(['log', '--json', '--timeout', '2s'], 30_000, e4.file);
    expect(lg.code, lg.stdout + lg.stderr).toBe(0);
    expect((JSON.parse(lg.stdout) as { type: string }[]).filter((row) => row.type === 'noop').length).toBeGreaterThanOrEqual(2);
    const again = await fleet.ctl(['status', '--json', '--timeout', '2s'], 30_000, fleet.manifestFile);
    expect(again.stderr).toMatch(/the fleet's manifest is epoch 4 .*followed through 3 committed changes/);
  }, 120_000);
});
