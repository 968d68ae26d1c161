// A broker URL with a password in it (mqtt://user:password@host:port) never comes back on the terminal
// as typed: murmurctl's "no device answered" line and murmur start's refused-login line printed it whole
// (the rest of the CLIs' lines already said user:***@). A refused login also says where the device's
// credentials are set; murmurctl and fleet-sim say a refused login is one, not a broker they cannot reach. Real
// processes on a Mosquitto that wants a password.

import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Mosquitto } from '../links/processes.js';
import { makeFleet, writeFleetFiles } from '../support/fleet-fixture.js';
import { runCli, type CliRun } from '../support/run-cli.js';

const dir = mkdtempSync(join(tmpdir(), 'murmur-broker-creds-'));
const p = (f: string): string => join(dir, f);
const murmur = (...args: string[]): Promise<CliRun> => runCli('murmur', args, { cwd: dir });
let broker: Mosquitto;

beforeAll(async () => {
  broker = await Mosquitto.start(undefined, { users: { ops: 'right-horse' }, acl: 'user ops\ntopic readwrite #\n' });
  // The fleet's files written here (murmur fleet has tests of its own): fleet.manifest and d1.key.
  await writeFleetFiles(await makeFleet({ fleet: 'creds', validatorIds: ['d1'] }), dir);
}, 60_000);

afterAll(async () => {
  await broker?.stop();
  rmSync(dir, { recursive: true, force: true });
});

describe('a password in the broker URL', () => {
  it('murmurctl status with no device answering names the broker without it (exit 4)', async () => {
    const url = `mqtt://ops:right-horse@127.0.0.1:${broker.port}`;
    const r = await runCli('murmurctl', ['status', '--broker', url, '--manifest', p('fleet.manifest')], { cwd: dir });
    expect(r.code, r.stderr).toBe(4);
    expect(r.stderr).toContain(`no device published its status within 800 ms on mqtt://ops:***@127.0.0.1:${broker.port} (fleet "creds")`);
    expect(r.stdout + r.stderr).not.toContain('right-horse');
  });

  it('murmurctl and fleet-sim whose login the broker refuses say so, without the password, rather than "cannot reach" (exit 5)', async () => {
    const url = `mqtt://ops:wrong-horse@127.0.0.1:${broker.port}`;
    const shown = `mqtt://ops:***@127.0.0.1:${broker.port}`;
    const [ctl, sim] = await Promise.all([
      runCli('murmurctl', ['status', '--broker', url, '--manifest', p('fleet.manifest')], { cwd: dir }),
      runCli('fleet-sim', ['start', 'fleet-sim/scenarios/leader-crash.yaml', '--realtime', '--broker', url, '--no-dashboard', '--exit', '--reports', p('reports')], { timeoutMs: 60_000 }),
    ]);
    expect(ctl.code, ctl.stderr).toBe(5);
    expect(ctl.stderr.trimEnd()).toBe(`murmurctl: the broker at ${shown} refused the login: Connection refused: Not authorized; check the user name and password in the broker URL (mqtt://user:password@host:port)`);
    expect(sim.code, sim.stderr).toBe(5);
    const simLines = sim.stderr.split('\n').filter((l) => l.startsWith('fleet-sim: '));
    expect(simLines, sim.stderr).toEqual([`fleet-sim: --broker ${shown}: the broker refused the login (Connection refused: Not authorized); check the user name and password in the URL (mqtt://user:password@host:port)`]);
    for (const r of [ctl, sim]) expect(r.stdout + r.stderr).not.toContain('wrong-horse');
  }, 60_000);

  it('murmur start whose login the broker refuses: one line without it, saying where the credentials are set (exit 5)', async () => {
    writeFileSync(p('d1.yaml'), `id: d1\nkey: ${p('d1.key')}\nmanifest: ${p('fleet.manifest')}\ndataDir: ${p('data/d1')}\nmqtt: { url: "mqtt://ops:wrong-horse@127.0.0.1:${broker.port}" }\nhttp: { port: 0 }\nagents: { enabled: false }\n`);
    const r = await murmur('start', '--config', p('d1.yaml'));
    expect(r.code, r.stderr).toBe(5);
    const lines = r.stderr.split('\n').filter((l) => l.startsWith('murmur: '));
    expect(lines, r.stderr).toEqual([
      `murmur: no link started: mqtt: MQTT broker mqtt://ops:***@127.0.0.1:${broker.port} refused node "d1": Connection refused: Not authorized; check the user name and password this device gives the broker (mqtt.username and mqtt.password, or in mqtt.url)`,
    ]);
    expect(r.stdout + r.stderr).not.toContain('wrong-horse');
  }, 40_000);
});
