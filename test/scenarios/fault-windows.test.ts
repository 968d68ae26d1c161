// Two windows of one kind (partition, one-way partition, broker outage, loss) may not overlap or meet:
// the deterministic simulator ended the outer of two nested partitions when the inner one ended (188
// heights where the outer partition alone gave 62), and real time crashed on a second broker outage
// with "internal error: listen EADDRINUSE". The parser refuses them, naming both faults and their times.

import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it, onTestFinished } from 'vitest';
import { parseScenario } from '../../fleet-sim/scenario/parse.js';
import { runCli } from '../support/run-cli.js';

const head = 'name: windows\nduration: 20s\nvalidators: 4\nfaults:\n';

describe('fault windows of one kind', () => {
  const refused: [string, string, RegExp][] = [
    ['nested partitions', '  - { at: 1s, partition: [[0, 1], [2, 3]], until: 15s }\n  - { at: 2s, partition: [[0, 1, 2], [3]], until: 3s }\n', /"faults\[1\]": partition from 2s until 3s overlaps faults\[0\] \(partition from 1s until 15s\); one partition at a time: start it after 15s/],
    ['overlapping partitions', '  - { at: 1s, partition: [[0, 1], [2, 3]], until: 3s }\n  - { at: 2s, partition: [[0, 2], [1, 3]], until: 4s }\n', /"faults\[1\]": partition from 2s until 4s overlaps faults\[0\] \(partition from 1s until 3s\)/],
    // The simulator's end of the first (at 3 s) came after the second's start at the same time.
    ['partitions that meet', '  - { at: 1s, partition: [[0, 1], [2, 3]], until: 3s }\n  - { at: 3s, partition: [[0, 2], [1, 3]], until: 4s }\n', /"faults\[1\]": partition from 3s until 4s overlaps faults\[0\]/],
    ['the later one listed first', '  - { at: 2s, broker: down, until: 3s }\n  - { at: 1s, broker: down, until: 15s }\n', /"faults\[0\]": broker outage from 2s until 3s overlaps faults\[1\] \(broker outage from 1s until 15s\); one broker outage at a time/],
    ['one-way cuts', '  - { at: 1s, partition: { from: [0, 1], to: [2, 3] }, until: 15s }\n  - { at: 2s, partition: { from: [3], to: [2] }, until: 3s }\n', /"faults\[1\]": one-way partition from 2s until 3s overlaps faults\[0\] \(one-way partition from 1s until 15s\)/],
    ['loss windows', '  - { at: 1s, loss: 0.5, until: 5s }\n  - { at: 4500ms, loss: 0.9, until: 6s }\n', /"faults\[1\]": loss window from 4.5s until 6s overlaps faults\[0\] \(loss window from 1s until 5s\)/],
  ];
  for (const [what, faults, re] of refused) it(`refuses ${what}`, () => expect(() => parseScenario(head + faults)).toThrow(re));

  it('takes windows of different kinds at once, and one after another of one kind', () => {
    const s = parseScenario(
      head +
        [
          '  - { at: 1s, partition: [[0, 1], [2, 3]], until: 5s }',
          '  - { at: 2s, partition: { from: [0], to: [1] }, until: 6s }',
          '  - { at: 2s, broker: down, until: 4s }',
          '  - { at: 3s, loss: 0.5, until: 7s }',
          '  - { at: 5001ms, partition: [[0, 2], [1, 3]], until: 8s }',
          '  - { at: 9s, broker: down, until: 10s }',
        ].join('\n'),
    );
    expect(s.faults.map((f) => f.kind)).toEqual(['partition', 'one-way', 'broker-down', 'loss', 'partition', 'broker-down']);
  });

  it('every shipped scenario still parses', () => {
    const dir = join(import.meta.dirname, '..', '..', 'fleet-sim', 'scenarios');
    for (const file of readdirSync(dir).filter((f) => f.endsWith('.yaml'))) expect(() => parseScenario(readFileSync(join(dir, file), 'utf8')), file).not.toThrow();
  });

  it('fleet-sim run and start --realtime exit 2 naming both faults, before any device starts', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'murmur-windows-'));
    onTestFinished(() => rmSync(dir, { recursive: true, force: true }));
    const file = join(dir, 'nested-broker.yaml');
    writeFileSync(file, head + '  - { at: 1s, broker: down, until: 15s }\n  - { at: 2s, broker: down, until: 3s }\n');
    const [run, start] = await Promise.all([runCli('fleet-sim', ['run', file], { cwd: dir }), runCli('fleet-sim', ['start', file, '--realtime', '--no-dashboard', '--exit'], { cwd: dir })]);
    for (const r of [run, start]) {
      expect(r.code, r.stdout + r.stderr).toBe(2);
      expect(r.stderr.trim()).toBe(`fleet-sim: ${file}: scenario field "faults[1]": broker outage from 2s until 3s overlaps faults[0] (broker outage from 1s until 15s); one broker outage at a time: start it after 15s`);
    }
  });
});
