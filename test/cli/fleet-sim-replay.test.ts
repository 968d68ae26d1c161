// `fleet-sim replay REPORT.json` replays the run the report is of: the scenario file it recorded
// (absolute, so from any working directory) and, when that file changed since, refuses in one line
// (exit 2) unless --allow-changed. Before, it re-read the path its replay line gave, relative to the
// current directory, as the file was now: an edited file silently gave another run.

import { createHash } from 'node:crypto';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import type { Report } from '../../fleet-sim/sim/run.js';
import { runCli, type CliRun } from '../support/run-cli.js';

const dir = mkdtempSync(join(tmpdir(), 'murmur-replay-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** leader-crash's story in 4 s: the file is what is tested, not the run. */
const scenarioText = 'name: lc\nseed: 7\nduration: 4s\nvalidators: 4\nfollowers: 1\nfaults:\n  - { at: 2s, crash: proposer }\nworkload:\n  - { from: 200ms, to: 3600ms, rate: 20/s, command: noop }\nexpect: { safety: true, committedFraction: 0.9 }\n';

/** One line on stderr, exit 2, nothing run. */
function refused(r: CliRun, line: string): void {
  expect(r.stderr, r.stderr).toBe(`fleet-sim: ${line}\n`);
  expect(r.code).toBe(2);
  expect(r.stdout).toBe('');
}

const read = (file: string): Report => JSON.parse(readFileSync(file, 'utf8')) as Report;
/** What two runs of one world share: all but the wall time and the replay line (which names the path as given). */
const world = (r: Report): unknown => ({ ...r, wallMs: 0, replay: '' });

describe('fleet-sim replay REPORT.json', () => {
  it('records the scenario file, replays it from another directory, refuses it changed unless --allow-changed', async () => {
    const from = join(dir, 'scenarios');
    const elsewhere = join(dir, 'elsewhere');
    mkdirSync(from, { recursive: true });
    mkdirSync(elsewhere, { recursive: true });
    const file = join(from, 'lc.yaml');
    writeFileSync(file, scenarioText);
    // Run with a path relative to its directory, as a user does.
    const first = await runCli('fleet-sim', ['run', 'lc.yaml', '--json', join(dir, 'first.json')], { cwd: from });
    expect(first.code, first.stderr).toBe(0);
    const report = read(join(dir, 'first.json'));
    expect(report.scenarioFile).toEqual({ path: file, sha256: createHash('sha256').update(scenarioText).digest('hex') });
    expect(report.replay).toBe('npx fleet-sim run lc.yaml --seed 7 --json -');

    // From another directory: the relative path of the replay line names nothing there.
    const again = await runCli('fleet-sim', ['replay', join(dir, 'first.json'), '--json', join(dir, 'again.json')], { cwd: elsewhere });
    expect(again.stderr).toBe('');
    expect(again.code).toBe(0);
    expect(world(read(join(dir, 'again.json')))).toEqual(world(report));

    // The file changed: refused, naming the report and the file, unless --allow-changed.
    writeFileSync(file, scenarioText.replace('followers: 1', 'followers: 2'));
    const changed = await runCli('fleet-sim', ['replay', join(dir, 'first.json')], { cwd: elsewhere });
    const now = createHash('sha256').update(readFileSync(file)).digest('hex');
    const said = `${join(dir, 'first.json')}: the scenario file ${file} changed since the report was written (sha256 ${report.scenarioFile?.sha256.slice(0, 12)}… then, ${now.slice(0, 12)}… now)`;
    refused(changed, `${said}, so it would not replay that run; --allow-changed runs it as it is now`);
    const anyway = await runCli('fleet-sim', ['replay', join(dir, 'first.json'), '--allow-changed', '--json', join(dir, 'anyway.json')], { cwd: elsewhere });
    expect(anyway.stderr).toBe(`fleet-sim: ${said}; running it as it is now (--allow-changed)\n`);
    expect(anyway.code).toBe(0);
    const ran = read(join(dir, 'anyway.json'));
    expect(ran.nodes.followers).toBe(2);
    expect(ran.scenarioFile).toEqual({ path: file, sha256: now });
  });

  it('a report written before scenarioFile replays the file its replay line names, as before', async () => {
    const sub = join(dir, 'old');
    mkdirSync(sub, { recursive: true });
    writeFileSync(join(sub, 'lc.yaml'), scenarioText);
    const first = await runCli('fleet-sim', ['run', 'lc.yaml', '--json', 'first.json'], { cwd: sub });
    expect(first.code, first.stderr).toBe(0);
    const { scenarioFile: _f, ...old } = read(join(sub, 'first.json'));
    writeFileSync(join(sub, 'old.json'), JSON.stringify(old));
    const again = await runCli('fleet-sim', ['replay', 'old.json', '--json', 'again.json'], { cwd: sub });
    expect(again.stderr).toBe('');
    expect(again.code).toBe(0);
    expect(world({ ...read(join(sub, 'again.json')), scenarioFile: null })).toEqual(world({ ...old, scenarioFile: null } as Report));
  });

  it('--allow-changed belongs to replay of a report file', async () => {
    const [random, run] = await Promise.all([runCli('fleet-sim', ['replay', '--seed', '5', '--allow-changed']), runCli('fleet-sim', ['run', '--allow-changed'])]);
    refused(random, 'fleet-sim replay takes --allow-changed with a report file (run its scenario file even though it changed since the report)');
    refused(run, 'fleet-sim run does not take --allow-changed (replay REPORT.json takes it)');
  });

  it('fleet-sim start --speed 0 records the scenario file in its report too', async () => {
    const file = join(dir, 'start.yaml');
    writeFileSync(file, scenarioText.replace('name: lc', 'name: started'));
    const r = await runCli('fleet-sim', ['start', file, '--speed', '0', '--no-dashboard', '--exit', '--reports', join(dir, 'reports')]);
    expect(r.code, r.stderr).toBe(0);
    expect(read(join(dir, 'reports', 'started-seed7.json')).scenarioFile).toEqual({ path: file, sha256: createHash('sha256').update(readFileSync(file)).digest('hex') });
  });
});
