// One device of a one-validator fleet on a real Mosquitto, with hal.driver mavlink on a socat pty whose
// far end the test plays (a simulated flight controller, or nothing): the parts, opened in this process
// and not yet built into a Device. Everything it starts is stopped by the test's onTestFinished.

import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { TestContext } from 'vitest';
import { loadDeviceConfig } from '../../runtime/config/device-config.js';
import { openDevice, type DeviceParts } from '../../runtime/device/device.js';
import { Mosquitto, PtyPair } from '../links/processes.js';
import { makeFleet, writeFleetFiles } from '../support/fleet-fixture.js';

export interface MavlinkDeviceRig {
  readonly p: (f: string) => string;
  readonly broker: Mosquitto;
  readonly pair: PtyPair;
  readonly parts: DeviceParts;
  /** Run, last pushed first, when the test finishes. */
  readonly cleanup: Array<() => Promise<unknown> | unknown>;
}

export async function mavlinkDeviceRig(t: TestContext, fleet: string): Promise<MavlinkDeviceRig> {
  const cleanup: Array<() => Promise<unknown> | unknown> = [];
  t.onTestFinished(async () => {
    for (const f of cleanup.splice(0).reverse()) await f();
  });
  const dir = mkdtempSync(join(tmpdir(), `murmur-${fleet}-`));
  cleanup.push(() => rmSync(dir, { recursive: true, force: true }));
  const p = (f: string): string => join(dir, f);
  // The fleet (one validator d1, an operator) written in this process, as `murmur keygen` and `murmur
  // fleet` write it (their own tests are the CLI's).
  await writeFleetFiles(await makeFleet({ fleet, validatorIds: ['d1'], operators: [{ id: 'ops', roles: ['operator'] }] }), dir);
  const broker = await Mosquitto.start();
  cleanup.push(() => broker.stop());
  const pair = await PtyPair.start();
  cleanup.push(() => pair.stop());
  writeFileSync(
    p('d1.yaml'),
    `id: d1\nkey: ${p('d1.key')}\nmanifest: ${p('fleet.manifest')}\ndataDir: ${p('data-d1')}\nmqtt: { url: "${broker.url}" }\nhttp: { port: 0 }\nlog: { level: warn }\nagents: { enabled: false }\n` +
      `hal: { driver: mavlink, mavlink: { serial: "${pair.a}", baud: 115200, autopilot: ardupilot } }\n`,
  );
  const cfg = loadDeviceConfig(p('d1.yaml'));
  if (!cfg.ok) throw new Error(cfg.error);
  const opened = await openDevice(cfg.value, p('d1.yaml'));
  if (!opened.ok) throw new Error(opened.error);
  return { p, broker, pair, parts: opened.value, cleanup };
}
