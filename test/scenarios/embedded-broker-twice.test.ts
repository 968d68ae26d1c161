// Real-time mode's embedded broker is started and stopped by the scenario's broker outages: a start
// while it runs, or a stop while it is stopped, does nothing. Two overlapping `broker: down` windows
// (the parser refuses them now) ended the run with "fleet-sim: internal error: listen EADDRINUSE".

import { connect } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { FleetProcs } from '../../fleet-sim/realtime/fleet-procs.js';

describe('the embedded broker of a real-time run', () => {
  const fleet = new FleetProcs({ validators: 1, followers: 0, brokerUrl: null, processes: false });
  beforeAll(() => fleet.setup(), 30_000);
  afterAll(() => fleet.teardown());

  it('a second start while it runs and a second stop while it is stopped do nothing; it comes back on its port', async () => {
    const url = fleet.brokerUrl;
    await Promise.all([fleet.startBroker(), fleet.startBroker()]);
    expect(fleet.brokerRunning).toBe(true);
    await Promise.all([fleet.stopBroker(), fleet.stopBroker()]);
    expect(fleet.brokerRunning).toBe(false);
    // A stop and two starts at once: the starts wait for the port to be let go, one broker comes up.
    await Promise.all([fleet.stopBroker(), fleet.startBroker(), fleet.startBroker()]);
    expect(fleet.brokerRunning).toBe(true);
    expect(fleet.brokerUrl).toBe(url);
    // It listens there (a connection is taken).
    await new Promise<void>((resolve, reject) => {
      const c = connect(Number(new URL(url).port), '127.0.0.1', () => (c.destroy(), resolve()));
      c.on('error', reject);
    });
  });
});
