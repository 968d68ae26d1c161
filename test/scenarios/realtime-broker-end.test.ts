// A real-time run that ends while its broker is down (the scenario's outage outlasts it, or an external
// broker died): fleet-sim's operator client still holds command publishes the broker never acknowledged.
// mqtt.js's graceful end waits for those acknowledgements and stops reconnecting first, so the run used
// to hang there for ever, before its finally: devices, ptys and the embedded broker left running.
// And an external broker that never acknowledges fleet-sim's subscription (frozen, or hostile): the run
// waited on it for ever; now it ends, named, with every device stopped.

import net, { type AddressInfo } from 'node:net';
import { Aedes } from 'aedes';
import { describe, it, onTestFinished } from 'vitest';
import type { Scenario } from '../../fleet-sim/scenario/scenario.js';
import { BrokerUnreachable, realtimeRun } from '../../fleet-sim/realtime/realtime-run.js';

const scenario: Scenario = {
  name: 'realtime-ends-broker-down',
  seed: 11,
  durationMs: 4_000,
  validators: 4,
  followers: 0,
  mqtt: { latencyMs: 0, jitterMs: 0, loss: 0, duplicate: 0 },
  // Down from 1.5 s to past the end: the commands of the last 2.5 s go out to no broker.
  faults: [{ at: 1_500, kind: 'broker-down', until: 60_000 }],
  workload: [{ kind: 'rate', from: 300, to: 3_900, perSec: 4, command: 'noop' }],
  expect: { safety: true },
  consensus: { proposeMs: 300, commitWaitMs: 100, gossipMs: 200 },
  livenessBudgetMs: 5_000,
};

// Side by side: each waits on the clock (a 4 s run, a 10 s bound) with little CPU.
describe.concurrent('a real-time run whose broker is down at its end, or never answers', () => {
  it('ends and reports, its commands sent into the outage counted as not committed', async ({ expect }) => {
    const started = performance.now();
    const r = await realtimeRun(scenario, { brokerUrl: null, processes: false, observer: { onEvent: () => undefined } });
    const replay = `scenario ${scenario.name} seed ${scenario.seed}: ${JSON.stringify({ liveness: r.liveness, wallMs: r.wallMs })}`;
    // The run itself is 4 s; its start-up and teardown a few more. Before the fix it never returned.
    expect(performance.now() - started, replay).toBeLessThan(45_000);
    expect(r.safety.ok, replay).toBe(true);
    expect(r.liveness.commandsSubmitted, replay).toBeGreaterThan(r.liveness.commandsCommitted);
  }, 60_000);

  it('an external broker that never acknowledges fleet-sim\'s subscription ends the run, named, devices stopped', async ({ expect }) => {
    // A real aedes broker that serves the devices and keeps fleet-sim's own subscription unanswered.
    let devicesSubscribed = 0;
    const aedes = await Aedes.createBroker({
      authorizeSubscribe: (client, sub, done) => {
        if (client.id.startsWith('fleet-sim-')) return; // never answered: no SUBACK
        devicesSubscribed++;
        done(null, sub);
      },
    });
    const server = net.createServer({ noDelay: true }, (sock) => aedes.handle(sock));
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
    onTestFinished(async () => {
      server.close();
      await new Promise<void>((r) => aedes.close(() => r()));
    });
    const url = `mqtt://127.0.0.1:${(server.address() as AddressInfo).port}`;
    const run = realtimeRun({ ...scenario, faults: [] }, { brokerUrl: url, processes: false, observer: { onEvent: () => undefined } });
    await expect(run).rejects.toThrow(BrokerUnreachable);
    await expect(run).rejects.toThrow("connected, but it did not acknowledge fleet-sim's subscription to the fleet's status within 10 s");
    expect(devicesSubscribed).toBeGreaterThan(0);
    // Every device stopped: none is left connected to the broker.
    for (let i = 0; i < 50 && aedes.connectedClients > 0; i++) await new Promise((r) => setTimeout(r, 100));
    expect(aedes.connectedClients).toBe(0);
  }, 60_000);
});
