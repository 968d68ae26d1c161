// Four real devices over Mosquitto: a hazard's recorded "present" attestations, published again
// unchanged after the devices' "absent" words cleared it, do not commit it again (review
// hazard-review.md, finding 1: anyone who can publish to the broker could, with no key). The frames
// are made here with the devices' keys, as their agents would; the replay republishes their bytes.

import mqtt from 'mqtt';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { encodeFrame, fleetTag } from '../../runtime/links/frame.js';
import { fleetTopics } from '../../runtime/links/mqtt-topics.js';
import { encodeAttestationBody } from '../../runtime/wire/attestation.js';
import { sealEnvelope } from '../../runtime/wire/envelope.js';
import { DeviceFleet, until } from './device-fleet.js';

const fleet = new DeviceFleet({ validators: 4, agents: false });
const cell: [number, number] = [2, 1];

beforeAll(async () => {
  await fleet.setup();
  await fleet.startAll();
}, 60_000);

afterAll(async () => {
  await fleet.teardown();
}, 30_000);

/** A device's attestation about `cell` as its agent publishes it: a frame on its own topic. */
function frame(id: string, present: boolean, basis: number): { topic: string; bytes: Buffer } {
  const body = encodeAttestationBody({ agent: 'hazard-detect', observedAt: Date.now(), basis, obs: { type: 'hazard', cell, present, confidencePerMille: 950 } });
  return { topic: fleetTopics('e2e').telemetry(id), bytes: Buffer.from(encodeFrame(fleetTag('e2e'), 'telemetry', sealEnvelope('attestation', 'e2e', id, body, fleet.signer(id)))) };
}

const count = (id: string, event: string): number => fleet.devices.get(id)?.output.split(`"event":"${event}"`).length ?? 1;
const everyDevice = (event: string, times: number): Promise<true> =>
  until(`${event} logged ${times} time(s) on every device`, async () => ([...fleet.devices.keys()].every((id) => count(id, event) - 1 >= times) ? true : null), 15_000);
const height = async (): Promise<number> => (await fleet.health('d1')).height;

describe('a replayed hazard attestation', () => {
  it("a cleared hazard's recorded 'present' frames, published again, change nothing on any device", async () => {
    const client = await mqtt.connectAsync(fleet.broker.url, { clientId: 'hazard-replayer', connectTimeout: 10_000, reconnectPeriod: 0 });
    try {
      const publish = async (frames: readonly { topic: string; bytes: Buffer }[]): Promise<void> => {
        for (const f of frames) await client.publishAsync(f.topic, f.bytes, { qos: 1 });
      };
      const recorded = ['d1', 'd2'].map(async (id) => frame(id, true, await height()));
      const seen = await Promise.all(recorded);
      await publish(seen);
      await everyDevice('hazard-committed', 1);
      const after = await height();
      await publish(['d1', 'd2', 'd3', 'd4'].map((id) => frame(id, false, after)));
      await everyDevice('hazard-cleared', 1);
      // The replay: the same bytes, by a client that holds no key.
      const from = await height();
      await publish(seen);
      await until('five more blocks', async () => ((await height()) >= from + 5 ? true : null), 15_000);
      for (const id of fleet.devices.keys()) expect(count(id, 'hazard-committed') - 1, fleet.devices.get(id)?.output.slice(-3_000)).toBe(1);
    } finally {
      await client.endAsync();
    }
  }, 60_000);
});
