// murmurctl --json when the command fails before there is a result: one JSON object on stdout,
// {"outcome":"error","exitCode":N,"reason":"..."}, besides the line on stderr. Before, stdout was empty
// on these paths while a refusal by the devices printed {"outcome":"refused",...}, so a script's
// `murmurctl send ... --json | jq -r .outcome` got "" on some exit-3 paths and "refused" on others.

import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { makeFleet, writeFleetFiles } from '../support/fleet-fixture.js';
import { runCli, type CliRun } from '../support/run-cli.js';

const dir = mkdtempSync(join(tmpdir(), 'murmur-ctl-json-errors-'));
const p = (f: string): string => join(dir, f);
// No broker listens on port 1: the connection is refused at once.
const ctl = (...args: string[]): Promise<CliRun> => runCli('murmurctl', args, { cwd: dir, env: { MURMUR_MANIFEST: p('fleet.manifest'), MURMUR_KEY: p('op.key'), MURMUR_BROKER: 'mqtt://127.0.0.1:1' } });

beforeAll(async () => {
  await writeFleetFiles(await makeFleet({ fleet: 'json-errors', validators: 4 }), dir);
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** The one JSON object on stdout, and the same reason in the one line on stderr. */
function errorObject(r: CliRun, exitCode: number, reason: RegExp): void {
  expect(r.code, r.stderr).toBe(exitCode);
  const out = JSON.parse(r.stdout) as { outcome: string; exitCode: number; reason: string };
  expect(out).toEqual({ outcome: 'error', exitCode, reason: expect.stringMatching(reason) });
  expect(r.stderr).toBe(`murmurctl: ${out.reason}\n`);
}

describe('murmurctl --json failures before a result', () => {
  it('send with a key the manifest holds for no operator (exit 3), with the broker down (exit 5), and a saved command sent after it expired (exit 3)', async () => {
    errorObject(await ctl('send', 'noop', '--json', '--key', p('v0.key')), 3, /^key .*v0\.key/);
    errorObject(await ctl('send', 'noop', '--ttl', '1s', '--save', p('short.cmd'), '--json'), 5, /^cannot reach the broker at mqtt:\/\/127\.0\.0\.1:1/);
    await new Promise((r) => setTimeout(r, 1_100));
    errorObject(await ctl('send', '--raw', p('short.cmd'), '--json'), 3, /short\.cmd expired at /);
  });

  it('status, log, watch and keygen with a bad flag or a missing option (exit 2), and status with the broker down (exit 5)', async () => {
    const [status, log, watch, keygen, down] = await Promise.all([ctl('status', '--json', '--bogus'), ctl('log', '--json', '--node', 'nobody'), ctl('watch', '--json', '--count', '0'), ctl('keygen', '--json', '--out', p('x.key')), ctl('status', '--json')]);
    errorObject(status, 2, /^unknown option --bogus/);
    errorObject(log, 2, /^--node "nobody" is not a device/);
    errorObject(watch, 2, /^--count must be a whole number/);
    errorObject(keygen, 2, /^missing required option --id$/);
    errorObject(down, 5, /^cannot reach the broker/);
  });

  it('without --json, stdout stays empty: the line on stderr is all', async () => {
    const r = await ctl('status', '--bogus');
    expect(r.code).toBe(2);
    expect(r.stdout).toBe('');
    expect(r.stderr).toMatch(/^murmurctl: unknown option --bogus/);
  });
});
