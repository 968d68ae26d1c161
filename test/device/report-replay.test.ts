// Four real devices over Mosquitto: a device's telemetry recorded off the broker and published again,
// byte for byte, by a client that holds no key. The mission machine already ignored such copies (a
// report not after the drone's last), but every node still took them into its mempool and the fleet
// committed them again, block after block: a stream of replays filled the device's share of the pool
// (64 waiting), which refused the device's new reports while they waited. Now each device drops a report
// its committed state has a later one of before checking its signature (Application.superseded).

import mqtt from 'mqtt';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { encodeFrame, fleetTag } from '../../runtime/links/frame.js';
import { fleetTopics } from '../../runtime/links/mqtt-topics.js';
import { sealEnvelope } from '../../runtime/wire/envelope.js';
import { encodeTelemetryBody } from '../../runtime/wire/telemetry.js';
import { DeviceFleet, until } from './device-fleet.js';

const fleet = new DeviceFleet({ validators: 4, agents: false });

beforeAll(async () => {
  await fleet.setup();
  await fleet.startAll();
}, 60_000);

afterAll(async () => {
  await fleet.teardown();
}, 30_000);

/** Transactions d1 has seen committed (murmur_txs_committed_total). */
async function committedTxs(): Promise<number> {
  const text = await (await fetch(`http://127.0.0.1:${fleet.devices.get('d1')?.httpPort}/metrics`)).text();
  const m = /^murmur_txs_committed_total (\S+)$/m.exec(text);
  if (!m) throw new Error('d1 reports no murmur_txs_committed_total');
  return Number(m[1]);
}

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/** d2's telemetry of an earlier boot session, an hour ago, as its device signed and published it then:
 *  what anyone who recorded the broker's traffic holds. */
function oldReport(seq: number): Buffer {
  const body = encodeTelemetryBody({ node: 'd2', session: Math.floor(Date.now() / 1_000) - 3_600, seq, northDm: 10 * seq, eastDm: 0, altDm: 0, batteryPermille: 900, completed: '' });
  return Buffer.from(encodeFrame(fleetTag('e2e'), 'telemetry', sealEnvelope('telemetry', 'e2e', 'd2', body, fleet.signer('d2'))));
}

describe("a device's replayed telemetry", () => {
  it('is not committed again: the txs the fleet commits while 200 of its earlier reports are published stay what they are without them', async () => {
    const topic = fleetTopics('e2e').telemetry('d2');
    await until('d2 reported at least once', async () => ((await fleet.health('d1')).height >= 5 ? true : null), 15_000);
    const windowMs = 4_000;
    const quiet0 = await committedTxs();
    await sleep(windowMs);
    const quiet = (await committedTxs()) - quiet0;

    const replayer = await mqtt.connectAsync(fleet.broker.url, { clientId: 'report-replayer', connectTimeout: 10_000, reconnectPeriod: 0 });
    try {
      const replay0 = await committedTxs();
      const started = Date.now();
      for (let i = 0; i < 200; i += 50) await Promise.all(Array.from({ length: 50 }, (_, j) => replayer.publishAsync(topic, oldReport(i + j + 1), { qos: 1 })));
      await sleep(Math.max(0, windowMs - (Date.now() - started)));
      const replayed = (await committedTxs()) - replay0;
      // Before, nearly all 200 were committed within the window (a block takes up to 64 of one device's).
      expect(replayed, `txs committed in ${windowMs} ms: ${quiet} without the replay, ${replayed} with it`).toBeLessThan(quiet + 40);
    } finally {
      await replayer.endAsync();
    }
  }, 90_000);
});
