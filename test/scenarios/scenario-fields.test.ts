// The scenario fields for the physical side: the radio, the router policy, pads, the operator's
// roles, fleet.update, agent behaviours and flight expectations. Bad values name the field, and the
// CLI exits 2 with that message.

import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it, onTestFinished } from 'vitest';
import { parseScenario } from '../../fleet-sim/scenario/parse.js';
import { cliEntry } from '../support/run-cli.js';

describe('scenario fields: radio, world, operator, expect', () => {
  it('parses a radio, a router policy, pads, admin roles, a fleet.update and flight expectations', () => {
    const s = parseScenario(
      [
        'name: full',
        'validators: 4',
        'followers: 2',
        'links:',
        '  radio: { baud: 57600, mtu: 252, loss: 0.02, rangeM: 800, relaySuppress: 4, relayJitter: 100ms }',
        '  policy: { consensus: first }',
        'operator: { roles: [operator, admin] }',
        'world:',
        '  pads: { spacing: 150, columns: 6, origin: [0, 0] }',
        'faults:',
        '  - { at: 1s, byzantine: 3, behavior: fake-hazard }',
        '  - { at: 2s, crash: proposer }',
        '  - { at: 3s, restart: crashed }',
        '  - { at: 4s, forgedCommands: 2/s, until: 6s, kinds: [expired, replayed] }',
        'workload:',
        '  - { at: 2s, command: { type: fleet.update, manifest: { validators: [0, 1, 2, 4], followers: [3, 5] } } }',
        'expect: { geofenceBreachesMax: 0, failsafesMin: 2, hazardsCommittedMin: 1, hazardsCommittedMax: 3, minSeparationM: 3.5, surveyedFractionMin: 0.5, epoch: 2, relayedDeliveriesMin: 10, forgedRefused: true }',
      ].join('\n'),
    );
    expect(s.radio).toEqual({ baud: 57_600, mtuBytes: 252, loss: 0.02, rangeM: 800, hopLimit: 3, relaySuppress: 4, relayJitterMs: 100 });
    expect(s.linkPolicy).toEqual({ consensus: 'first' });
    expect(s.operatorRoles).toEqual(['admin', 'operator']);
    expect(s.world?.pads).toEqual({ spacingM: 150, columns: 6, origin: [0, 0] });
    expect(s.faults).toContainEqual({ at: 1_000, kind: 'byzantine', node: 3, behavior: 'fake-hazard' });
    expect(s.faults).toContainEqual({ at: 3_000, kind: 'restart', node: 'crashed', wal: 'intact' });
    expect(s.faults).toContainEqual({ at: 4_000, kind: 'forged-commands', perSec: 2, until: 6_000, kinds: ['expired', 'replayed'] });
    expect(s.workload[0]).toEqual({ kind: 'fleet-update', at: 2_000, validators: [0, 1, 2, 4], followers: [3, 5] });
    expect(s.expect).toEqual({ safety: true, geofenceBreachesMax: 0, failsafesMin: 2, hazardsCommittedMin: 1, hazardsCommittedMax: 3, minSeparationM: 3.5, surveyedFractionMin: 0.5, epoch: 2, relayedDeliveriesMin: 10, forgedRefused: true });
  });

  const bad: [string, RegExp][] = [
    ['links:\n  radio: { baud: 57600, mtu: 300, rangeM: 800 }\n', /"links\.radio\.mtu": must be an integer in 32\.\.256/],
    ['links:\n  radio: { baud: 57600, mtu: 252 }\n', /"links\.radio\.rangeM": is required/],
    ['links:\n  radio: { baud: 57600, mtu: 252, rangeM: 800, hopLimit: 9 }\n', /"links\.radio\.hopLimit": must be an integer in 1\.\.7/],
    ['links:\n  radio: { baud: 57600, mtu: 252, rangeM: 800, relaySuppress: 1 }\n', /"links\.radio\.relaySuppress": is 1, which would cancel every relay: 0 \(never cancel\) or 2\.\.16/],
    ['links:\n  radio: { baud: 57600, mtu: 252, rangeM: 800, relayJitter: 30s }\n', /"links\.radio\.relayJitter": is 30000 ms; at most 10s/],
    ['links:\n  policy: { consensus: radio }\n', /"links\.policy\.consensus": must be all .* or first/],
    ['expect: { geofenceBreachesMax: -1 }\n', /"expect\.geofenceBreachesMax": must be an integer in 0\.\./],
    ['expect: { failsafesMin: many }\n', /"expect\.failsafesMin": must be an integer/],
    ['expect: { minSeparationM: -2 }\n', /"expect\.minSeparationM": must be a number of metres in 0\.\.10000/],
    ['expect: { hazardsCommittedMin: 3, hazardsCommittedMax: 1 }\n', /"expect\.hazardsCommittedMin": is 3, more than expect\.hazardsCommittedMax \(1\)/],
    ['expect: { surveyed: 0.5 }\n', /"expect\.surveyed": unknown key/],
    ['expect: { refusedMin: { malfomed: 10 } }\n', /"expect\.refusedMin\.malfomed": unknown key \(expected one of: malformed, notProposer, invalidBlock, tornLogTails, replayedCommands, badSignatures\)/],
    ['expect: { refusedMin: { malformed: many } }\n', /"expect\.refusedMin\.malformed": must be an integer in 1\.\.1000000000/],
    ['expect: { refusedMin: { notProposer: 0 } }\n', /"expect\.refusedMin\.notProposer": must be an integer in 1\.\./],
    ['expect: { refusedMin: { invalidBlock: 2.5 } }\n', /"expect\.refusedMin\.invalidBlock": must be an integer/],
    ['expect: { refusedMin: 100 }\n', /"expect\.refusedMin": must be a map/],
    ['expect: { refusedMin: {} }\n', /"expect\.refusedMin": names no kind: give at least one of malformed, notProposer, invalidBlock, tornLogTails, replayedCommands, badSignatures/],
    ['expect: { blockTimeAhead: 30s }\n', /"expect\.blockTimeAhead": unknown key \(expected one of: .*blockTimeAheadMax/],
    ['expect: { blockTimeAheadMax: 30 }\n', /"expect\.blockTimeAheadMax": is the bare number 30: give it a unit/],
    ['expect: { blockTimeAheadMax: soon }\n', /"expect\.blockTimeAheadMax": "soon" is not a duration/],
    ['world:\n  pads: { spacing: 0 }\n', /"world\.pads\.spacing": must be a number of metres in 1\.\.10000/],
    ['operator: { roles: [pilot] }\n', /"operator\.roles\[0\]": must be operator or admin/],
    ['workload:\n  - { at: 1s, command: { type: fleet.update, manifest: { validators: [0, 1] } } }\n', /"workload\[0\]\.command": fleet\.update needs the operator to hold the admin role/],
    ['operator: { roles: [admin] }\nworkload:\n  - { at: 1s, command: { type: fleet.update, manifest: { validators: [0, 0] } } }\n', /"workload\[0\]\.command\.manifest": node 0 is listed twice/],
    ['operator: { roles: [admin] }\nworkload:\n  - { at: 1s, command: { type: fleet.update, manifest: { validators: [0, 7] } } }\n', /"workload\[0\]\.command\.manifest\.validators\[1\]": must be an integer in 0\.\.3/],
    ['faults:\n  - { at: 1s, restart: last }\n', /"faults\[0\]\.restart": must be an integer in 0\.\.3/],
    ['faults:\n  - { at: 1s, forgedCommands: 2/s }\n', /"faults\[0\]\.until": must be a duration/],
    ['faults:\n  - { at: 1s, forgedCommands: 90/s, until: 2s }\n', /"faults\[0\]\.forgedCommands": must be between 0 and 50 per second/],
    ['faults:\n  - { at: 1s, forgedCommands: 2/s, until: 2s, kinds: [stolen] }\n', /"faults\[0\]\.kinds\[0\]": must be one of unsigned, bad-signature, unknown-key, no-role, expired, replayed/],
    ['expect: { forgedRefused: true }\n', /"expect\.forgedRefused": needs a fault that publishes them/],
    // Durations are bounded: 1e300 ms or 10^13 minutes would run for ever.
    ['duration: 100000000000000000000s\n', /"duration": must be at most 86400s \(one day\), is 1e\+23 ms/],
    // A bare number has no unit (it was read as ms: 'duration: 30' meant as seconds ran 30 ms).
    ['duration: 1e300\n', /"duration": is the bare number 1e\+300: give it a unit/],
    ['duration: 99999999999999m\n', /"duration": must be at most 86400s \(one day\)/],
    ['duration: 0\n', /"duration": must be more than 0/],
    ['liveness: { budget: 1000000000000000ms }\n', /"liveness\.budget": must be at most 86400s/],
    ['links: { mqtt: { latency: 99999999999999m } }\n', /"links\.mqtt\.latency": must be at most 86400s/],
    // A gossip period of 0 re-armed itself at the same virtual time for ever; device.yaml's bounds apply.
    ['consensus: { gossip: 0 }\n', /"consensus\.gossip": is 0 ms; must be in 20\.\.60000 ms \(as in device\.yaml\)/],
    ['consensus: { proposeTimeout: 0 }\n', /"consensus\.proposeTimeout": is 0 ms; must be in 50\.\.60000 ms/],
    ['consensus: { commitWait: 2m }\n', /"consensus\.commitWait": is 120000 ms; must be in 0\.\.60000 ms/],
    // The heights reach each device's device.yaml in real time, which refused these: fleet-sim start
    // --realtime ended in 'internal error: .../v00.yaml: consensus.checkpointEveryHeights: 1: too small'.
    ['consensus: { checkpointEvery: 1 }\n', /"consensus\.checkpointEvery": must be an integer in 2\.\.4096/],
    ['consensus: { syncWindow: 300 }\n', /"consensus\.syncWindow": must be an integer in 4\.\.256/],
    ['consensus: { checkpointEvery: 8, syncWindow: 12 }\n', /"consensus\.syncWindow": is 12; must be at least twice consensus\.checkpointEvery \(16\), as in device\.yaml/],
    ['consensus: { syncWindow: 32 }\n', /"consensus\.syncWindow": is 32; must be at least twice consensus\.checkpointEvery \(64\)/],
    // Times the run never reaches, or a window that ends before it starts, ran a scenario without its story.
    ['duration: 5s\nfaults:\n  - { at: 50s, crash: 0 }\n', /"faults\[0\]\.at": is 50000 ms, at or after the end of the scenario \(duration 5000 ms\)/],
    ['duration: 5s\nfaults:\n  - { at: 5s, crash: 0 }\n', /"faults\[0\]\.at": is 5000 ms, at or after the end of the scenario/],
    // A rate that runs past the end sent nothing after it, and the report's count of commands said otherwise.
    ['duration: 5s\nworkload:\n  - { from: 1s, to: 20s, rate: 5/s, command: noop }\n', /"workload\[0\]\.to": is 20000 ms, after the end of the scenario \(duration 5000 ms\)/],
    // A liveness budget of 0 failed every run.
    ['liveness: { budget: 0s }\n', /"liveness\.budget": must be more than 0/],
    // A key with no value took its default unsaid (`duration:` ran 30 s).
    ['duration:\n', /"duration": has no value: give one, or leave the key out for its default/],
    ['validators:\n', /"validators": has no value/],
    ['links:\n  mqtt: { latency: }\n', /"links\.mqtt\.latency": has no value/],
    ['expect:\n', /"expect": has no value/],
    // YAML's warnings were printed as Node process warnings and the run went on: `!foo bar` ran as "bar".
    ['seed: !foo 3\n', /not valid YAML or JSON: .*Unresolved tag: !foo/],
    // Fences and obstacles each device's device.yaml refuses: --realtime ended in "internal error" (exit 70).
    [`world:\n  geofence: [${Array.from({ length: 65 }, (_, i) => `[${Math.round(300 * Math.cos(i / 10.35))}, ${Math.round(300 * Math.sin(i / 10.35))}]`).join(', ')}]\n`, /"world\.geofence": must be a list of 3 to 64 \[north, east\] points/],
    [`world:\n  hazards: [${Array.from({ length: 65 }, (_, i) => `{ at: [${i * 30}, 0] }`).join(', ')}]\n`, /"world\.hazards": must be a list of at most 64 hazards/],
    ['world:\n  geofence: [[0, 0], [100, 100], [0, 100], [100, 0]]\n', /"world\.geofence": crosses itself: the edge from point 1 to point 2 crosses the edge from point 3 to point 4; give its points in order around the area/],
    ['world:\n  geofence: [[0, 0], [0, 0], [0, 0]]\n', /"world\.geofence": encloses no area/],
    // Evidence is two conflicting signed votes: a liar that signs none was expected to be named, and failed after the run.
    ['faults:\n  - { at: 1s, byzantine: 3, behavior: silent }\nexpect: { evidenceAgainst: [3] }\n', /"expect\.evidenceAgainst\[0\]": node 3 is silent, which signs no conflicting votes, so no evidence can name it \(equivocate, twins, amnesia do\)/],
    ['faults:\n  - { at: 1s, clock: 0, offset: -5 }\n', /"faults\[0\]\.offset": is the bare number -5: give it a unit, such as -5s or -5ms/],
    // A second crash of a node that is down did nothing; a second behaviour replaced the first.
    ['faults:\n  - { at: 1s, crash: 2 }\n  - { at: 2s, crash: 2 }\n', /"faults\[1\]\.crash": node 2 is down already \(faults\[0\] crashed it\); restart it before crashing it again/],
    ['faults:\n  - { at: 2s, crash: 2 }\n  - { at: 1s, crash: 2 }\n', /"faults\[0\]\.crash": node 2 is down already \(faults\[1\] crashed it\)/],
    ['faults:\n  - { at: 1s, byzantine: 3, behavior: silent }\n  - { at: 2s, byzantine: 3, behavior: flood }\n', /"faults\[1\]\.byzantine": node 3 already turned byzantine \(faults\[0\]\); a node has one behaviour/],
    ['duration: 1h\n', /"duration": "1h" is not a duration: a number with ms, s or m \(minutes\), such as 250ms, 10s or 2m/],
    ['duration: 5s\nworkload:\n  - { at: 6s, command: noop }\n', /"workload\[0\]\.at": is 6000 ms, at or after the end of the scenario/],
    ['duration: 5s\nworkload:\n  - { from: 6s, to: 7s, rate: 5/s, command: noop }\n', /"workload\[0\]\.from": is 6000 ms, at or after the end of the scenario/],
    ['workload:\n  - { from: 4s, to: 1s, rate: 5/s, command: noop }\n', /"workload\[0\]\.to": must be after "from"/],
    // With no crash before it, `restart: crashed` restarted node 0, which was running.
    ['faults:\n  - { at: 1s, restart: crashed }\n', /"faults\[0\]\.restart": is "crashed" but no crash fault comes before it/],
    ['faults:\n  - { at: 3s, restart: crashed }\n  - { at: 5s, crash: 1 }\n', /"faults\[0\]\.restart": is "crashed" but no crash fault comes before it/],
    // A node in two groups silently joined the last one; no groups at all partitioned nothing.
    ['faults:\n  - { at: 1s, partition: [[0, 1], [1, 2]], until: 2s }\n', /"faults\[0\]\.partition\[1\]\[0\]": node 1 is listed twice \(a node is in one group\)/],
    ['faults:\n  - { at: 1s, partition: [], until: 2s }\n', /"faults\[0\]\.partition": must name at least one group/],
    ['faults:\n  - { at: 1s, partition: [[0], []], until: 2s }\n', /"faults\[0\]\.partition\[1\]": must name at least one node/],
    ['faults:\n  - { at: 1s, partition: { from: [0], to: [] }, until: 2s }\n', /"faults\[0\]\.partition\.to": must name at least one node/],
    // Commands no validator will take (the wire refuses them) were submitted, never committed, and the run passed.
    ['workload:\n  - { at: 1s, command: "" }\n', /"workload\[0\]\.command": must be a command type such as noop or mission\.survey/],
    ['workload:\n  - { from: 1s, to: 2s, rate: 5/s, command: Noop }\n', /"workload\[0\]\.command": must be a command type such as noop/],
    // 4 validators tolerate one Byzantine one: with two, safety (which every scenario expects) is luck.
    ['faults:\n  - { at: 1s, byzantine: 0, behavior: twins }\n  - { at: 1s, byzantine: 1, behavior: equivocate }\n', /"faults\[1\]\.byzantine": node 1 makes 2 Byzantine validators; 4 validators tolerate at most 1/],
    // The simulator stops a rate at 1,000,000 commands and a forgery fault at 100,000: more was cut off unsaid.
    ['duration: 200s\nworkload:\n  - { from: 0s, to: 200s, rate: 10000/s, command: noop }\n', /"workload\[0\]\.rate": 10000\/s for 200000 ms is 2000000 commands; at most 1000000/],
    ['duration: 3000s\nfaults:\n  - { at: 0s, forgedCommands: 50/s, until: 2500s }\n', /"faults\[0\]\.forgedCommands": 50\/s for 2500000 ms is 125000 forgeries; at most 100000/],
  ];
  for (const [text, re] of bad) it(`refuses ${JSON.stringify(text.trim().split('\n').at(-1))}`, () => expect(() => parseScenario(`name: x\n${text}`)).toThrow(re));

  it('takes a crash, its restart and a crash again, and a restart of a running node (a power cut)', () => {
    const s = parseScenario('name: x\nfaults:\n  - { at: 1s, crash: 2 }\n  - { at: 2s, restart: crashed }\n  - { at: 3s, crash: 2 }\n  - { at: 4s, restart: 2 }\n  - { at: 5s, restart: 1, wal: holes }\n');
    expect(s.faults.map((f) => f.kind)).toEqual(['crash', 'restart', 'crash', 'restart', 'restart']);
  });

  it('parses refusedMin (the kinds given, no others) and blockTimeAheadMax (ms)', () => {
    const s = parseScenario('name: x\nexpect: { refusedMin: { malformed: 1000, notProposer: 5 }, blockTimeAheadMax: 30s }\n');
    expect(s.expect.refusedMin).toEqual({ malformed: 1000, notProposer: 5 });
    expect(s.expect.blockTimeAheadMaxMs).toBe(30_000);
  });

  it('refuses a command type too long and arguments too big for a command', () => {
    expect(() => parseScenario(`name: x\nworkload:\n  - { at: 1s, command: { type: ${'a'.repeat(65)} } }\n`)).toThrow(/"workload\[0\]\.command\.type": must be a command type such as noop .*at most 64 characters/);
    expect(() => parseScenario(`name: x\nworkload:\n  - { at: 1s, command: { type: noop, blob: ${'b'.repeat(4_000)} } }\n`)).toThrow(/"workload\[0\]\.command": its arguments are 400\d bytes encoded; at most 3072/);
    // Nested deeper than the wire's CBOR scan allows: every validator refused it (commands 0/1) and the run passed.
    expect(() => parseScenario(`name: x\nworkload:\n  - { at: 1s, command: { type: noop, a: ${'['.repeat(30)}${']'.repeat(30)} } }\n`)).toThrow(/"workload\[0\]\.command": the wire would refuse it: .*deep/);
  });

  it('refuses a name that cannot be part of a report file name', () => {
    // The name makes reports/<name>-seed<N>.json and the real-time device log: 300 characters ended a
    // finished run in ENAMETOOLONG, a slash pointed the log into another directory.
    expect(() => parseScenario(`name: ${'n'.repeat(101)}\n`)).toThrow(/"name": must be at most 100 characters/);
    expect(() => parseScenario('name: ../up\n')).toThrow(/"name": must not contain \/, \\ or control characters/);
    expect(parseScenario('name: lossy links 2.0_b\n').name).toBe('lossy links 2.0_b');
  });

  it('fleet-sim run exits 2 naming a duration too long to run', () => {
    const dir = mkdtempSync(join(tmpdir(), 'murmur-duration-'));
    onTestFinished(() => rmSync(dir, { recursive: true, force: true }));
    const file = join(dir, 'endless.yaml');
    writeFileSync(file, 'name: x\nduration: 100000000000000000000s\n');
    let code = 0;
    let stderr = '';
    try {
      // Bounded: before the bound this ran for ever.
      execFileSync('node', [cliEntry('fleet-sim'), 'run', file], { encoding: 'utf8', stdio: 'pipe', timeout: 30_000 });
    } catch (e) {
      const x = e as { status: number | null; stderr: string };
      code = x.status ?? -1;
      stderr = x.stderr;
    }
    expect(code).toBe(2);
    expect(stderr).toMatch(/"duration": must be at most 86400s/);
    expect(stderr).not.toMatch(/\n\s+at /);
  });

  it('fleet-sim run exits 2 naming a bad expect field', () => {
    const dir = mkdtempSync(join(tmpdir(), 'murmur-expect-'));
    onTestFinished(() => rmSync(dir, { recursive: true, force: true }));
    const file = join(dir, 'bad-expect.yaml');
    writeFileSync(file, 'name: x\nexpect: { failsafesMin: 1.5 }\n');
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
    expect(stderr).toMatch(/"expect\.failsafesMin": must be an integer/);
    expect(stderr).not.toMatch(/\n\s+at /);
  });
});
