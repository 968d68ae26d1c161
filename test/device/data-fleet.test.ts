// A data directory kept from another fleet, or from the same fleet made again with new keys (the
// quickstart redone without `rm -rf data`), is refused at `murmur start` in one line naming both fleets
// (exit 2). Before, the device replayed a chain no key of its manifest had signed, went round after
// round refusing its own blocks ("certificate signature of "d1" does not verify") and stopped on an
// assertion after half a minute (exit 70), again at every restart. Real processes (bin/murmur.js).

import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { cliEntry, runCli, type CliRun } from '../support/run-cli.js';

const dir = mkdtempSync(join(tmpdir(), 'murmur-data-fleet-'));
const p = (f: string): string => join(dir, f);
const murmur = (...args: string[]): Promise<CliRun> => runCli('murmur', args, { cwd: dir });
afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** A one-validator fleet `fleet` under `name`/ (its own authority and d1 key) and d1's device.yaml on `data`. */
async function fleetWith(name: string, fleet: string, data: string): Promise<string> {
  for (const id of ['authority', 'd1']) expect((await murmur('keygen', '--id', id, '--out', p(`${name}/${id}.key`))).code).toBe(0);
  expect((await murmur('fleet', 'init', '--fleet', fleet, '--authority', p(`${name}/authority.key`), '--out', p(`${name}/draft.json`))).code).toBe(0);
  expect((await murmur('fleet', 'add', p(`${name}/draft.json`), '--validator', '--key', p(`${name}/d1.key.pub`))).code).toBe(0);
  const signed = await murmur('fleet', 'sign', p(`${name}/draft.json`), '--authority', p(`${name}/authority.key`), '--out', p(`${name}/fleet.manifest`));
  expect(signed.code, signed.stderr).toBe(0);
  const file = p(`${name}.yaml`);
  writeFileSync(file, `id: d1\nkey: ${p(`${name}/d1.key`)}\nmanifest: ${p(`${name}/fleet.manifest`)}\ndataDir: ${data}\nmqtt: { url: "mqtt://127.0.0.1:1" }\nhttp: { port: 0 }\nagents: { enabled: false }\n`);
  return file;
}

const data = p('data/d1');
let first = '';
let remade = '';
let other = '';

beforeAll(async () => {
  [first, remade, other] = await Promise.all([fleetWith('a', 'demo', data), fleetWith('b', 'demo', data), fleetWith('c', 'other', data)]);
  // The first fleet's device runs on the directory until it has named its fleet there, then stops.
  const child = spawn(process.execPath, [cliEntry('murmur'), 'start', '--config', first], { cwd: dir, stdio: ['ignore', 'ignore', 'pipe'] });
  let stderr = '';
  child.stderr.on('data', (b: Buffer) => (stderr += b.toString()));
  const exited = new Promise<number | null>((r) => child.once('exit', (code) => r(code)));
  for (let i = 0; i < 300 && !existsSync(join(data, 'fleet')) && child.exitCode === null; i++) await new Promise((r) => setTimeout(r, 100));
  child.kill('SIGTERM');
  expect(await exited, stderr).toBe(0);
}, 90_000);

describe('murmur start on the data directory of another fleet', () => {
  it('is refused in one line naming both fleets (exit 2), and the directory still names its own', async () => {
    const before = readFileSync(join(data, 'fleet'), 'utf8');
    expect(JSON.parse(before)).toMatchObject({ fleet: 'demo', authority: expect.stringMatching(/^[0-9a-f]{64}$/) });
    const [again, other_] = await Promise.all([murmur('start', '--config', remade), murmur('start', '--config', other)]);
    for (const [r, fleet] of [[again, 'demo'], [other_, 'other']] as const) {
      expect(r.code, r.stderr).toBe(2);
      expect(r.stderr.trimEnd().split('\n'), r.stderr).toHaveLength(1);
      expect(r.stderr).toMatch(new RegExp(`^murmur: .*: dataDir: ${data} holds the data of fleet "demo" \\(authority [0-9a-f]{16}…\\), not of the manifest's fleet "${fleet}" \\(authority [0-9a-f]{16}…\\): give the device its own fleet's manifest \\(device.yaml: manifest\\); or, if the fleet was made anew, give this device a dataDir of its own for it, or move that directory aside to start afresh\\n$`));
    }
    expect(readFileSync(join(data, 'fleet'), 'utf8')).toBe(before);
  }, 60_000);

  it('its own fleet starts there again', async () => {
    const child = spawn(process.execPath, [cliEntry('murmur'), 'start', '--config', first], { cwd: dir, stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    child.stdout.on('data', (b: Buffer) => (out += b.toString()));
    child.stderr.on('data', (b: Buffer) => (out += b.toString()));
    const exited = new Promise<number | null>((r) => child.once('exit', (code) => r(code)));
    for (let i = 0; i < 300 && !out.includes('"event":"ready"') && child.exitCode === null; i++) await new Promise((r) => setTimeout(r, 100));
    child.kill('SIGTERM');
    expect(await exited, out).toBe(0);
    expect(out).toContain('"event":"ready"');
  }, 60_000);
});
