// Commands the fleet commits as rejected (the mission machine's checks): they count as committed, as
// the audit log keeps them, and the report and the summary say how many and why. Before, a workload of
// an unknown command and a survey with a bad area summarised as `2/2 commands`, `expect met`, and the
// reasons were only on the HTML timeline.

import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { parseScenario } from '../../fleet-sim/scenario/parse.js';
import { runScenario, type Report } from '../../fleet-sim/sim/run.js';
import type { World } from '../../fleet-sim/sim/world.js';
import { runCli } from '../support/run-cli.js';
import { explain, scenario } from './helpers.js';

const dir = mkdtempSync(join(tmpdir(), 'murmur-rejected-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const yaml = `name: rejected
seed: 3
duration: 4s
validators: 4
followers: 1
workload:
  - { at: 1s, command: foo.bar }
  - { at: 2s, command: { type: mission.survey, area: [[0, 0], [100, 100], [0, 100], [100, 0]] } }
  - { from: 500ms, to: 3500ms, rate: 5/s, command: noop }
expect: { safety: true }
`;

describe('commands committed as rejected (deterministic mode)', () => {
  it('are counted and listed with their height, type and reason, the heights the timeline names', async () => {
    let world: World | undefined;
    const r = await runScenario(parseScenario(yaml), 3, { onWorld: (w) => (world = w) });
    expect(r.liveness.commandsCommitted, explain(r)).toBe(r.liveness.commandsSubmitted);
    expect(r.liveness.commandsRejected, explain(r)).toBe(2);
    const [unknown, survey] = r.liveness.rejections;
    expect(r.liveness.rejections).toHaveLength(2);
    expect(unknown).toMatchObject({ type: 'foo.bar', reason: expect.stringMatching(/^unknown command type "foo\.bar"; known: abort,/) });
    expect(survey).toMatchObject({ type: 'mission.survey', reason: expect.stringMatching(/^args\.area crosses itself/) });
    expect(survey?.height).toBeGreaterThan(unknown?.height ?? Infinity);
    // The HTML timeline learns them from the flight layer's notes: the same heights and reasons.
    const notes = world?.flight?.layer.notes ?? [];
    for (const x of r.liveness.rejections) expect(notes, x.type).toContain(`height ${x.height}: ${x.type} rejected (${x.reason})`);
    expect(r.expect.met).toBe(true);
  });

  it('a rate of a command the machine rejects: every one counts, the list keeps the first 20 in height order', async () => {
    // Such a rate made no flight layer before (only once-commands did), so nothing decided it.
    const r = await runScenario(scenario({ name: 'rate-rejected', durationMs: 4_000, workload: [{ kind: 'rate', from: 500, to: 3_500, perSec: 10, command: 'foo.bar' }] }));
    expect(r.liveness.commandsCommitted, explain(r)).toBeGreaterThan(20);
    expect(r.liveness.commandsRejected, explain(r)).toBe(r.liveness.commandsCommitted);
    expect(r.liveness.rejections).toHaveLength(20);
    const heights = r.liveness.rejections.map((x) => x.height);
    expect(heights).toEqual([...heights].sort((a, b) => a - b));
    expect(new Set(r.liveness.rejections.map((x) => x.type))).toEqual(new Set(['foo.bar']));
  });

  it('noops alone: none rejected, and the report is the same run after run', async () => {
    const s = scenario({ name: 'noops', durationMs: 3_000, workload: [{ kind: 'rate', from: 500, to: 2_500, perSec: 10, command: 'noop' }] });
    const [a, b] = [await runScenario(s), await runScenario(s)] as [Report, Report];
    expect(a.liveness.commandsCommitted).toBeGreaterThan(10);
    expect({ rejected: a.liveness.commandsRejected, listed: a.liveness.rejections }).toEqual({ rejected: 0, listed: [] });
    expect({ ...a, wallMs: 0 }).toEqual({ ...b, wallMs: 0 });
  });

  it('the CLI: run and start say how many were rejected and why, and the JSON report lists them', async () => {
    const file = join(dir, 'rejected.yaml');
    writeFileSync(file, yaml);
    const [run, start] = await Promise.all([
      runCli('fleet-sim', ['run', file, '--json', join(dir, 'run.json')], { cwd: dir }),
      runCli('fleet-sim', ['start', file, '--speed', '0', '--no-dashboard', '--exit', '--reports', join(dir, 'reports')], { cwd: dir }),
    ]);
    expect(run.code, run.stderr).toBe(0);
    expect(start.code, start.stderr).toBe(0);
    const said = '(2 rejected: foo.bar: unknown command type "foo.bar", mission.survey: args.area crosses itself: the edge from point 1 to point 2 crosses the edge from point 3 to point 4)';
    expect(run.stdout).toMatch(/^rejected seed 3: ok \(heights \d+, commands (\d+)\/\1 /);
    expect(run.stdout).toContain(said);
    expect(start.stdout).toMatch(new RegExp(`commits +\\d+ heights, (\\d+)/\\1 commands ${said.replace(/[()[\].]/g, '\\$&')}, `));
    const report = JSON.parse(readFileSync(join(dir, 'run.json'), 'utf8')) as Report;
    const written = JSON.parse(readFileSync(join(dir, 'reports', 'rejected-seed3.json'), 'utf8')) as Report;
    expect(report.liveness.commandsRejected).toBe(2);
    expect(report.liveness.rejections.map((x) => x.type)).toEqual(['foo.bar', 'mission.survey']);
    expect(written.liveness.rejections).toEqual(report.liveness.rejections);
  });
});
