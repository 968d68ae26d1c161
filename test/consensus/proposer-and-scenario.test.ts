// Weighted round-robin proposer rotation, and scenario files: errors name the field, the CLI exits 2.

import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it, onTestFinished } from 'vitest';
import { proposerOf, proposerSchedule } from '../../runtime/consensus/proposer.js';
import { parseScenario } from '../../fleet-sim/scenario/parse.js';
import { cliEntry } from '../support/run-cli.js';

describe('proposer rotation', () => {
  it('gives each validator turns in proportion to its power, spread out', () => {
    const vs = [
      { id: 'a', power: 1 },
      { id: 'b', power: 2 },
      { id: 'c', power: 3 },
    ];
    const s = proposerSchedule(vs);
    expect(s.length).toBe(6);
    expect(s.filter((x) => x === 'c').length).toBe(3);
    expect(s.filter((x) => x === 'a').length).toBe(1);
    // No validator proposes twice in a row when others hold power (c, b, c, a, c, b ordering or similar).
    for (let i = 1; i < s.length; i++) expect(s[i] === s[i - 1] && s[i] !== 'c').toBe(false);
  });

  it('with equal power, rotates through every validator each round and height', () => {
    const vs = ['v0', 'v1', 'v2', 'v3'].map((id) => ({ id, power: 1 }));
    const seen = new Set([0, 1, 2, 3].map((r) => proposerOf(vs, 7, r)));
    expect(seen.size).toBe(4);
    expect(proposerOf(vs, 7, 1)).toBe(proposerOf(vs, 8, 0));
  });
});

describe('scenario files', () => {
  const bad: [string, RegExp][] = [
    ['name: x\nvalidators: 0\n', /"validators": must be an integer in 1\.\.64/],
    ['name: x\nduration: soon\n', /"duration": "soon" is not a duration/],
    ['name: x\nexpect: { evidenceAgainst: [2] }\n', /"expect\.evidenceAgainst\[0\]": node 2 has no byzantine fault that could be caught/],
    ['name: x\nexpect: { evidenceAgainst: 3 }\n', /"expect\.evidenceAgainst": must be a list of validator indexes/],
    ['name: x\nfollowers: 2\nfaults:\n  - { at: 1s, byzantine: 4, behavior: equivocate }\n', /"faults\[0\]\.byzantine": node 4 is a follower, which sends no votes or proposals: equivocate would change nothing \(validators are 0\.\.3\)/],
    ['name: x\nfaults:\n  - { at: 2s, crahs: 1 }\n', /"faults\[0\]\.crahs": unknown key; a fault must have one of crash, restart/],
    ['name: x\nfaults:\n  - { at: 2s }\n', /"faults\[0\]": must have one of crash, restart/],
    ['name: x\nduration: 30\n', /"duration": is the bare number 30: give it a unit, such as 30s or 30ms/],
    ['name: x\nlinks:\n  mqtt: { latency: 2 }\n', /"links\.mqtt\.latency": is the bare number 2: give it a unit/],
    ['name: x\nfaults:\n  - { at: 5, crash: 1 }\n', /"faults\[0\]\.at": is the bare number 5: give it a unit/],
    ['name: x\nfaults:\n  - { at: 1s, crash: 9 }\n', /"faults\[0\]\.crash": must be an integer in 0\.\.3/],
    ['name: x\nfaults:\n  - { at: 1s, byzantine: 1, behavior: sneaky }\n', /"faults\[0\]\.behavior": must be one of equivocate/],
    ['name: x\nworkload:\n  - { from: 1s, to: 2s, rate: fast, command: noop }\n', /"workload\[0\]\.rate": must look like 20\/s/],
    ['name: x\ncolour: blue\n', /"colour": unknown key/],
    ['name: x\nfaults:\n  - { at: 5s, partition: [[0], [1]], until: 2s }\n', /"faults\[0\]\.until": must be after "at"/],
    ['name: x\nlinks:\n  radio: { baud: 57600, mtu: 500, rangeM: 800 }\n', /"links\.radio\.mtu": must be an integer in 32\.\.256/],
    ['name: x\nlinks:\n  radio: { range: 800 }\n', /"links\.radio\.range": unknown key/],
    ['name: x\nhil: { nodes: [7] }\n', /"hil\.nodes\[0\]": must be an integer in 0\.\.3/],
    ['name: x\nhil: { nodes: [0], autopilot: inav }\n', /"hil\.autopilot": must be px4 or ardupilot/],
  ];
  for (const [text, re] of bad) it(`refuses ${JSON.stringify(text.split('\n')[1])}`, () => expect(() => parseScenario(text)).toThrow(re));

  it('parses the DESIGN.md example fields', () => {
    const s = parseScenario('name: leader-crash\nseed: 7\nduration: 60s\nvalidators: 4\nfaults:\n  - { at: 10s, crash: proposer }\n  - { at: 15s, broker: down, until: 25s }\nworkload:\n  - { from: 1s, to: 55s, rate: 20/s, command: noop }\n  - { at: 2s, command: { type: mission.survey, area: [[0, 0], [0, 400], [400, 400], [400, 0]] } }\nexpect: { safety: true, committedFraction: 0.99, maxStall: 5s }\n');
    expect(s.durationMs).toBe(60_000);
    expect(s.faults[0]).toEqual({ at: 10_000, kind: 'crash', node: 'proposer' });
    expect(s.workload[1]).toEqual({ kind: 'once', at: 2_000, command: 'mission.survey', args: { area: [[0, 0], [0, 400], [400, 400], [400, 0]] } });
    expect(s.expect.maxStallMs).toBe(5_000);
    expect(s.radio).toBeUndefined();
  });

  it('parses links.radio (with defaults) and hil', () => {
    const s = parseScenario('name: r\nlinks:\n  radio: { baud: 57600, mtu: 252, loss: 0.02, rangeM: 800 }\nhil: { nodes: [1] }\n');
    expect(s.radio).toEqual({ baud: 57_600, mtuBytes: 252, loss: 0.02, rangeM: 800, hopLimit: 3 });
    expect(s.hil).toEqual({ nodes: [1], autopilot: 'px4' });
  });

  it('fleet-sim run exits 2 with the field named for a bad scenario, and 0 with a JSON report for a good one', () => {
    const dir = mkdtempSync(join(tmpdir(), 'murmur-scn-'));
    onTestFinished(() => rmSync(dir, { recursive: true, force: true }));
    const file = join(dir, 'bad.yaml');
    writeFileSync(file, 'name: x\nvalidators: many\n');
    let code = 0;
    let stderr = '';
    try {
      execFileSync('node', [cliEntry('fleet-sim'), 'run', file], { encoding: 'utf8', stdio: 'pipe' });
    } catch (e) {
      const x = e as { status: number; stderr: string };
      code = x.status;
      stderr = x.stderr;
    }
    expect(code).toBe(2);
    expect(stderr).toMatch(/"validators": must be an integer/);
    const good = join(dir, 'good.yaml');
    writeFileSync(good, 'name: tiny\nseed: 3\nduration: 2s\nvalidators: 4\nworkload:\n  - { from: 100ms, to: 1500ms, rate: 10/s, command: noop }\n');
    const out = execFileSync('node', [cliEntry('fleet-sim'), 'run', good, '--json', '-'], { encoding: 'utf8' });
    const r = JSON.parse(out) as { scenario: string; seed: number; mode: string; safety: { ok: boolean }; expect: { met: boolean } };
    expect(r).toMatchObject({ scenario: 'tiny', seed: 3, mode: 'deterministic', safety: { ok: true }, expect: { met: true } });
  });
});
