// A validator whose machine clock is two minutes slow (libfaketime under a real `murmur start`
// process, as a board without a real-time clock that booted with an old time and has no NTP): every
// block is more than the 30 s a block may be ahead of its clock, so it prevotes nil on them, but it
// decides each block on the fleet's precommits, keeps up, and its health names its clock. Before, it
// found every block invalid, decided none on precommits, and its health said ok.

import { existsSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { fleetForFile } from '../support/fleet-procs.js';
import { cliEntry } from '../support/run-cli.js';
import { startDeviceProcess } from '../support/device-process.js';

const fleet = fleetForFile({ validators: 4, followers: 0, brokerUrl: null, processes: true, fleet: 'clock-slow' });

/** Debian's libfaketime (package faketime, installed by .ci/run), for this machine's architecture. */
function libfaketime(): string {
  const dir = readdirSync('/usr/lib').map((d) => join('/usr/lib', d, 'faketime', 'libfaketime.so.1')).find((f) => existsSync(f));
  if (dir === undefined) throw new Error('libfaketime.so.1 not found under /usr/lib/*/faketime: apt-get install faketime (.ci/run does)');
  return dir;
}

interface Health { height: number; health: string; healthReasons: string[] }

/** The HTTP port a device's ready log line names (0 without one). */
function readyPort(output: string): number {
  const ready = output.split('\n').find((l) => l.includes('"event":"ready"')) ?? '';
  return Number(/"http":"http:\/\/[^":]+:(\d+)"/.exec(ready)?.[1] ?? 0);
}

async function health(port: number): Promise<Health> {
  return (await (await fetch(`http://127.0.0.1:${port}/health`)).json()) as Health;
}

describe('a validator whose clock is two minutes slow', () => {
  it('keeps deciding the fleet\'s blocks, and its health names its clock', async () => {
    const [a, b, c, slow] = fleet.devices;
    if (!a || !b || !c || !slow) throw new Error('no devices');
    // The four start at once (each waited for in turn, they took a second or more apiece).
    const others = Promise.all([a, b, c].map((d) => fleet.start(d)));
    // libfaketime preloaded into node itself (the faketime wrapper forks, and its PID is not node's);
    // the monotonic clock left alone, as a wrong wall clock leaves it.
    const dev = startDeviceProcess(process.execPath, [cliEntry('murmur'), 'start', '--config', slow.config], { cwd: fleet.dir, env: { LD_PRELOAD: libfaketime(), FAKETIME: '-120s', FAKETIME_DONT_FAKE_MONOTONIC: '1' }, readyMs: 20_000 });
    try {
      await Promise.all([others, dev.ready]);
      const port = readyPort(dev.output());
      expect(port, dev.output().slice(-2_000)).toBeGreaterThan(0);
      const readyAt = (await health(port)).height;
      let h: Health = await health(port);
      for (let i = 0; i < 60 && !(h.healthReasons.some((r) => r.startsWith('clock')) && h.height > readyAt + 20); i++) {
        await new Promise((r) => setTimeout(r, 250));
        h = await health(port);
      }
      const why = `${JSON.stringify(h)}\n${dev.output().slice(-1_500)}`;
      expect(h.health, why).toBe('degraded');
      expect(h.healthReasons.find((r) => r.startsWith('clock')), why).toMatch(/^clock 1[12]\d s behind the fleet's block times \(a block may be at most 30 s ahead\): this validator prevotes nil on every block/);
      expect(h.height, why).toBeGreaterThan(readyAt + 20);
      // It decides as the others do: at most a height or two behind one of them, read just after.
      const other = (await health(readyPort(a.output))).height;
      expect(other - h.height, why).toBeLessThanOrEqual(3);
      // It says why it prevotes nil (once a minute at most), and nothing worse.
      const out = dev.output();
      expect(out, why).toMatch(/prevotes nil on the block from v0\d: block time is too far in the future: 1[12]\d{4} ms ahead of this node's clock/);
      expect(out).not.toContain('"level":50');
      expect(out).not.toMatch(/\n\s+at /);
    } finally {
      await dev.stop();
    }
  }, 90_000);
});
