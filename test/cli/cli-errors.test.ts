// Operator mistakes through the real CLIs: each is one line on stderr naming what is wrong and the fix,
// with the documented exit code (2 usage or bad file, 3 refused), never an internal error (70).
// The cases of the .concurrent describes run at once (vitest's maxConcurrency, 5, at a time), each
// writing files of its own names and only reading those beforeAll made; the four whose runs are bounded
// in time (a hang killed after 20 s, a Ctrl-C while a run is under way, a reader that leaves) are in
// plain describes, so each runs with nothing of this file beside it.

import { spawn } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { initCrypto } from '../../runtime/crypto/sodium.js';
import { fleetCommand } from '../../runtime/cli/fleet-commands.js';
import { keygen } from '../../runtime/cli/keys.js';
import { interruptCli } from '../support/interrupt-cli.js';
import { cliEntry, cliRoot, repoRoot, runCli, type CliRun } from '../support/run-cli.js';

const dir = mkdtempSync(join(tmpdir(), 'murmur-cli-errors-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
const p = (f: string): string => join(dir, f);
const murmur = (...args: string[]): Promise<CliRun> => runCli('murmur', args, { cwd: dir });
const murmurctl = (...args: string[]): Promise<CliRun> => runCli('murmurctl', args, { cwd: dir, env: { MURMUR_MANIFEST: p('fleet.manifest'), MURMUR_KEY: p('keys/ops.key'), MURMUR_BROKER: 'mqtt://127.0.0.1:1' } });

/** One line on stderr, no internal error and no stack trace, and the exit code given. */
function oneLine(r: CliRun, code: number, text: string): void {
  expect(r.stderr, r.stderr).toContain(text);
  expect(r.stderr.trimEnd().split('\n'), r.stderr).toHaveLength(1);
  expect(r.stderr).not.toContain('internal error');
  expect(r.code, r.stderr).toBe(code);
}

// The fleet the cases work on, made by the CLIs' own keygen and fleet verbs called in this process: the
// set-up is not what this file tests (test/cli/murmur-fleet.test.ts runs them as processes), and seven
// processes started one after another were a few seconds of every run.
beforeAll(async () => {
  await initCrypto();
  await Promise.all([keygen('authority', p('keys/authority.key'), false), keygen('d1', p('keys/d1.key'), false), keygen('ops', p('keys/ops.key'), false)]);
  for (const argv of [
    ['init', '--fleet', 'demo', '--authority', p('keys/authority.key'), '--out', p('draft.json'), '--json'],
    ['add', p('draft.json'), '--validator', '--key', p('keys/d1.key.pub'), '--json'],
    ['add', p('draft.json'), '--operator', '--key', p('keys/ops.key.pub'), '--json'],
    ['sign', p('draft.json'), '--authority', p('keys/authority.key'), '--out', p('fleet.manifest'), '--json'],
  ]) {
    expect(await fleetCommand(argv), argv.join(' ')).toBe(0);
  }
  writeFileSync(p('a-file'), 'not a directory\n');
}, 60_000);

describe.concurrent('output paths', () => {
  it('a path under a file, or a directory, is one line naming the path (exit 2); a missing directory is created', async () => {
    const [save, saveDir, sign, keygen] = await Promise.all([
      murmurctl('send', 'noop', '--save', p('a-file/x.cmd'), '--wait', 'none'),
      murmurctl('send', 'noop', '--save', p('keys'), '--wait', 'none'),
      murmur('fleet', 'sign', p('draft.json'), '--authority', p('keys/authority.key'), '--out', p('a-file/m')),
      murmur('keygen', '--id', 'x', '--out', p('a-file/x.key')),
    ]);
    const [keygenDir, init] = await Promise.all([murmur('keygen', '--id', 'x', '--out', p('keys')), murmur('fleet', 'init', '--fleet', 'demo', '--authority', p('keys/authority.key'), '--out', p('a-file/d.json'))]);
    oneLine(save, 2, `--save ${p('a-file/x.cmd')}: cannot create the directory ${p('a-file')}: a part of the path is a file, not a directory`);
    oneLine(saveDir, 2, `--save ${p('keys')} is a directory; give a file path, like ${p('keys/command.cmd')}`);
    oneLine(sign, 2, `--out ${p('a-file/m')}: cannot create the directory`);
    oneLine(keygen, 2, `--out ${p('a-file/x.key')}: cannot create the directory`);
    oneLine(keygenDir, 2, `--out ${p('keys')} is a directory; give a file path, like ${p('keys/x.key')}`);
    oneLine(init, 2, `--out ${p('a-file/d.json')}: cannot create the directory`);

    // As keygen always did, a missing parent directory is made.
    const [made, saved] = await Promise.all([
      murmur('fleet', 'sign', p('draft.json'), '--authority', p('keys/authority.key'), '--out', p('new/dir/fleet.manifest')),
      murmurctl('send', 'noop', '--save', p('saved/dir/noop.cmd'), '--wait', 'none'),
    ]);
    expect(made.code, made.stderr).toBe(0);
    expect(readFileSync(p('new/dir/fleet.manifest')).length).toBeGreaterThan(100);
    oneLine(saved, 5, 'cannot reach the broker'); // saved before connecting; nothing listens on port 1
    expect(readFileSync(p('saved/dir/noop.cmd')).length).toBeGreaterThan(64);
  });

  // It said "fleet-sim start SCENARIO.yaml" literally: the report now names its scenario file, and one
  // written before that names the shipped scenario of its name, else a placeholder.
  it('fleet-sim replay of a real-time report says why it cannot and what to run instead, naming the scenario file', async () => {
    writeFileSync(p('rt.json'), JSON.stringify({ scenario: 'mine', file: 'my scenarios/mine.yaml', seed: 2026, mode: 'realtime', wallMs: 95_000 }));
    writeFileSync(p('rt-old.json'), JSON.stringify({ scenario: 'default', seed: 2026, mode: 'realtime', wallMs: 95_000 }));
    writeFileSync(p('rt-unknown.json'), JSON.stringify({ scenario: 'not-shipped', seed: 7, mode: 'realtime', wallMs: 95_000 }));
    const [r, old, unknown] = await Promise.all([
      runCli('fleet-sim', ['replay', p('rt.json')], { cwd: dir }),
      runCli('fleet-sim', ['replay', p('rt-old.json')], { cwd: dir }),
      runCli('fleet-sim', ['replay', p('rt-unknown.json')], { cwd: dir }),
    ]);
    oneLine(r, 2, `rt.json is a real-time run's report (scenario "mine", seed 2026): the wall clock and the OS scheduled it, so it cannot be replayed exactly; run the scenario again with fleet-sim start 'my scenarios/mine.yaml' --realtime --seed 2026, or in the deterministic simulator with fleet-sim run 'my scenarios/mine.yaml' --seed 2026`);
    // Absolute (the run's cwd is outside the clone), in the tree the CLI ran from: a built one keeps the
    // shipped scenarios beside its compiled code, as a release does.
    const shipped = cliRoot() === repoRoot ? join(repoRoot, 'fleet-sim/scenarios/default.yaml') : join(cliRoot(), 'dist/fleet-sim/scenarios/default.yaml');
    oneLine(old, 2, `run the scenario again with fleet-sim start ${shipped} --realtime --seed 2026, or in the deterministic simulator with fleet-sim run ${shipped} --seed 2026`);
    oneLine(unknown, 2, 'run the scenario again with fleet-sim start <scenario file> --realtime --seed 7, or in the deterministic simulator with fleet-sim run <scenario file> --seed 7');
    for (const x of [r, old, unknown]) expect(x.stderr).not.toContain('SCENARIO.yaml');
  });

  it('fleet-sim refuses an option or argument its command does not take (each ran and ignored it)', async () => {
    const cases: [string[], string][] = [
      [['seeds', '--count', '1', '--seed', '9'], 'fleet-sim seeds does not take --seed (seeds runs --from S to S+N-1: give --from 9)'],
      [['seeds', '--count', '1', '--threads', '2'], 'fleet-sim seeds does not take --threads (run takes it)'],
      [['run', '--count', '3'], 'fleet-sim run does not take --count (seeds takes it)'],
      [['run', '--from', '3'], 'fleet-sim run does not take --from (seeds takes it)'],
      [['replay', '--seed', '5', '--threads', '2'], 'fleet-sim replay does not take --threads (a random world runs on one thread; a report\'s replay line carries its own)'],
      [['replay', p('rt.json'), '--seed', '5'], 'fleet-sim replay takes --seed S or a report file, not both'],
      [['run', 'fleet-sim/scenarios/leader-crash.yaml', 'fleet-sim/scenarios/geofence.yaml'], 'fleet-sim run takes one scenario file, got 2: fleet-sim/scenarios/leader-crash.yaml fleet-sim/scenarios/geofence.yaml'],
      [['seeds', '--count', '1', 'extra'], 'fleet-sim seeds takes no file, got extra'],
      [['seeds', '--count', '1', '--seconds', '0'], 'fleet-sim: --seconds must be a whole number of simulated seconds from 1 to 3600, got "0"'],
      [['run', '--seconds', '30'], "fleet-sim run does not take --seconds (a scenario file's duration sets it)"],
      [['replay', p('rt.json'), '--seconds', '30'], 'fleet-sim replay takes --seconds with --seed (a random world); a report file names its own'],
      // A scenario where its report belongs: JSON.parse's message quoted the YAML over two lines.
      [['replay', 'fleet-sim/scenarios/leader-crash.yaml'], 'fleet-sim/scenarios/leader-crash.yaml is not a JSON report (fleet-sim run --json FILE and fleet-sim start write one); to run a scenario file: fleet-sim run fleet-sim/scenarios/leader-crash.yaml'],
    ];
    const runs = await Promise.all(cases.map(([args]) => runCli('fleet-sim', args)));
    runs.forEach((r, i) => {
      oneLine(r, 2, (cases[i] as [string[], string])[1]);
      expect(r.stdout, r.stdout).toBe(''); // nothing ran
    });
  });

  it('fleet-sim seeds --seconds: a longer random world, whose replay line and report name its length, and replay runs it again', async () => {
    const r = await runCli('fleet-sim', ['seeds', '--count', '1', '--from', '21030', '--seconds', '12', '--json', p('long-seeds.json')], { cwd: dir });
    expect(r.code, r.stderr).toBe(0);
    const rows = JSON.parse(readFileSync(p('long-seeds.json'), 'utf8')) as { runs: { seed: number; ok: boolean; heights: number }[] };
    expect(rows.runs).toHaveLength(1);
    const one = await runCli('fleet-sim', ['replay', '--seed', '21030', '--seconds', '12', '--json', p('long-one.json')], { cwd: dir });
    expect(one.code, one.stderr).toBe(0);
    const report = JSON.parse(readFileSync(p('long-one.json'), 'utf8')) as { replay: string; simulatedMs: number; liveness: { heights: number } };
    expect(report.replay).toBe('npx fleet-sim replay --seed 21030 --seconds 12');
    expect(report.liveness.heights, 'the same world as seeds ran').toBe(rows.runs[0]?.heights);
    expect(report.simulatedMs).toBeGreaterThanOrEqual(12_000);
    const again = await runCli('fleet-sim', ['replay', p('long-one.json')], { cwd: dir });
    expect(again.stderr).toBe('');
    expect(again.stdout).toMatch(new RegExp(`^random-21030 seed 21030: ok \\(heights ${report.liveness.heights},`));
  });

  it('fleet-sim: a scenario path with a space or a quote gives a replay line a shell runs, and replay of its report runs it', async () => {
    const sub = p("my scenarios/it's");
    mkdirSync(sub, { recursive: true });
    const file = join(sub, 'lc.yaml');
    // leader-crash's story in a fifth of its 20 s: the path is what is tested, not the run.
    writeFileSync(file, 'name: leader-crash\nseed: 7\nduration: 4s\nvalidators: 4\nfollowers: 1\nfaults:\n  - { at: 2s, crash: proposer }\nworkload:\n  - { from: 200ms, to: 3600ms, rate: 20/s, command: noop }\nexpect: { safety: true, committedFraction: 0.9 }\n');
    const first = await runCli('fleet-sim', ['run', file, '--json', p('spaced.json')], { cwd: dir });
    expect(first.code, first.stderr).toBe(0);
    const report = JSON.parse(readFileSync(p('spaced.json'), 'utf8')) as { replay: string };
    expect(report.replay).toBe(`npx fleet-sim run '${dir}/my scenarios/it'\\''s/lc.yaml' --seed 7 --json -`);
    const again = await runCli('fleet-sim', ['replay', p('spaced.json')], { cwd: dir });
    expect(again.stderr).toBe('');
    expect(again.stdout).toMatch(/^leader-crash seed 7: ok/);
    expect(again.code).toBe(0);
  });

  it('fleet-sim: a scenario with a YAML error names the file once and the line; an empty one says so (exit 2)', async () => {
    writeFileSync(p('bad-scenario.yaml'), 'name: x\nfaults: [ { at: 1s, crash: 0 }\nexpect: {}\n');
    writeFileSync(p('empty-scenario.yaml'), '\n');
    const [bad, empty] = await Promise.all([runCli('fleet-sim', ['run', p('bad-scenario.yaml')]), runCli('fleet-sim', ['run', p('empty-scenario.yaml')])]);
    // It said the path twice and ended at the YAML library's colon; empty: 'scenario field "(top level)": must be a map'.
    expect(bad.stderr).toBe(`fleet-sim: ${p('bad-scenario.yaml')}: not valid YAML or JSON: Flow sequence in block collection must be sufficiently indented and end with a ] at line 3, column 1 ("expect: {}")\n`);
    expect(empty.stderr).toBe(`fleet-sim: ${p('empty-scenario.yaml')}: the file is empty; a scenario has at least a name (fleet-sim/scenarios/leader-crash.yaml is the shortest)\n`);
    for (const r of [bad, empty]) expect(r.code).toBe(2);
  });

  it('fleet-sim: a shipped scenario named without its path, a missing file or a directory is one line with the fix (exit 2)', async () => {
    // The README names the scenarios ('leader-crash'); Node's "ENOENT: no such file or directory, open
    // 'leader-crash'" was all that came back.
    const [byName, missing, directory] = await Promise.all([runCli('fleet-sim', ['run', 'leader-crash']), runCli('fleet-sim', ['start', p('nothing-here.yaml')]), runCli('fleet-sim', ['run', dir])]);
    oneLine(byName, 2, 'no scenario file leader-crash; the shipped scenario "leader-crash" is ');
    expect(byName.stderr).toMatch(/ is (\S*)leader-crash\.yaml: fleet-sim run \1leader-crash\.yaml\n$/);
    oneLine(missing, 2, `no scenario file ${p('nothing-here.yaml')}; the shipped ones are in `);
    oneLine(directory, 2, `${dir} is a directory; give a scenario file in it, like ${join(dir, 'leader-crash.yaml')}`);
  });

  it('fleet-sim checks --json FILE before it runs', async () => {
    const r = await runCli('fleet-sim', ['run', '--json', p('a-file/report.json')], { cwd: dir });
    oneLine(r, 2, `--json ${p('a-file/report.json')}: cannot create the directory`);
    expect(r.stdout).toBe(''); // refused before the run, not after it
  });
});

describe('output paths and pipes, in runs bounded in time', () => {
  it('a directory that cannot be made below an existing one (/proc) is one line, exit 2, not a hang', async () => {
    // Node's recursive mkdir retries for ever where mkdir answers ENOENT under a directory that exists:
    // keygen --out /proc/x/k.key spun at 100 % CPU until killed, and murmur start with dataDir under
    // /proc too, deaf to SIGTERM (its loop never gave the handler a turn). Bounded runs: a hang fails.
    const where = `/proc/murmur-test-${process.pid}`;
    writeFileSync(p('proc.yaml'), `id: d1\nkey: ${p('keys/d1.key')}\nmanifest: ${p('fleet.manifest')}\ndataDir: ${where}/d1\nmqtt: { url: "mqtt://127.0.0.1:1" }\n`);
    /** Each CLI in a child that SIGKILL ends after 20 s (a spinning one ignores SIGTERM). */
    const bounded = (bin: 'murmur' | 'fleet-sim', args: string[]): Promise<CliRun> =>
      new Promise((resolve) => {
        const child = spawn(process.execPath, [cliEntry(bin), ...args], { cwd: dir, stdio: ['ignore', 'pipe', 'pipe'] });
        let stdout = '';
        let stderr = '';
        child.stdout.on('data', (b: Buffer) => (stdout += b.toString()));
        child.stderr.on('data', (b: Buffer) => (stderr += b.toString()));
        const timer = setTimeout(() => child.kill('SIGKILL'), 20_000);
        child.once('exit', (code) => {
          clearTimeout(timer);
          resolve({ code: code ?? -1, stdout, stderr });
        });
      });
    const scenario = join(repoRoot, 'fleet-sim/scenarios/leader-crash.yaml');
    const [keygen, report, reports, start] = await Promise.all([
      bounded('murmur', ['keygen', '--id', 'x', '--out', `${where}/keys/x.key`]),
      bounded('fleet-sim', ['run', scenario, '--json', `${where}/r.json`]),
      bounded('fleet-sim', ['start', scenario, '--reports', `${where}/reports`, '--no-dashboard', '--speed', '0']),
      bounded('murmur', ['start', '--config', p('proc.yaml')]),
    ]);
    oneLine(keygen, 2, `--out ${where}/keys/x.key: cannot create the directory ${where}/keys: no such file or directory`);
    oneLine(report, 2, `--json ${where}/r.json: cannot create the directory ${where}: no such file or directory`);
    oneLine(reports, 2, `--reports ${where}/reports: cannot create the directory: no such file or directory`);
    oneLine(start, 2, `${p('proc.yaml')}: dataDir: cannot create or write ${where}/d1;`);
  });

  it('fleet-sim piped into a reader that stops early (seeds | head -1) ends its output quietly, no EPIPE stack trace', async () => {
    const child = spawn(process.execPath, [cliEntry('fleet-sim'), 'seeds', '--count', '3', '--from', '1'], { cwd: dir, stdio: ['ignore', 'pipe', 'pipe'] });
    let stderr = '';
    child.stderr.on('data', (b: Buffer) => (stderr += b.toString()));
    child.stdout.once('data', () => child.stdout.destroy()); // head -1 read its line and left
    const timer = setTimeout(() => child.kill('SIGKILL'), 60_000);
    const code = await new Promise<number | null>((r) => child.once('exit', (c) => r(c)));
    clearTimeout(timer);
    expect(stderr).toBe('');
    expect(code).toBe(0);
  });
});

describe('fleet-sim start cut short', () => {
  it('Ctrl-C during a deterministic run says where it stopped and how to get the reports (exit 130), writes none', async () => {
    // It exited 130 without a word: the progress bar stopped and the reports it had promised never came.
    const reports = p('int-reports');
    // Sent when the run is under way (non-TTY progress: a line each 10 %).
    const { code, stdout, stderr } = await interruptCli('fleet-sim', ['start', 'fleet-sim/scenarios/leader-crash.yaml', '--speed', '4', '--no-dashboard', '--reports', reports], (out) => out.includes('10%'), 40_000);
    expect(code, stdout + stderr).toBe(130);
    // With the run's --reports and --no-dashboard (they were left out: the reports went to ./reports).
    const again = `fleet-sim start fleet-sim/scenarios/leader-crash.yaml --seed 7 --speed 0 --reports ${reports} --no-dashboard`;
    expect(stderr).toMatch(new RegExp(`^fleet-sim: interrupted at \\d+\\.\\d s of 20 s; no report written\\. The run is deterministic: ${again.replace(/[./]/g, '\\$&')} writes its reports without pacing\\n$`));
    expect(readdirSync(reports)).toEqual([]);
  }, 60_000);
});

describe.concurrent('--version', () => {
  it('each CLI names its release, the version in package.json (it was refused as an option before the command)', async () => {
    const version = (JSON.parse(readFileSync(join(repoRoot, 'package.json'), 'utf8')) as { version: string }).version;
    const [ctl, dev, sim, short] = await Promise.all([runCli('murmurctl', ['--version']), runCli('murmur', ['--version']), runCli('fleet-sim', ['--version']), runCli('murmurctl', ['-V'])]);
    expect([ctl, dev, sim, short].map((r) => [r.code, r.stdout, r.stderr])).toEqual([
      [0, `murmurctl ${version}\n`, ''],
      [0, `murmur ${version}\n`, ''],
      [0, `fleet-sim ${version}\n`, ''],
      [0, `murmurctl ${version}\n`, ''],
    ]);
  });
});

describe('fleet-sim seeds cut short', () => {
  it('Ctrl-C between two worlds counts and writes the worlds run so far, says how far it got and how to run the rest (exit 130)', async () => {
    // It died by the signal without a word: which seeds had run, and whether any had failed, was lost.
    const json = p('seeds-int.json');
    // One Ctrl-C, once three worlds have run.
    const { code, stdout, stderr } = await interruptCli('fleet-sim', ['seeds', '--count', '5000', '--from', '11', '--json', json], (out) => /seed 13 ok/.test(out), 40_000);
    expect(code, stdout + stderr).toBe(130);
    const m = /^fleet-sim seeds: stopped by Ctrl-C after (\d+) of 5000 worlds \(seeds 11\.\.(\d+), all ok\); the rest: fleet-sim seeds --count (\d+) --from (\d+)\n$/.exec(stderr);
    expect(m, stderr).not.toBeNull();
    const [ran, last, rest, next] = (m as RegExpExecArray).slice(1).map(Number) as [number, number, number, number];
    expect(ran).toBeGreaterThanOrEqual(3);
    expect([last, next, rest]).toEqual([10 + ran, 11 + ran, 5000 - ran]);
    expect(stdout).toContain(`${ran}/${ran} seeds ok\n`);
    const report = JSON.parse(readFileSync(json, 'utf8')) as { count: number; stopped: string; runs: unknown[] };
    expect(report).toMatchObject({ count: ran, stopped: `by SIGINT after ${ran} of 5000` });
    expect(report.runs).toHaveLength(ran);
  }, 60_000);
});

describe.concurrent('fleet-sim start --realtime', () => {
  it('refuses --speed, which only the deterministic simulator has (it ran on the wall clock without a word)', async () => {
    const r = await runCli('fleet-sim', ['start', 'fleet-sim/scenarios/leader-crash.yaml', '--realtime', '--speed', '4', '--no-dashboard', '--exit', '--reports', p('reports')]);
    oneLine(r, 2, '--speed 4: --realtime runs on the wall clock; leave out --realtime to run the deterministic simulator at that speed');
    expect(r.stdout).toBe('');
  });
});

describe.concurrent('fleet drafts edited by hand', () => {
  it('a draft missing a field, or with a bad one, names the field (exit 2) in add, remove, sign and show', async () => {
    writeFileSync(p('bare.json'), '{"format":"murmur-fleet-draft/1"}\n');
    const good = JSON.parse(readFileSync(p('draft.json'), 'utf8')) as { validators: { power: unknown }[] };
    (good.validators[0] as { power: unknown }).power = 'lots';
    writeFileSync(p('badpower.json'), JSON.stringify(good));
    const [add, sign, remove, show] = await Promise.all([
      murmur('fleet', 'add', p('bare.json'), '--validator', '--key', p('keys/d1.key.pub'), '--id', 'd9'),
      murmur('fleet', 'sign', p('bare.json'), '--authority', p('keys/authority.key'), '--out', p('bare.manifest')),
      murmur('fleet', 'remove', p('badpower.json'), '--id', 'd1'),
      murmur('fleet', 'show', p('bare.json')),
    ]);
    for (const r of [add, sign, show]) oneLine(r, 2, `${p('bare.json')}: bad field in fleet draft: fleet is missing; fix it by hand, or start again with murmur fleet init`);
    oneLine(remove, 2, 'bad field in fleet draft: validators[0].power must be an unsigned integer');
  });

  it('a key file or a signed manifest given as the draft says what it is; show --draft is in the help', async () => {
    const [key, signed, help] = await Promise.all([murmur('fleet', 'show', p('keys/d1.key')), murmur('fleet', 'add', p('fleet.manifest'), '--follower', '--key', p('keys/d1.key.pub')), murmur('fleet', '--help')]);
    oneLine(key, 2, `${p('keys/d1.key')} is a key file, not a fleet draft`);
    oneLine(signed, 2, `${p('fleet.manifest')} is a signed manifest, not a draft; to edit it, export it first: murmur fleet show ${p('fleet.manifest')} --draft > draft.json`);
    expect(help.stdout).toContain('show   FILE [--json] [--draft]');
  });
});

describe.concurrent('key files where a secret key belongs', () => {
  it('a public key file or a directory is named as such (exit 2), not "readable by other users"', async () => {
    const [pub, keyDir, sendPub] = await Promise.all([
      murmur('fleet', 'init', '--fleet', 'x', '--authority', p('keys/authority.key.pub'), '--out', p('x.json')),
      murmur('fleet', 'init', '--fleet', 'x', '--authority', p('keys'), '--out', p('x.json')),
      murmurctl('send', 'noop', '--key', p('keys/ops.key.pub')),
    ]);
    oneLine(pub, 2, `${p('keys/authority.key.pub')} is a public key file; give the secret key file written by keygen (${p('keys/authority.key')}?)`);
    oneLine(keyDir, 2, `${p('keys')} is a directory; give the secret key file written by keygen`);
    oneLine(sendPub, 2, `--key: ${p('keys/ops.key.pub')} is a public key file`);
    for (const r of [pub, keyDir, sendPub]) expect(r.stderr).not.toContain('chmod');
  });
});

describe.concurrent('durations', () => {
  it('--ttl 1h is taken (as send --help says: at most 1h); --timeout 0 or below is a usage error naming --timeout', async () => {
    const [hour, tooLong, zero, negative] = await Promise.all([
      murmurctl('send', 'noop', '--ttl', '1h', '--wait', 'none'),
      murmurctl('send', 'noop', '--ttl', '1.5h', '--wait', 'none'),
      murmurctl('send', 'noop', '--timeout', '0'),
      murmurctl('status', '--timeout=-5s'),
    ]);
    oneLine(hour, 5, 'cannot reach the broker at mqtt://127.0.0.1:1'); // the ttl passed; nothing listens on port 1
    oneLine(tooLong, 2, '--ttl must be more than 0 and at most 60 minutes');
    oneLine(zero, 2, '--timeout 0 must be more than 0 ms, like 30s, 500ms, 2m or 1h');
    oneLine(negative, 2, '--timeout -5s must be more than 0 ms');
  });

  it('--timeout above 24h is a usage error (exit 2) for every verb, before Node\'s timers overflowed (a false "no PUBACK", a watch that ended at once); 24h is taken', async () => {
    const [send, watch, status, log, day] = await Promise.all([
      murmurctl('send', 'noop', '--timeout', '99999999999h', '--wait', 'none'),
      murmurctl('watch', '--timeout', '600h'),
      murmurctl('status', '--timeout', '24.5h'),
      murmurctl('log', '--timeout', '1441m'),
      murmurctl('send', 'noop', '--timeout', '24h', '--wait', 'none'),
    ]);
    expect(send.stderr).toBe('murmurctl: --timeout 99999999999h is more than 24 h, the longest murmurctl waits: give at most 24h (the command stays valid for --ttl, at most 1h, anyway)\n');
    expect(watch.stderr).toBe('murmurctl: --timeout 600h is more than 24 h, the longest murmurctl waits: give at most 24h (or leave --timeout out: watch then runs until Ctrl-C)\n');
    expect(status.stderr).toBe('murmurctl: --timeout 24.5h is more than 24 h, the longest murmurctl waits: give at most 24h\n');
    expect(log.stderr).toBe('murmurctl: --timeout 1441m is more than 24 h, the longest murmurctl waits: give at most 24h\n');
    for (const r of [send, watch, status, log]) expect(r.code, r.stderr).toBe(2);
    oneLine(day, 5, 'cannot reach the broker at mqtt://127.0.0.1:1'); // taken; nothing listens on port 1
    expect(day.stderr).not.toContain('TimeoutOverflowWarning');
  });
});

describe.concurrent('view help pages', () => {
  it('status, watch and log --help each show their own usage and --timeout default', async () => {
    const [status, watch, log] = await Promise.all([murmurctl('status', '--help'), murmurctl('watch', '--help'), murmurctl('log', '--help')]);
    for (const r of [status, watch, log]) expect([r.code, r.stderr]).toEqual([0, '']);
    expect(status.stdout).toMatch(/^Usage: murmurctl status \[options\]/);
    expect(status.stdout).toContain("--timeout DURATION how long to listen for the devices' retained status (default 0.8s)");
    expect(status.stdout).toContain('LIVENESS: alive, suspect, dead or recovered');
    expect(watch.stdout).toMatch(/^Usage: murmurctl watch \[--count N\] \[options\]/);
    expect(watch.stdout).toContain('--timeout DURATION stop after this long (default: no timeout, watch until Ctrl-C or --count)');
    expect(watch.stdout).not.toContain('LIVENESS');
    expect(log.stdout).toMatch(/^Usage: murmurctl log \[--node ID\] \[options\]/);
    expect(log.stdout).toContain("--timeout DURATION how long to listen for the devices' retained logs (default 0.8s)");
    expect(log.stdout).not.toContain('LIVENESS');
    for (const r of [status, watch, log]) expect(r.stdout).toContain('at most 24h');
  });
});

describe.concurrent('view options', () => {
  it('watch --count takes whole numbers only; status and log refuse an option of another verb (exit 2)', async () => {
    const [fraction, statusCount, watchNode] = await Promise.all([murmurctl('watch', '--count', '1.5'), murmurctl('status', '--count', '3'), murmurctl('watch', '--node', 'd1')]);
    oneLine(fraction, 2, '--count must be a whole number of messages, at least 1, is "1.5"');
    oneLine(statusCount, 2, '--count is an option of watch, not of status');
    oneLine(watchNode, 2, '--node is an option of log, not of watch');
  });
});

describe.concurrent('negative numbers as option values', () => {
  it('are one line naming the option and the value (exit 2), not parseArgs\' three lines and the usage', async () => {
    const [power, timeout] = await Promise.all([murmur('fleet', 'add', p('draft.json'), '--validator', '--key', p('keys/d1.key.pub'), '--power', '-1'), murmurctl('send', 'noop', '--timeout', '-5s')]);
    oneLine(power, 2, '--power "-1": negative numbers are not taken here, and a value starting with "-" reads as an option; give a positive value');
    oneLine(timeout, 2, '--timeout "-5s": negative numbers are not taken here');
    expect(power.stdout + power.stderr).not.toContain('Usage:');
  });
});

describe.concurrent('command types', () => {
  it('a mistyped type is refused before signing (exit 2), naming the closest and the known types', async () => {
    const [typo, nothingClose, help] = await Promise.all([murmurctl('send', 'mission.surveyy', '--arg', 'spacingM=15'), murmurctl('send', '--command', '{"type":"teleport"}'), murmurctl('send', '--help')]);
    oneLine(typo, 2, '"mission.surveyy" is not a command type; did you mean mission.survey? (known: noop, mission.survey, mission.goto,');
    oneLine(nothingClose, 2, '"teleport" is not a command type (known: noop, mission.survey');
    expect(nothingClose.stderr).not.toContain('did you mean');
    expect(typo.stderr).not.toContain('cannot reach the broker'); // refused before anything was signed or sent
    expect(help.stdout).toMatch(/TYPE\s+noop, mission\.survey, mission\.goto, formation, hold, resume, rtl, land,\s+abort, geofence\.set, hazard\.clear, param\.set, fleet\.update, agent\.model/);
    expect(help.stdout).toContain('(geofence.set, hazard.clear, param.set, fleet.update, agent.model need the admin role)');
  });
});

describe.concurrent('words after the command type', () => {
  it('are refused before signing (exit 2), naming the --arg they meant: send land d2 landed every drone', async () => {
    const [land, goto, noop, whole, raw] = await Promise.all([
      murmurctl('send', 'land', 'd2', '--save', p('stray-land.cmd')),
      murmurctl('send', 'mission.goto', 'd2', '--arg', 'waypoints=[[20,0]]'),
      murmurctl('send', 'noop', 'extra'),
      murmurctl('send', '--command', '{"type":"hold"}', 'd2'),
      murmurctl('send', '--raw', p('stray-land.cmd'), '--arg', 'nodes=["d2"]'),
    ]);
    oneLine(land, 2, `unexpected argument "d2" after land: arguments go as --arg NAME=VALUE; for some drones only: --arg 'nodes=["d2"]' (without it, land is for every drone); nothing was signed or sent`);
    oneLine(goto, 2, 'unexpected argument "d2" after mission.goto: arguments go as --arg NAME=VALUE; for one drone: --arg node=d2; nothing was signed or sent');
    oneLine(noop, 2, 'unexpected argument "extra" after noop: arguments go as --arg NAME=VALUE; nothing was signed or sent');
    oneLine(whole, 2, 'unexpected argument "d2": --command gives the whole command; nothing was signed or sent');
    oneLine(raw, 2, '--raw publishes a saved command as it is: leave out --arg');
    expect(existsSync(p('stray-land.cmd'))).toBe(false); // not signed, so not saved either
  });
});

describe.concurrent('words a command does not take', () => {
  it('are one line naming the word and the option it belongs to (exit 2); each was ignored, or asked for the option', async () => {
    writeFileSync(p('stray.yaml'), 'id: d1\n');
    const cases: [string[], 'murmur' | 'murmurctl', string][] = [
      [['status', 'd1'], 'murmurctl', 'unexpected argument "d1": status shows every device of the manifest'],
      [['log', 'd1'], 'murmurctl', 'unexpected argument "d1": one device\'s log is --node d1'],
      [['keygen', 'ops2', '--out', p('stray-ops2.key')], 'murmurctl', 'unexpected argument "ops2": the id goes as --id ops2, the file as --out FILE'],
      [['keygen', 'd5', '--id', 'd5', '--out', p('stray-d5.key')], 'murmur', 'unexpected argument "d5": the id goes as --id d5, the file as --out FILE'],
      [['start', p('stray.yaml')], 'murmur', `unexpected argument "${p('stray.yaml')}": the config file goes as --config ${p('stray.yaml')}`],
      [['fleet', 'init', 'demo', '--authority', p('keys/authority.key'), '--out', p('stray-draft.json')], 'murmur', 'unexpected argument "demo": fleet init takes the fleet as --fleet ID and the draft as --out FILE'],
      [['fleet', 'sign', p('draft.json'), 'extra', '--authority', p('keys/authority.key'), '--out', p('stray.manifest')], 'murmur', `unexpected argument "extra": fleet sign takes one file, ${p('draft.json')}`],
    ];
    const runs = await Promise.all(cases.map(([args, bin]) => (bin === 'murmur' ? murmur(...args) : murmurctl(...args))));
    runs.forEach((r, i) => {
      oneLine(r, 2, (cases[i] as [string[], string, string])[2]);
      expect(r.stdout).toBe('');
    });
    // Nothing was written: keygen made no key (it took --id d5 before), fleet sign no manifest.
    for (const f of ['stray-ops2.key', 'stray-d5.key', 'stray-draft.json', 'stray.manifest']) expect(existsSync(p(f)), f).toBe(false);
  });
});

describe.concurrent('mistyped commands and options', () => {
  it('are one line naming the nearest command or option (exit 2), not the whole usage', async () => {
    const cases: [Promise<CliRun>, string][] = [
      [murmurctl('sned', 'noop'), 'murmurctl: unknown command "sned"; did you mean send? (murmurctl --help lists them: keygen, send, status, watch, log)'],
      [murmurctl('--broker', 'mqtt://127.0.0.1:1', 'status'), 'murmurctl: "--broker" before the command: give the command first, then its options (murmurctl --help lists them: keygen, send, status, watch, log)'],
      [murmur('strat', '--config', p('d1.yaml')), 'murmur: unknown command "strat"; did you mean start? (murmur --help lists them: keygen, fleet, provision, start)'],
      [murmur('fleet', 'ad', p('draft.json')), 'murmur: unknown command "ad"; did you mean add? (murmur fleet --help lists them: init, add, remove, sign, show, verify)'],
      [runCli('fleet-sim', ['seed', '--count', '1']), 'fleet-sim: unknown command "seed"; did you mean seeds? (fleet-sim --help lists them: run, start, seeds, replay)'],
      [runCli('fleet-sim', ['frobnicate']), 'fleet-sim: unknown command "frobnicate" (fleet-sim --help lists them: run, start, seeds, replay)'],
      // Options too: the nearest one, and no usage after the line (it buried the line that matters).
      [murmurctl('send', 'noop', '--wiat', 'executed'), 'murmurctl: unknown option --wiat; did you mean --wait? (--help lists the options)'],
      [murmur('start', '--confg', p('d1.yaml')), 'murmur: unknown option --confg; did you mean --config? (--help lists the options)'],
      [runCli('fleet-sim', ['run', '--sed', '3']), 'fleet-sim: unknown option --sed; did you mean --seed? (--help lists the options)'],
      [murmurctl('send', 'noop', '--wait'), 'murmurctl: --wait needs a value (--help lists the options)'],
    ];
    const runs = await Promise.all(cases.map(([r]) => r));
    runs.forEach((r, i) => {
      expect(r.stderr).toBe(`${(cases[i] as [Promise<CliRun>, string])[1]}\n`);
      expect(r.code).toBe(2);
      expect(r.stdout).toBe('');
    });
  });
});

describe.concurrent('fleet sign over a signed manifest', () => {
  it('of the same fleet and epoch is refused (exit 3) unless --force; a higher epoch with --previous replaces it', async () => {
    // It replaced it without a word: a draft changed and signed again without --epoch gave the fleet two
    // manifests of one epoch.
    const out = p('resign/fleet.manifest');
    const sign = (...extra: string[]): Promise<CliRun> => murmur('fleet', 'sign', p('draft.json'), '--authority', p('keys/authority.key'), '--out', out, ...extra);
    expect((await sign()).code).toBe(0);
    const first = readFileSync(out);
    const again = await sign();
    oneLine(again, 3, `--out ${out} already holds fleet "demo" epoch 1 (hash `);
    expect(again.stderr).toContain(`to change it, sign epoch 2 with --previous ${out} --epoch 2, or pass --force to replace it`);
    expect(readFileSync(out).equals(first)).toBe(true);
    const [forced] = [await sign('--force')];
    expect(forced.code, forced.stderr).toBe(0);
    // --force too: a successor of this one-validator fleet with no admin is refused without it
    // (test/cli/ctl-send-args.test.ts); here only the file at --out is in question.
    const next = await sign('--previous', out, '--epoch', '2', '--force');
    expect(next.code, next.stderr).toBe(0);
    expect(next.stdout).toContain('epoch 2');
  });
});

describe.concurrent('signed manifests', () => {
  it('a draft or other text where a signed manifest belongs is named for what it is (exit 2)', async () => {
    const [verify, ctl, text] = await Promise.all([murmur('fleet', 'verify', p('draft.json')), murmurctl('status', '--manifest', p('draft.json')), murmur('fleet', 'verify', p('a-file'))]);
    const draft = `${p('draft.json')} is an unsigned fleet draft, not a signed manifest; sign it with \`murmur fleet sign ${p('draft.json')} --authority KEYFILE --out fleet.manifest\``;
    oneLine(verify, 2, draft);
    oneLine(ctl, 2, draft);
    oneLine(text, 2, `${p('a-file')} is a text file, not a signed manifest`);
    writeFileSync(p('d1.yaml'), `id: d1\nkey: ${p('keys/d1.key')}\nmanifest: ${p('draft.json')}\ndataDir: ${p('data/d1')}\nmqtt: { url: "mqtt://127.0.0.1:1" }\n`);
    oneLine(await murmur('start', '--config', p('d1.yaml')), 2, `${p('d1.yaml')}: manifest: ${draft}`);
  });

  it('verify --authority-key with another key names that key, not "this device"', async () => {
    const r = await murmur('fleet', 'verify', p('fleet.manifest'), '--authority-key', p('keys/d1.key.pub'));
    oneLine(r, 1, `${p('fleet.manifest')} is signed by authority`);
    expect(r.stderr).toContain(`not by --authority-key ${p('keys/d1.key.pub')} (`);
    expect(r.stderr).not.toContain('this device');
  });
});

describe.concurrent('murmur start on a damaged data directory', () => {
  it('a snapshot that fails its checksum is one line naming the directory and the file (exit 2, a bad file), not 5 (unavailable)', async () => {
    mkdirSync(p('data/damaged'), { recursive: true });
    writeFileSync(p('data/damaged/consensus.snapshot'), 'not a snapshot\n');
    writeFileSync(p('damaged.yaml'), `id: d1\nkey: ${p('keys/d1.key')}\nmanifest: ${p('fleet.manifest')}\ndataDir: ${p('data/damaged')}\nmqtt: { url: "mqtt://127.0.0.1:1" }\nhttp: { port: 0 }\nagents: { enabled: false }\n`);
    oneLine(await murmur('start', '--config', p('damaged.yaml')), 2, `${p('damaged.yaml')}: dataDir: ${p('data/damaged')}: consensus.snapshot fails its checksum; refusing to start (move it aside to resync from peers)`);
  });
});

describe.concurrent('--json', () => {
  it('fleet init, add, remove and sign print one JSON object saying what they did', async () => {
    const draft = p('json/draft.json');
    const init = await murmur('fleet', 'init', '--fleet', 'j', '--authority', p('keys/authority.key'), '--out', draft, '--json');
    expect(init.code, init.stderr).toBe(0);
    expect(JSON.parse(init.stdout)).toMatchObject({ ok: true, verb: 'init', draft, fleet: 'j', epoch: 1 });
    const add = await murmur('fleet', 'add', draft, '--validator', '--key', p('keys/d1.key.pub'), '--power', '3', '--json');
    expect(JSON.parse(add.stdout)).toMatchObject({ ok: true, verb: 'add', draft, role: 'validator', id: 'd1', power: 3 });
    const op = await murmur('fleet', 'add', draft, '--operator', '--key', p('keys/ops.key.pub'), '--roles', 'admin', '--json');
    expect(JSON.parse(op.stdout)).toMatchObject({ ok: true, verb: 'add', role: 'operator', id: 'ops', roles: ['admin'] });
    const remove = await murmur('fleet', 'remove', draft, '--id', 'ops', '--json');
    const sign = await murmur('fleet', 'sign', draft, '--authority', p('keys/authority.key'), '--out', p('json/fleet.manifest'), '--json');
    expect(JSON.parse(remove.stdout)).toEqual({ ok: true, verb: 'remove', draft, id: 'ops' });
    expect(JSON.parse(sign.stdout)).toMatchObject({ ok: true, verb: 'sign', manifest: p('json/fleet.manifest'), fleet: 'j', epoch: 1, validators: 1, followers: 0, operators: 0 });
    expect(JSON.parse(sign.stdout).hash).toMatch(/^[0-9a-f]{64}$/);
  });
});
