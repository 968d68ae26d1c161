// The operator's case of signer-state-lost.test.ts on a fleet that does not stand still: four real
// `murmur start` validators on Mosquitto committing several heights a second; d2 is killed with -9, its
// signer-state deleted, and started again at once. By the time it is ready the other three have
// committed well past its last precommits, so the last four blocks (all the check used to look at)
// hold none of them and it ran on and voted; its precommits are still in blocks of the last 10 s
// (consensus.ownVotesWindowMs), so, as README promises, it stops before its first vote: exit 3, one
// identity-conflict line, no stack trace. The simulator's deterministic case: test/sim/signer-state-lost.test.ts.

import { rmSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { signerStateFile } from '../../runtime/node/signer-guard.js';
import { DeviceFleet } from './device-fleet.js';

const fleet = new DeviceFleet({ validators: 4, agents: false });

beforeAll(async () => {
  await fleet.setup();
  await fleet.startAll();
}, 30_000);
afterAll(() => fleet.teardown(), 30_000);

describe('a validator killed with -9 and started at once without its signer state, the fleet committing on', () => {
  it('stops before its first vote (exit 3) while its last precommits are in blocks of the last 10 s', async () => {
    for (let i = 0; i < 60 && (await fleet.health('d2')).height < 20; i++) await new Promise((r) => setTimeout(r, 250));
    const h0 = (await fleet.health('d2')).height;
    expect(h0).toBeGreaterThanOrEqual(20);
    await fleet.kill9('d2');
    rmSync(join(fleet.dataDir('d2'), signerStateFile));
    // The three others commit on without d2: more than the four heights the check used to look back.
    for (let i = 0; i < 40 && (await fleet.health('d1')).height < h0 + 8; i++) await new Promise((r) => setTimeout(r, 100));
    expect((await fleet.health('d1')).height).toBeGreaterThanOrEqual(h0 + 8);
    fleet.start('d2');
    const code = await fleet.exitWithin('d2', 15_000);
    const out = fleet.devices.get('d2')!.output;
    const why = `d2 exit ${code}\n${out.slice(-3_000)}`;
    expect(code, why).toBe(3);
    const line = out.split('\n').find((l) => l.includes('"event":"identity-conflict"'));
    expect(line, why).toContain("signed with the key of d2 turned up that this process never signed: another process holds the key, or this device's data directory was replaced since it last signed");
    expect(out, why).not.toMatch(/\n\s+at /);
  }, 30_000);
});
