// `fleet-sim replay REPORT.json` replays the run the report is of: the scenario file it recorded
// (absolute, so from any working directory) and, when that file changed since, refuses in one line
// (exit 2) unless --allow-changed. Before, it re-read the path its replay line gave, relative to the
// current directory, as the file was now: an edited file silently gave another run.

import { createHash } from 'node:crypto';
import { mkdirSync, mkdtempSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
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

// Each said "to run a scenario file: fleet-sim run report.html", or the parser's "not valid YAML or JSON".
describe('a report given to the wrong verb says what it is and what to do instead', () => {
  it('an HTML report to replay, run or start; a JSON report to run or start; a JSON scenario to replay', async () => {
    const reports = join(dir, 'wrong verb');
    const file = join(dir, 'wrong.yaml');
    writeFileSync(file, scenarioText.replace('name: lc', 'name: wrong'));
    const made = await runCli('fleet-sim', ['start', file, '--speed', '0', '--no-dashboard', '--exit', '--reports', reports]);
    expect(made.code, made.stderr).toBe(0);
    const html = join(reports, 'wrong-seed7.html');
    const json = join(reports, 'wrong-seed7.json');
    const lone = join(dir, 'lone.html');
    writeFileSync(lone, readFileSync(html));
    const rt = join(dir, 'rt.json');
    writeFileSync(rt, JSON.stringify({ scenario: 'rt', file: 'my rt.yaml', seed: 4, mode: 'realtime' }));
    const scenarioJson = join(dir, 'scenario.json');
    writeFileSync(scenarioJson, JSON.stringify({ name: 'j', validators: 4 }));
    const runs = await Promise.all([
      runCli('fleet-sim', ['replay', html]),
      runCli('fleet-sim', ['replay', lone]),
      runCli('fleet-sim', ['run', html]),
      runCli('fleet-sim', ['start', html, '--no-dashboard', '--exit']),
      runCli('fleet-sim', ['run', json]),
      runCli('fleet-sim', ['start', rt, '--no-dashboard', '--exit']),
      runCli('fleet-sim', ['run', rt]),
      runCli('fleet-sim', ['replay', scenarioJson]),
    ]);
    const q = (p: string): string => `'${p}'`; // the paths have a space: one shell word each
    const said = [
      `${html} is a run's HTML report (open it in a browser); replay takes its JSON report: fleet-sim replay ${q(json)}`,
      `${lone} is a run's HTML report (open it in a browser); replay takes its JSON report, written beside it with the same name`,
      `${html} is a run's HTML report (open it in a browser), not a scenario; to run that run again: fleet-sim replay ${q(json)}`,
      `${html} is a run's HTML report (open it in a browser), not a scenario; to run that run again: fleet-sim replay ${q(json)}`,
      `${json} is a deterministic run's report, not a scenario; to run that run again: fleet-sim replay ${q(json)}`,
      `${rt} is a real-time run's report, not a scenario; its scenario again: fleet-sim start 'my rt.yaml' --realtime --seed 4`,
      `${rt} is a real-time run's report, not a scenario; its scenario again: fleet-sim run 'my rt.yaml' --seed 4`,
      `${scenarioJson} is a scenario (JSON), not a report; to run it: fleet-sim run ${scenarioJson}`,
    ];
    runs.forEach((r, i) => refused(r, said[i] as string));
    // Without its JSON beside it, run says where that would be.
    renameSync(json, join(dir, 'moved.json'));
    refused(await runCli('fleet-sim', ['run', html]), `${html} is a run's HTML report (open it in a browser), not a scenario; to run that run again: fleet-sim replay REPORT.json (the JSON report written beside it)`);
  });
});
