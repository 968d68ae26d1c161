// A fleet that cannot commit says why, with real processes on a real Mosquitto: two of four `murmur
// start` validators killed with SIGKILL, the survivors' status documents, /health and logs name the two
// as down and the voting power missing, `murmurctl status` prints it under its table and a `send` that
// times out gives it as its reason. One of them back, blocks come again and the line goes. Short
// timeouts (a stall is called after rounds 0-3: 2.5 s).

import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DeviceFleet, until } from './device-fleet.js';

const fleet = new DeviceFleet({ validators: 4, consensus: { commitWaitMs: 20, proposeMs: 200, prevoteMs: 100, precommitMs: 100, proposeDeltaMs: 50, prevoteDeltaMs: 50, precommitDeltaMs: 50 }, agents: false });

beforeAll(async () => {
  await fleet.setup();
  await fleet.startAll();
}, 60_000);

afterAll(async () => {
  await fleet.teardown();
}, 60_000);

describe('a stalled fleet says why', () => {
  it('two of four validators killed: the survivors name them and the power missing (status, /health, log, murmurctl status, a send that times out); one back, blocks again and the line goes', async () => {
    await fleet.retainedStatusPast('d1', 0, 5, 20_000);
    // Killed only once the survivors' failure detectors have heard them: a validator never heard is not
    // "down" to them (it is unknown), and one killed that early (a loaded machine reaches height 5 within
    // a heartbeat interval) was named voting, from the vote it cast before it died, not down.
    await until('d1 and d2 to hear every other validator', async () => ((await fleet.health('d1')).peers.alive >= 3 && (await fleet.health('d2')).peers.alive >= 3 ? true : null), 20_000);
    await fleet.kill9('d3');
    await fleet.kill9('d4');
    let last = '';
    const line = await until(
      "murmurctl status's stall line, said by d1 and d2, naming d3 and d4 as down",
      async () => {
        const r = await fleet.ctl(['status']);
        last = r.stdout + r.stderr;
        // Both survivors say it once each has seen it (each looks once a second, on its own).
        return /fleet stalled \(2 of 4 validators say so\).*down \(no heartbeat\): d3, d4;/.test(r.stdout) ? r.stdout : null;
      },
      30_000,
    ).catch((e: unknown) => {
      throw new Error(`${String(e)}; the last murmurctl status:\n${last}`);
    });
    expect(line).toMatch(/\nfleet stalled \([2] of 4 validators say so\); d[12]: no block for \d+ s at height \d+ \(round \d+\): votes at this height from d1, d2 \(2 of 4 voting power; 3 needed\); down \(no heartbeat\): d3, d4; too few validators vote: d3, d4 must come back \(start them, or mend their links\)\n/);
    const health = await fleet.health('d1');
    expect(health.health).toBe('degraded');
    expect(health.healthReasons.some((r) => /^no block for \d+ s at height \d+ .*too few validators vote: /.test(r)), JSON.stringify(health.healthReasons)).toBe(true);
    expect(fleet.devices.get('d1')?.output).toMatch(/"event":"stall".*"msg":"no block for \d+ s at height \d+/);
    const metrics = async (): Promise<string> => (await fetch(`http://127.0.0.1:${fleet.devices.get('d1')?.httpPort}/metrics`)).text();
    const m = await metrics();
    expect(m).toMatch(/\nmurmur_stalled 1\n/);
    // The health state in Prometheus too (/health answers 200 while ready, whatever it says).
    expect(m).toMatch(/\nmurmur_health\{state="degraded"\} 1\n/);
    expect(m).toMatch(/\nmurmur_health\{state="ok"\} 0\n/);
    expect(Number(/\nmurmur_block_age_seconds ([\d.]+)\n/.exec(m)?.[1] ?? -1)).toBeGreaterThanOrEqual(2.5);
    const json = await fleet.ctl(['status', '--json']);
    const rows = JSON.parse(json.stdout) as { node: string; status: { stall?: { down: string[]; votingPower: number; quorumPower: number } } | null }[];
    expect(rows.find((r) => r.node === 'd2')?.status?.stall).toMatchObject({ votingPower: 2, quorumPower: 3 });

    // An operator's command meanwhile: the timeout says who the fleet waits for.
    const send = await fleet.ctl(['send', 'noop', '--wait', 'committed', '--timeout', '3s']);
    expect(send.code, send.stdout + send.stderr).toBe(4);
    expect(send.stdout + send.stderr).toMatch(/timeout: no verified commit of ops\/[0-9a-f]+ before --timeout; fleet stalled \([2] of 4 validators say so\); d[12]: no block for \d+ s .*down \(no heartbeat\): d3, d4; too few validators vote: d3, d4 must come back \(start them, or mend their links\)\. The command may still commit once blocks come again, before it expires/);

    fleet.start('d3');
    await fleet.devices.get('d3')?.ready;
    await until(
      'murmurctl status without a stall line',
      async () => {
        const r = await fleet.ctl(['status']);
        return r.code === 0 && !r.stdout.includes('fleet stalled') ? true : null;
      },
      30_000,
    );
    await until('d1 to log blocks again', async () => (/blocks again: height \d+ committed after \d+ s without one/.test(fleet.devices.get('d1')?.output ?? '') ? true : null), 10_000);
    expect((await fleet.health('d1')).healthReasons.filter((r) => r.startsWith('no block for'))).toEqual([]);
    expect(await metrics()).toMatch(/\nmurmur_stalled 0\n/);
  }, 120_000);
});
