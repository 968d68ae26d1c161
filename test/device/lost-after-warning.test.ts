// A device with a radio may have to report on it alone (broker down): a still drone holding a part of a
// mission then reports every 100 s (telemetry-gate.ts), and the fleet's lostAfterS (120 s by default)
// would take it for lost after one lost report. lostAfterS applies only to the drones of a committed
// mission (runtime/mission/reassign.ts), so that is where a device says so. Two real `murmur start`
// processes on a real Mosquitto, d1 with a serial radio on a socat pty and d2 without one: neither
// says anything while no mission is committed (every radio device of a fleet warned at start before,
// on every run of `npm start`); once a survey gives both a part, d1 warns once at warn with the
// mission, the numbers and the value to set, d2 never (an MQTT-only drone may keep the shorter
// default); after the admin's param.set lostAfterS 210, d1 says nothing more. And `npm start`'s
// scenario (default.yaml: every drone with a radio, a survey) sets lostAfterS before its mission, so
// its devices' log holds no such line. The two cases share nothing (each its own broker, ptys, devices
// and files), and the first mostly waits (8 s of it on the devices' telemetry periods), so they run at
// once (describe.concurrent).

import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, it } from 'vitest';
import { parseScenario } from '../../fleet-sim/scenario/parse.js';
import { realtimeRun } from '../../fleet-sim/realtime/realtime-run.js';
import { Mosquitto, PtyPair } from '../links/processes.js';
import { cliEntry, repoRoot, runCli, type CliRun } from '../support/run-cli.js';
import { startDeviceProcess, type DeviceProcess } from '../support/device-process.js';
import { makeFleet, writeFleetFiles } from '../support/fleet-fixture.js';

const dir = mkdtempSync(join(tmpdir(), 'murmur-lost-after-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
const p = (f: string): string => join(dir, f);
const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));
const warnings = (d: DeviceProcess): string[] => d.output().split('\n').filter((l) => l.includes('lost-after-short'));

describe.concurrent('murmur start and the committed lostAfterS against the radio-only cadence', () => {
  it('says nothing before a mission; with a part of one, the radio device warns once that 120 s is too short and says to set at least 210, the device without a radio never; quiet after param.set 210', async ({ expect }) => {
    // The fleet's files written here (the CLI's fleet commands have tests of their own): keys for the
    // two devices and the two operators, and a manifest the authority signed.
    await writeFleetFiles(await makeFleet({ fleet: 'lostafter', validatorIds: ['d1', 'd2'], operators: [{ id: 'ops', roles: ['operator'] }, { id: 'admin', roles: ['admin'] }] }), dir);

    const broker = await Mosquitto.start();
    const pair = await PtyPair.start();
    const devices: DeviceProcess[] = [];
    const ctl = (key: string, ...args: string[]): Promise<CliRun> => runCli('murmurctl', [...args, '--json', '--timeout', '20s'], { cwd: dir, env: { MURMUR_MANIFEST: p('fleet.manifest'), MURMUR_BROKER: broker.url, MURMUR_KEY: p(`${key}.key`) } });
    try {
      const config = (id: string, extra: string): string =>
        `id: ${id}\nkey: ${p(`${id}.key`)}\nmanifest: ${p('fleet.manifest')}\ndataDir: ${p(`data-${id}`)}\nmqtt: { url: "${broker.url}" }\nhttp: { port: 0 }\nlog: { level: info }\nagents: { enabled: false }\n${extra}`;
      writeFileSync(p('d1.yaml'), config('d1', `radios: [{ paths: ["${pair.a}"], preset: sik }]\n`));
      writeFileSync(p('d2.yaml'), config('d2', ''));
      for (const id of ['d1', 'd2']) devices.push(startDeviceProcess(process.execPath, [cliEntry('murmur'), 'start', '--config', p(`${id}.yaml`)], { readyMs: 30_000 }));
      const [d1, d2] = devices as [DeviceProcess, DeviceProcess];
      await Promise.all([d1.ready, d2.ready]);
      const out = (): string => `\n--- d1 ---\n${d1.output().slice(-3_000)}\n--- d2 ---\n${d2.output().slice(-3_000)}`;

      // No mission: lostAfterS takes no one for lost, whatever it is. Two telemetry periods (1 s) after
      // ready: the check runs at each, and a device that warned at start did so before ready.
      await sleep(2_000);
      expect(warnings(d1), out()).toEqual([]);
      expect(warnings(d2), out()).toEqual([]);

      const survey = await ctl('ops', 'send', 'mission.survey', '--arg', 'area=[[0,0],[0,120],[60,120],[60,0]]', '--arg', 'spacingM=15', '--arg', 'altM=10', '--wait', 'committed');
      expect(survey.code, `${survey.stdout}${survey.stderr}${out()}`).toBe(0);
      const mission = JSON.parse(survey.stdout) as { command: string; outcome: string; assigned: string[] };
      expect(mission.outcome, survey.stdout).toBe('accepted');
      expect(mission.assigned, survey.stdout).toEqual(['d1', 'd2']);

      // d1 checks at its next telemetry period (1 s); a few more show it says so once.
      const deadline = Date.now() + 10_000;
      while (warnings(d1).length === 0 && Date.now() < deadline) await sleep(100);
      await sleep(3_000);
      const warned = warnings(d1);
      expect(warned, out()).toHaveLength(1);
      const line = JSON.parse(warned[0] as string) as { level: number; msg: string; mission: string; lostAfterS: number; periodMs: number };
      expect(line.level).toBe(40);
      expect(line).toMatchObject({ mission: mission.command, lostAfterS: 120, periodMs: 1000 });
      expect(line.msg).toBe(
        'lostAfterS 120 s is too short for a fleet that may fly on the radio alone: with the broker down a device holding still on a part of a mission reports only every 100 s (telemetry.periodMs 1000 x radioOnlyTelemetryEvery 10 x telemetryMissionKeepaliveEvery 10), so one lost report, or a report committed late, makes it lost and its lanes go to another drone; set lostAfterS to at least 210 (param.set)',
      );
      expect(warnings(d2), out()).toEqual([]);

      // Set as the warning says: nothing more, from either.
      const set = await ctl('admin', 'send', 'param.set', '--arg', 'key=lostAfterS', '--arg', 'value=210', '--wait', 'committed');
      expect(set.code, `${set.stdout}${set.stderr}${out()}`).toBe(0);
      expect((JSON.parse(set.stdout) as { outcome: string }).outcome, set.stdout).toBe('accepted');
      await sleep(3_000);
      expect(warnings(d1), out()).toHaveLength(1);
      expect(warnings(d2), out()).toEqual([]);
    } finally {
      for (const d of devices) await d.stop();
      await pair.stop();
      await broker.stop();
    }
  }, 120_000);
});

