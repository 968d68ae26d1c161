// A device with a radio may have to report on it alone (broker down): a still drone holding a part of a
// mission then reports every 100 s (telemetry-gate.ts), and the fleet's lostAfterS (120 s by default)
// would take it for lost after one lost report. A real `murmur start` with a serial radio on a socat pty
// and no broker says so once at warn, with the numbers and the value to set; one without a radio says
// nothing (an MQTT-only fleet may keep the shorter default).

import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { freePort, PtyPair } from '../links/processes.js';
import { repoRoot, runCli } from '../support/run-cli.js';
import { startDeviceProcess } from '../support/device-process.js';

const dir = mkdtempSync(join(tmpdir(), 'murmur-lost-after-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
const p = (f: string): string => join(dir, f);

/** Runs `murmur start` on `yaml` until its ready line and 3 s more; its output. */
async function runDevice(name: string, yaml: string): Promise<string> {
  writeFileSync(p(`${name}.yaml`), yaml);
  const d = startDeviceProcess(process.execPath, [join(repoRoot, 'bin', 'murmur.js'), 'start', '--config', p(`${name}.yaml`)], { readyMs: 30_000 });
  try {
    await d.ready;
    await new Promise((r) => setTimeout(r, 3_000));
  } finally {
    await d.stop();
  }
  return d.output();
}

describe('murmur start and the committed lostAfterS against the radio-only cadence', () => {
  it('with a serial radio, warns once that 120 s is too short and says to set at least 210; without one, says nothing', async () => {
    for (const id of ['authority', 'd1']) expect((await runCli('murmur', ['keygen', '--id', id, '--out', p(`${id}.key`)])).code).toBe(0);
    expect((await runCli('murmur', ['fleet', 'init', '--fleet', 'lostafter', '--authority', p('authority.key'), '--out', p('draft.json')])).code).toBe(0);
    expect((await runCli('murmur', ['fleet', 'add', p('draft.json'), '--validator', '--key', p('d1.key.pub')])).code).toBe(0);
    expect((await runCli('murmur', ['fleet', 'sign', p('draft.json'), '--authority', p('authority.key'), '--out', p('fleet.manifest')])).code).toBe(0);
    const base = async (data: string): Promise<string> => `id: d1\nkey: ${p('d1.key')}\nmanifest: ${p('fleet.manifest')}\ndataDir: ${p(data)}\nmqtt: { url: "mqtt://127.0.0.1:${await freePort()}" }\nhttp: { port: 0 }\nlog: { level: info }\nagents: { enabled: false }\n`;
    const pair = await PtyPair.start();
    let withRadio = '';
    try {
      withRadio = await runDevice('radio', `${await base('data-radio')}radios: [{ paths: ["${pair.a}"], preset: sik }]\n`);
    } finally {
      await pair.stop();
    }
    const warned = withRadio.split('\n').filter((l) => l.includes('lost-after-short'));
    expect(warned, withRadio).toHaveLength(1);
    const line = JSON.parse(warned[0] as string) as { level: number; msg: string; lostAfterS: number; periodMs: number };
    expect(line.level).toBe(40);
    expect(line.msg).toBe(
      'lostAfterS 120 s is too short for a fleet that may fly on the radio alone: with the broker down a device holding still on a part of a mission reports only every 100 s (telemetry.periodMs 1000 x radioOnlyTelemetryEvery 10 x telemetryMissionKeepaliveEvery 10), so one lost report, or a report committed late, makes it lost and its lanes go to another drone; set lostAfterS to at least 210 (param.set)',
    );
    const without = await runDevice('plain', await base('data-plain'));
    expect(without).not.toContain('lost-after-short');
    expect(without, 'the device ran').toContain('"event":"ready"');
  }, 90_000);
});
