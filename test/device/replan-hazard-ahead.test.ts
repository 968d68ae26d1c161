// Four real devices over Mosquitto: a hazard committed on the only waypoint of a goto while its drone
// flies there. The swarm's re-plan drops the waypoint (inside the keep-out), and the drone must not
// report its part done where it stands: it holds, and `murmurctl send --wait executed` says the part
// failed, naming the hazard cell. Before, it said "d1: done" and exited 0.

import mqtt from 'mqtt';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { encodeFrame, fleetTag } from '../../runtime/links/frame.js';
import { fleetTopics } from '../../runtime/links/mqtt-topics.js';
import { encodeAttestationBody } from '../../runtime/wire/attestation.js';
import { sealEnvelope } from '../../runtime/wire/envelope.js';
import { DeviceFleet, until } from './device-fleet.js';

const fleet = new DeviceFleet({ validators: 4, timeScale: 20 });

beforeAll(async () => {
  await fleet.setup();
  await fleet.startAll();
}, 60_000);

afterAll(async () => {
  await fleet.teardown();
}, 30_000);

describe('a hazard committed on every waypoint ahead of a flying drone', () => {
  it('murmurctl send --wait executed: the part failed, naming the cell, not done', async () => {
    // 600 m east at 2 m/s: 300 s of simulated flight, 15 s of wall clock at timeScale 20.
    const send = fleet.ctl(['send', 'mission.goto', '--arg', 'node=d1', '--arg', 'waypoints=[[0,600]]', '--arg', 'speedMps=2', '--arg', 'altM=10', '--wait', 'executed', '--timeout', '50s'], 70_000);
    const d1 = fleet.devices.get('d1')!;
    await until('d1 executing its goto', async () => (d1.output.includes('"event":"task"') ? true : null), 30_000);
    // Up and on its way (a few seconds of simulated flight), not still on the pad.
    await new Promise((r) => setTimeout(r, 1_500));
    // d2 and d3 (f + 1 = 2) attest the 5 m cell round [0, 600] m: cell 0,120.
    const basis = (await fleet.health('d2')).height;
    const client = await mqtt.connectAsync(fleet.broker.url, { clientId: 'hazard-ahead-attester' });
    try {
      for (const id of ['d2', 'd3']) {
        const body = encodeAttestationBody({ agent: 'hazard-detect', observedAt: Date.now(), basis, obs: { type: 'hazard', cell: [0, 120], present: true, confidencePerMille: 950 } });
        const envelope = sealEnvelope('attestation', 'e2e', id, body, fleet.signer(id));
        await client.publishAsync(fleetTopics('e2e').telemetry(id), Buffer.from(encodeFrame(fleetTag('e2e'), 'telemetry', envelope)), { qos: 1 });
      }
    } finally {
      await client.endAsync();
    }
    const r = await send;
    const why = `${r.stdout}\n${r.stderr}\n${d1.output.slice(-3_000)}`;
    expect(r.stdout, why).toContain('d1: failed (every waypoint left for d1 lies inside the keep-out round committed hazard cell 0,120 (routes keep 8 m from its edge): [0, 600] m: none of its route is left ahead of it; holding where it is)');
    expect(r.stdout, why).toContain('failed: a part was not flown to the end (d1: above)');
    expect(r.code, why).toBe(1);
  }, 90_000);
});
