// `murmurctl send --arg NAME=VALUE`: a VALUE meant as a JSON list or object that does not parse (a
// bracket missing, a quote the shell ate) is refused on the operator's machine, naming the argument
// and the JSON error, exit 2, nothing sent. Before, it went out as text and the swarm committed it as
// rejected ("args.area must be a list of 3 to 64 [north, east] points in metres", exit 3), which named
// the wrong problem. No broker runs here: the refusal comes before any connection.

import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { runCli } from '../support/run-cli.js';

const dir = mkdtempSync(join(tmpdir(), 'murmurctl-args-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
const p = (f: string): string => join(dir, f);

beforeAll(async () => {
  for (const id of ['authority', 'd1']) expect((await runCli('murmur', ['keygen', '--id', id, '--out', p(`${id}.key`)])).code).toBe(0);
  expect((await runCli('murmurctl', ['keygen', '--id', 'ops', '--out', p('ops.key')])).code).toBe(0);
  expect((await runCli('murmur', ['fleet', 'init', '--fleet', 'demo', '--authority', p('authority.key'), '--out', p('draft.json')])).code).toBe(0);
  expect((await runCli('murmur', ['fleet', 'add', p('draft.json'), '--validator', '--key', p('d1.key.pub')])).code).toBe(0);
  expect((await runCli('murmur', ['fleet', 'add', p('draft.json'), '--operator', '--key', p('ops.key.pub'), '--roles', 'operator'])).code).toBe(0);
  expect((await runCli('murmur', ['fleet', 'sign', p('draft.json'), '--authority', p('authority.key'), '--out', p('fleet.manifest')])).code).toBe(0);
}, 60_000);

it('a list with its closing bracket missing, or an object cut short: one line naming the argument and the JSON error, exit 2', async () => {
  for (const [value, error] of [['[[0,0],[0,60],[60,60]', "Expected ',' or ']'"], ['{"a":1', "Expected ',' or '}'"]] as const) {
    // Port 1 on loopback: nothing listens, so a command that got as far as sending would fail otherwise.
    const r = await runCli('murmurctl', ['send', 'mission.survey', '--arg', `area=${value}`, '--arg', 'spacingM=15', '--manifest', p('fleet.manifest'), '--key', p('ops.key'), '--broker', 'mqtt://127.0.0.1:1', '--timeout', '2s']);
    expect(r.stderr.trimEnd().split('\n'), r.stderr).toEqual([expect.stringMatching(new RegExp(`^murmurctl: --arg area: ${value.replace(/[[\]{}]/g, '\\$&')} is not valid JSON \\(${error.replace(/[[\]{}]/g, '\\$&')}.*\\); a list or object goes as JSON`))]);
    expect(r.code, r.stderr).toBe(2);
    expect(r.stdout).toBe('');
  }
}, 30_000);

it('a value that is not meant as JSON still goes as text', async () => {
  // Text: built, signed and taken to the broker, whose absence is what ends it (exit 5), not the argument.
  const r = await runCli('murmurctl', ['send', 'param.set', '--arg', 'key=speedMps', '--arg', 'value=6', '--manifest', p('fleet.manifest'), '--key', p('ops.key'), '--broker', 'mqtt://127.0.0.1:1', '--timeout', '2s']);
  expect(r.stderr.trimEnd(), r.stderr).toBe('murmurctl: cannot reach the broker at mqtt://127.0.0.1:1: connect ECONNREFUSED 127.0.0.1:1');
  expect(r.code, r.stderr).toBe(5);
}, 30_000);
