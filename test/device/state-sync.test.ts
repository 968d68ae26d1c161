// State sync with real processes: four `murmur start` devices on a real Mosquitto. device.yaml makes
// the cadence short so the fleet outruns the window in seconds on a loaded machine: a checkpoint
// every 8 heights, a block-sync window of 16, a disk snapshot every 16, a 20 ms commit wait. A validator
// killed with SIGKILL mid-mission stays down while the fleet moves far past the window and holds the
// mission; restarted, it restores a certified snapshot, block-syncs the rest, and ends with the same
// mission state, checkpoint commitment and decision log as the others. Every data directory stays small.
// Then a validator whose last WAL record comes back holed at its head (a power loss during its fsync)
// starts anyway: it drops that record, and its votes commit again.

import { readFileSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import mqtt from 'mqtt';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { readWal } from '../../runtime/node/wal.js';
import { frameHeaderBytes, readFrames } from '../../runtime/node/framed-log.js';
import { DeviceFleet, until } from './device-fleet.js';

const checkpointHeights = 8;
const windowHeights = 16;
const snapshotHeights = 16;
const fleet = new DeviceFleet({ validators: 4, timeScale: 20, consensus: { commitWaitMs: 20, proposeMs: 200, checkpointEveryHeights: checkpointHeights, syncWindowHeights: windowHeights }, snapshotEveryHeights: snapshotHeights, agents: false });

beforeAll(async () => {
  await fleet.setup();
  await fleet.startAll();
}, 60_000);

afterAll(async () => {
  await fleet.teardown();
}, 60_000);

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** The retained decision-log JSON of each device (control plane topic json/<node>/log). */
async function retainedLogs(ids: string[]): Promise<Record<string, { type: string }[]>> {
  const client = await mqtt.connectAsync(fleet.broker.url, { clientId: 'state-sync-log-reader' });
  const out: Record<string, { type: string }[]> = {};
  const got = new Promise<void>((resolve) => {
    client.on('message', (_topic, payload) => {
      const doc = JSON.parse(payload.toString('utf8')) as { node: string; decisions: { type: string }[] };
      out[doc.node] = doc.decisions;
      if (ids.every((id) => out[id] !== undefined)) resolve();
    });
  });
  await client.subscribeAsync(ids.map((id) => `murmur/v1/e2e/json/${id}/log`), { qos: 1 });
  await Promise.race([got, sleep(10_000)]);
  await client.endAsync(true);
  return out;
}

describe('state sync between real processes', () => {
  it('a validator killed with SIGKILL and restarted after the fleet passed the window catches up by state sync, mission state intact', async () => {
    const t0 = Date.now();
    const phases: string[] = [];
    const phase = (name: string) => phases.push(`${name} ${Date.now() - t0} ms`);
    const survey = await fleet.ctl(['send', 'mission.survey', '--arg', `area=${JSON.stringify([[0, 0], [0, 300], [300, 300], [300, 0]])}`, '--arg', 'spacingM=25', '--arg', 'altM=10', '--wait', 'committed', '--timeout', '15s', '--json']);
    expect(survey.code, survey.stdout + survey.stderr).toBe(0);
    phase('survey committed');
    await fleet.kill9('d4');
    const down = await fleet.health('d1');
    // While d4 is down the mission is held: a state change it can only learn from a snapshot.
    const hold = await fleet.ctl(['send', 'hold', '--wait', 'committed', '--timeout', '15s', '--json']);
    expect(hold.code, hold.stdout + hold.stderr).toBe(0);
    // Well past the window: no peer holds the blocks d4 needs next.
    const target = down.height + 3 * windowHeights;
    await until(`d1 past height ${target}`, async () => ((await fleet.health('d1')).height > target ? true : null), 40_000);

    phase('fleet past the window');
    fleet.start('d4');
    await fleet.devices.get('d4')?.ready;
    phase('d4 ready');
    const caught = await until(
      'd4 to catch up',
      async () => {
        const [a, b] = await Promise.all([fleet.health('d1'), fleet.health('d4')]);
        return b.height >= a.height - 2 ? b : null;
      },
      20_000,
    );
    phase('d4 caught up');
    console.log(phases.join('; '));
    expect(caught.stateSync.installs, 'd4 restored a snapshot').toBeGreaterThanOrEqual(1);
    expect(caught.stateSync.refused).toBe(0);
    // The shell's line ("installed snapshot N from state sync") or the core's ("state sync: installed
    // snapshot N (...)"), read from d4's stdout, which may reach this process after the health check
    // answered (a CI run on a loaded machine checked too soon).
    await until('d4 to log the snapshot it installed', async () => (/installed snapshot \d+/.test(fleet.devices.get('d4')?.output ?? '') ? true : null), 10_000);

    // Same checkpoint height on both: the commitment (chain + mission state + decision log) is equal.
    const [c1, c4] = await until(
      'd1 and d4 at the same checkpoint',
      async () => {
        const [a, b] = await Promise.all([fleet.health('d1'), fleet.health('d4')]);
        return a.checkpoint && b.checkpoint && a.checkpoint.height === b.checkpoint.height ? [a, b] : null;
      },
      10_000,
    );
    expect(c4.checkpoint?.appHash).toBe(c1.checkpoint?.appHash);
    expect(c4.mission).toBe(c1.mission);
    // The decision log each device publishes (retained): d4's came with the snapshot, hold included.
    const logs = await retainedLogs(['d1', 'd4']);
    expect(logs.d4?.map((d) => d.type)).toEqual(['mission.survey', 'hold']);
    expect(logs.d4).toEqual(logs.d1);

    // Bounded disk: at most one snapshot interval of heights in any WAL, and a snapshot beside it.
    for (const id of ['d1', 'd4']) {
      const wal = readWal(new Uint8Array(readFileSync(join(fleet.dataDir(id), 'consensus.wal'))), 'consensus.wal');
      expect(wal.ok && wal.value.records.filter((r) => r.t === 'commit').length).toBeLessThanOrEqual(snapshotHeights);
      expect(statSync(join(fleet.dataDir(id), 'consensus.snapshot')).size).toBeGreaterThan(0);
    }
    console.log(`state sync e2e: d4 down at height ${down.height}, fleet at ${caught.height} when it caught up; ${Date.now() - t0} ms`);
  }, 120_000);

  it('a validator whose last WAL record a power loss holed at its head (its first bytes lost, the rest written) restarts, drops it, and its votes commit again', async () => {
    const path = join(fleet.dataDir('d3'), 'consensus.wal');
    const lastRecord = (): { bytes: Uint8Array; last: { readonly offset: number; readonly bytes: Uint8Array } | undefined } => {
      const bytes = new Uint8Array(readFileSync(path));
      const f = readFrames(bytes, 'consensus.wal', 1 << 22);
      return { bytes, last: f.ok ? f.value.payloads.at(-1) : undefined };
    };
    // Killed once its WAL holds a record (every record there is fsynced as it is written). A disk
    // snapshot empties the WAL (the snapshot covers it): one taken between the look and the kill
    // leaves nothing to hole, and it runs again and is killed again, a few times at most.
    let { bytes, last } = lastRecord();
    for (let attempt = 0; attempt < 5; attempt++) {
      if (attempt > 0) {
        fleet.start('d3');
        await fleet.devices.get('d3')?.ready;
      }
      await until('a record in d3\'s consensus.wal', async () => (lastRecord().last !== undefined ? true : null), 15_000);
      await fleet.kill9('d3');
      ({ bytes, last } = lastRecord());
      if (last !== undefined) break;
    }
    expect(last, 'consensus.wal has records').toBeDefined();
    const at = last?.offset ?? 0; // where its header starts
    writeFileSync(path, Buffer.concat([bytes.subarray(0, at), new Uint8Array(12), bytes.subarray(at + 12, at + frameHeaderBytes + (last?.bytes.length ?? 0))]));
    fleet.start('d3');
    await fleet.devices.get('d3')?.ready;
    expect(fleet.devices.get('d3')?.output).toMatch(new RegExp(`consensus\\.wal: dropped the \\d+ bytes from a damaged record at offset ${at} on`));
    // With d2 down, every commit needs d3's votes: commands committing prove it signs again.
    await fleet.kill9('d2');
    const noop = await fleet.ctl(['send', 'noop', '--wait', 'committed', '--timeout', '20s', '--json']);
    expect(noop.code, noop.stdout + noop.stderr).toBe(0);
  }, 90_000);
});
