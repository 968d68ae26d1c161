// The reviewer's injection, on real devices: an epoch-2 manifest the authority signed, published by
// anyone on the broker in a link frame on node/d1/telemetry with no fleet.update. Before, every device
// took it and the fleet moved to epoch 2 with no trace in the decision log. Now each device drops it
// before checking it (no committed fleet.update names it), and the fleet stays at epoch 1.

import mqtt from 'mqtt';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createSigner } from '../../runtime/crypto/sodium.js';
import { unwrap } from '../../runtime/lib/result.js';
import { signManifest } from '../../runtime/manifest/manifest.js';
import { encodeFrame, fleetTag } from '../../runtime/links/frame.js';
import { fleetTopics } from '../../runtime/links/mqtt-topics.js';
import { DeviceFleet } from './device-fleet.js';

const fleet = new DeviceFleet({ validators: 4, consensus: { commitWaitMs: 100 }, agents: false, logLevel: 'debug' });

beforeAll(async () => {
  await fleet.setup();
  await fleet.startAll();
}, 30_000);
afterAll(() => fleet.teardown(), 30_000);

describe('a signed manifest published on the broker with no fleet.update', () => {
  it('is dropped by every device unchecked; the fleet stays at epoch 1', async () => {
    const b = fleet.manifest.body;
    const next = unwrap(signManifest({ ...b, epoch: 2, operators: b.operators.filter((o) => o.id !== 'boss') }, createSigner(fleet.authority)));
    const c = await mqtt.connectAsync(fleet.broker.url, { reconnectPeriod: 0 });
    try {
      await c.publishAsync(fleetTopics(b.fleet).telemetry('d1'), Buffer.from(encodeFrame(fleetTag(b.fleet), 'telemetry', next.bytes)));
    } finally {
      await c.endAsync();
    }
    const from = (await fleet.health('d2')).height;
    for (let i = 0; i < 100 && (await fleet.health('d2')).height < from + 10; i++) await new Promise((r) => setTimeout(r, 100));
    for (const id of ['d2', 'd3', 'd4']) {
      expect(((await fleet.retainedStatus(id)) as unknown as { epoch: number }).epoch).toBe(1);
      expect(fleet.devices.get(id)!.output).toContain('"reason":"a manifest no committed fleet.update names"');
    }
  }, 60_000);
});