describe.concurrent('npm start\'s scenario and lostAfterS', () => {
  it('default.yaml in real time: the survey is flown with lostAfterS 210 committed first, and the devices\' log has no lost-after-short line', async ({ expect }) => {
    const path = join(repoRoot, 'fleet-sim', 'scenarios', 'default.yaml');
    const full = parseScenario(readFileSync(path, 'utf8'));
    // The shipped radios, routing, operator roles and workload up to 8 s (the param.set at 0.5 s and the
    // survey at 2 s); 7 validators and 3 of the 13 followers, none of the faults (all but the equivocator
    // come later). At load 5-7 here the survey was committed and every device had its task 2.2-2.5 s in:
    // 8 s leave 5 s of the devices' telemetry periods (1 s, where a device says lost-after-short) after
    // it, and room for a machine twice as slow. It ran 12 s.
    const durationMs = 8_000;
    const workload = full.workload.filter((w) => (w.kind === 'rate' ? w.from : w.at) < durationMs).map((w) => (w.kind === 'rate' ? { ...w, to: Math.min(w.to, durationMs) } : w));
    const s = { ...full, durationMs, followers: 3, faults: [], workload, livenessBudgetMs: 5_000 };
    expect(s.radio, 'default.yaml has links.radio').toBeDefined();
    const deviceLog = p('default.devices.log');
    const report = await realtimeRun(s, { brokerUrl: null, processes: false, observer: { onEvent: () => {} }, deviceLog });
    const log = existsSync(deviceLog) ? readFileSync(deviceLog, 'utf8') : '';
    const lines = log.split('\n').filter((l) => l !== '');
    const accepted = (type: string): boolean => lines.some((l) => l.includes('"event":"decision"') && l.includes(`"type":"${type}"`) && l.includes('"outcome":"accepted"'));
    const why = `expect ${report.expect.failed.join('; ')}; heights ${report.liveness.heights}; device log ${lines.length} lines, last: ${lines.slice(-3).join(' | ')}`;
    expect(report.safety.ok, why).toBe(true);
    expect(lines.filter((l) => l.includes('lost-after-short')), why).toEqual([]);
    // ... with the survey committed and flown, lostAfterS set before it.
    expect(accepted('param.set'), why).toBe(true);
    expect(accepted('mission.survey'), why).toBe(true);
    expect(lines.filter((l) => l.includes('"event":"task"')).length, why).toBeGreaterThanOrEqual(10);
  }, 120_000);
});
