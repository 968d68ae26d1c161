// The broker goes away and comes back on the same port (Mosquitto stopped by PID, started again) under
// four real `murmur start` devices: while it is gone each says so in /health (its MQTT link down, health
// failing, "no link is up"); once it is back each recovers with no restart, commits on, and reports
// its peers alive. Before, the first membership tick after the reconnect judged every peer by the
// silence of the outage, so every device logged every peer suspect and dead at once (then recovered a
// second later): status and metrics counted live peers dead. Heartbeats every 200 ms here, so a 4 s
// outage is well past the silence that declares a peer dead (about 2 s at this interval), and so is
// the spread of the devices' reconnect backoffs (up to 3 s): a peer back 2-3 s after this device was
// once declared dead (the MQTT link's resume grace, membership-view.ts).

import { readFileSync, writeFileSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DeviceFleet } from './device-fleet.js';

const fleet = new DeviceFleet({ validators: 4 });
const ids = ['d1', 'd2', 'd3', 'd4'];

beforeAll(async () => {
  await fleet.setup();
  for (const d of fleet.devices.values()) writeFileSync(d.config, readFileSync(d.config, 'utf8').replace(/mqtt: \{ url: "([^"]+)" \}/, 'mqtt: { url: "$1", heartbeatMs: 200 }\nagents: { enabled: false }'));
  await fleet.startAll();
}, 30_000);
afterAll(() => fleet.teardown(), 30_000);

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

describe('the broker stopped and started again on the same port', () => {
  it('each device reports the outage in /health and recovers without a restart, no live peer declared dead', async () => {
    for (let i = 0; i < 40 && (await Promise.all(ids.map((id) => fleet.health(id)))).some((h) => h.peers.alive < 3); i++) await sleep(250);
    const before = await Promise.all(ids.map((id) => fleet.health(id)));
    for (const h of before) expect(h.peers.alive, JSON.stringify(h)).toBe(3);
    const pids = ids.map((id) => fleet.pid(id));
    const outputFrom = new Map(ids.map((id) => [id, fleet.devices.get(id)!.output.length]));

    await fleet.broker.kill();
    await sleep(4_000);
    for (const id of ids) {
      const h = await fleet.health(id);
      expect(h.links.mqtt?.up, `${id} ${JSON.stringify(h)}`).toBe(false);
      expect(h.health, id).toBe('failing');
      expect(h.healthReasons, id).toContain('no link is up');
      // And in Prometheus, for a scraper that never reads /health's body.
      const m = await (await fetch(`http://127.0.0.1:${fleet.devices.get(id)?.httpPort}/metrics`)).text();
      expect(m, id).toMatch(/\nmurmur_health\{state="failing"\} 1\n/);
      expect(m, id).toMatch(/\nmurmur_link_up\{link="mqtt"\} 0\n/);
    }
    const stalled = Math.max(...(await Promise.all(ids.map((id) => fleet.health(id)))).map((h) => h.height));

    await fleet.broker.run();
    const deadline = Date.now() + 12_000;
    let after = await Promise.all(ids.map((id) => fleet.health(id)));
    while (Date.now() < deadline && after.some((h) => h.links.mqtt?.up !== true || h.health !== 'ok' || h.peers.alive < 3 || h.height < stalled + 3)) {
      await sleep(250);
      after = await Promise.all(ids.map((id) => fleet.health(id)));
    }
    for (const h of after) {
      expect(h.links.mqtt?.up, JSON.stringify(h)).toBe(true);
      expect(h.health, JSON.stringify(h)).toBe('ok');
      expect(h.peers, JSON.stringify(h)).toEqual({ alive: 3, suspect: 0, dead: 0 });
      expect(h.height, JSON.stringify(h)).toBeGreaterThanOrEqual(stalled + 3);
    }
    // The same processes: nothing restarted.
    expect(ids.map((id) => fleet.pid(id))).toEqual(pids);
    for (const id of ids) {
      const out = fleet.devices.get(id)!.output.slice(outputFrom.get(id));
      const deaths = out.split('\n').filter((l) => l.includes('"event":"membership"') && l.includes('"to":"dead"'));
      // On failure, when each device was back on the broker (a peer back later than the grace is dead).
      const returns = ids.map((d) => fleet.devices.get(d)!.output.split('\n').filter((l) => l.includes('reached again')).at(-1) ?? `${d}: never back`);
      expect(deaths, `${id}:\n${deaths.join('\n')}\nreturns:\n${returns.join('\n')}`).toEqual([]);
      expect(out, id).toContain('reached again');
    }
  }, 40_000);
});
