// A flight command superseded before its ACK (MavlinkVehicle.execute: a return or landing ends a goto
// still awaiting its ACK, a newer goto an older one) ends with a 'superseded' error. The executor's
// flying that sent it was itself superseded (a reflex's return, a re-plan): that error is not its
// task's failure. Before, the superseded flying acked its task failed ("goto: DO_REPOSITION:
// superseded by return-to-launch before its ACK") after the return had begun. The executor flies the
// simulated ArduPilot FC through the MAVLink HAL drivers, joined in memory; the test drops the ACKs of
// DO_REPOSITION, as a lossy link would.

import { describe, expect, it, type TestContext } from 'vitest';
import { mavCmd } from '../../firmware-bridge/mavlink/vehicle.js';
import { ackedCommand, frameMsgid, inMemoryFc, mavlinkExecutor, waitFor } from '../bridge/companion.js';

/** COMMAND_INT (75) frames of DO_REPOSITION. */
const isReposition = (f: Uint8Array): boolean => frameMsgid(f) === 75 && ((f[38] ?? 0) | ((f[39] ?? 0) << 8)) === mavCmd.doReposition;

/** The executor on the MAVLink drivers over the in-memory FC, which drops its DO_REPOSITION ACKs while
 *  `dropping()`; `reposSent()` counts the DO_REPOSITIONs the companion sent. Each test has its own, so
 *  the tests run at once (describe.concurrent); each stops what it made at its end, passed or failed. */
async function lostGotoAckRig(t: TestContext, dropping: () => boolean) {
  const cleanup: Array<() => Promise<void> | void> = [];
  t.onTestFinished(async () => {
    for (const f of cleanup.splice(0).reverse()) await f();
  });
  let sent = 0;
  const rig = inMemoryFc({
    fc: { speedFactor: 4 },
    fromFc: (f, pass) => (ackedCommand(f) === mavCmd.doReposition && dropping() ? undefined : pass(f)),
    fromCompanion: (f, pass) => {
      if (isReposition(f)) sent++;
      pass(f);
    },
  });
  cleanup.push(rig.stop);
  const { ex, reports, logs } = await mavlinkExecutor(rig, cleanup);
  return { rig, ex, reports, logs, reposSent: () => sent };
}

describe.concurrent('a goto superseded before its ACK by a reflex’s return', () => {
  it('is not acked as the task failing: the return goes on, and the task is not failed', async (t) => {
    const { rig, ex, reports, logs, reposSent } = await lostGotoAckRig(t, () => true);
    ex.run('m1', { type: 'waypoints', mission: 'm1', waypoints: [{ n: 0, e: 600 }], altDm: 100, speedDmps: 80, then: 'hold' });
    await waitFor('the goto sent (its ACK lost)', () => reposSent() > 0, 30_000);
    await new Promise((r) => setTimeout(r, 200));
    ex.returnHome('battery reserve');
    await waitFor('the return', () => rig.fc.vehicle.state().mode === 'return', 5_000);
    const modes = new Set<string>();
    for (const t0 = Date.now(); Date.now() - t0 < 3_500; await new Promise((d) => setTimeout(d, 20))) modes.add(rig.fc.vehicle.state().mode);
    expect([...modes]).toEqual(['return']);
    expect(reposSent()).toBe(1);
    expect(reports.filter((r) => r.stage === 'failed')).toEqual([]); // before: failed, "goto: DO_REPOSITION: superseded by return-to-launch before its ACK"
    expect(logs.filter((l) => l.includes('failed'))).toEqual([]);
  }, 60_000);
});

describe.concurrent('a goto superseded before its ACK by a reflex’s hold (link loss)', () => {
  it('holds the drone: no resend flies it on, the task is not failed, and the release flies it on to the end', async (t) => {
    let dropping = true;
    const { rig, ex, reports, reposSent } = await lostGotoAckRig(t, () => dropping);
    ex.run('m1', { type: 'waypoints', mission: 'm1', waypoints: [{ n: 0, e: 400 }], altDm: 100, speedDmps: 80, then: 'hold' });
    await waitFor('the goto sent (its ACK lost)', () => reposSent() > 0, 30_000);
    await new Promise((r) => setTimeout(r, 200));
    dropping = false; // the link is back for what follows
    ex.reflexAction({ type: 'hold' });
    await waitFor('the hold', () => rig.fc.vehicle.state().mode === 'hold', 5_000);
    const modes = new Set<string>();
    for (const t0 = Date.now(); Date.now() - t0 < 3_500; await new Promise((d) => setTimeout(d, 20))) modes.add(rig.fc.vehicle.state().mode);
    expect([...modes]).toEqual(['hold']); // before: hold, then guided from the goto's resend
    expect(reposSent()).toBe(1);
    expect(reports.filter((r) => r.stage === 'failed')).toEqual([]);
    ex.resumeAfterReflex();
    await waitFor('the task done', () => reports.some((r) => r.stage === 'done' || r.stage === 'failed'), 40_000);
    expect(reports.filter((r) => r.stage === 'failed')).toEqual([]);
  }, 90_000);
});
