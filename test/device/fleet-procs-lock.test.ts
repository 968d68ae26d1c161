// fleet-sim's in-process devices and the data-directory lock (runtime/device/data-lock.ts): a device
// whose construction fails frees its directory, so the fixed configuration starts; a device killed in
// process (its stop runs) can start again, after an amnesia fault too; a second start of a running
// device is refused naming this very process.

import { readFileSync, writeFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { fleetForFile } from '../support/fleet-procs.js';

// The amnesiac validator goes on as fleet-sim's amnesia fault lets it (realtime-run.ts): without the
// hook it would find its own earlier precommits in the last blocks' certificates, which its emptied
// signer state never signed, and stop (runtime/node/shell.ts, joinsOverForeignSignature).
const fleet = fleetForFile({ validators: 1, followers: 1, brokerUrl: null, processes: false, fleet: 'lock', hooks: () => ({ identityConflict: () => undefined }) });

describe('in-process devices and their data-directory locks', () => {
  it('a device whose construction fails frees its directory: the fixed config starts', async () => {
    const d = fleet.devices[1];
    if (!d) throw new Error('no follower');
    const good = readFileSync(d.config, 'utf8');
    // Passes the schema, then the links refuse two links of one name (in the Device constructor).
    writeFileSync(d.config, good + 'radios: [{ name: mqtt, paths: ["/dev/null"], baud: 9600, packetBytes: 64 }]\n');
    const first = await fleet.start(d).then(() => 'started', (e: Error) => e.message);
    expect(first).toMatch(/two links are named "mqtt"/);
    writeFileSync(d.config, good);
    expect(await fleet.start(d).then(() => 'started', (e: Error) => e.message)).toBe('started');
    await fleet.kill(d);
  }, 30_000);

  it('kill and restart, amnesia: each start gets the directory; a second start of a running device is refused', async () => {
    const d = fleet.devices[0];
    if (!d) throw new Error('no validator');
    await fleet.start(d);
    await fleet.kill(d);
    await fleet.start(d);
    await fleet.forget(d);
    const again = await fleet.start(d).then(() => 'started twice', (e: Error) => e.message);
    expect(again).toContain(`is in use by another murmur process (pid ${process.pid})`);
    await fleet.kill(d);
  }, 40_000);
});
