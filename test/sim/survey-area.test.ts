// A survey area of fewer than 3 corners: the scenario parser refuses it naming the field (exit 2), as
// the mission machine would refuse the command; before, `area: [[0,0],[0,10]]` ended the run in
// "fleet-sim: internal error: a survey area needs at least 3 corners" (exit 70) when the coverage grid
// was built from it. A scenario made in code that still has one runs, with the command rejected.

import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it, onTestFinished } from 'vitest';
import { parseScenario } from '../../fleet-sim/scenario/parse.js';
import { runScenario } from '../../fleet-sim/sim/run.js';
import { runCli } from '../support/run-cli.js';
import { explain, scenario } from './helpers.js';

const survey = (area: string): string => `name: w\nduration: 10s\nvalidators: 4\nfollowers: 1\nworkload: [{ at: 1s, command: { type: mission.survey, area: ${area} } }]\n`;

describe('a survey area in a scenario', () => {
  const refused: [string, RegExp][] = [
    ['[[0,0],[0,10]]', /^scenario field "workload\[0\]\.command\.area": must be a list of 3 to 64 \[north, east\] points in metres$/],
    ['5', /^scenario field "workload\[0\]\.command\.area": must be a list of 3 to 64/],
    [`[${Array.from({ length: 65 }, (_, i) => `[${i}, ${i * i}]`).join(', ')}]`, /"workload\[0\]\.command\.area": must be a list of 3 to 64/],
    ['[[0,0],[0,10],[5]]', /^scenario field "workload\[0\]\.command\.area\[2\]": must be \[north, east\] in metres$/],
    ['[[0,0],[0,10],[5,x]]', /^scenario field "workload\[0\]\.command\.area\[2\]": must be two numbers \[north, east\] in metres$/],
  ];
  for (const [area, re] of refused) it(`refuses area: ${area.slice(0, 30)}`, () => expect(() => parseScenario(survey(area))).toThrow(re));

  it('takes 3 corners; the 2 points of a goto are waypoints, not an area', () => {
    expect(parseScenario(survey('[[0,0],[0,10],[10,0]]')).workload[0]).toMatchObject({ command: 'mission.survey', args: { area: [[0, 0], [0, 10], [10, 0]] } });
    expect(parseScenario(survey('[[0,0],[0,10]]').replace('mission.survey', 'mission.goto').replace('area:', 'waypoints:')).workload[0]).toMatchObject({ command: 'mission.goto' });
  });

  it('fleet-sim run exits 2 naming the field', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'murmur-survey-area-'));
    onTestFinished(() => rmSync(dir, { recursive: true, force: true }));
    const file = join(dir, 'w1.yaml');
    writeFileSync(file, survey('[[0,0],[0,10]]'));
    const r = await runCli('fleet-sim', ['run', file], { cwd: dir });
    expect(r.code, r.stdout + r.stderr).toBe(2);
    expect(r.stderr.trim()).toBe(`fleet-sim: ${file}: scenario field "workload[0].command.area": must be a list of 3 to 64 [north, east] points in metres`);
  });

  it('made in code, the run ends with the command rejected by the mission machine, not an assert', async () => {
    const r = await runScenario(scenario({ name: 'two-corners', durationMs: 4_000, workload: [{ kind: 'once', at: 1_000, command: 'mission.survey', args: { area: [[0, 0], [0, 10]] } }] }));
    expect(r.liveness.rejections, explain(r)).toEqual([expect.objectContaining({ type: 'mission.survey', reason: expect.stringMatching(/^args\.area must be a list of 3 to 64/) })]);
    expect(r.flight?.surveyedFraction ?? null).toBeNull();
  });
});
