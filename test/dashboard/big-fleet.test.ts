// The page with a 1000-device recording in headless Chromium: every drone on the map, a health cell per
// device (cards only for the first ones), and no console errors. The recording is built here from the
// event format itself, since a 1000-device deterministic run takes minutes (docs/benchmarks.md, bench:sim).

import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';
import type { NodeSample } from '../../fleet-sim/report/events.js';
import { RunRecorder } from '../../fleet-sim/report/recorder.js';
import { renderReportHtml } from '../../fleet-sim/report/html.js';
import { launchChromium } from './chromium.js';

const devices = 1000;
const validators = 16;
const dir = mkdtempSync(join(tmpdir(), 'murmur-big-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

function recording(): string {
  const r = new RunRecorder();
  r.onEvent({
    t: 'run',
    at: 0,
    scenario: 'fleet-1000-render',
    seed: 1,
    mode: 'deterministic',
    durationMs: 20_000,
    nodes: Array.from({ length: devices }, (_, i) => ({ index: i, id: i < validators ? `v${i}` : `f${i - validators}`, role: i < validators ? 'validator' : 'follower', engine: 'none' })),
    world: { geofence: [[-100, -100], [-100, 1100], [1100, 1100], [1100, -100]], surveyArea: [[0, 0], [0, 1000], [1000, 1000], [1000, 0]], coverageCellM: 20, radioRangeM: null, home: [0, 0] },
  });
  for (let t = 0; t <= 20_000; t += 500) {
    const nodes: NodeSample[] = Array.from({ length: devices }, (_, i) => ({ i, n: (i % 32) * 31 + t / 100, e: Math.floor(i / 32) * 31, u: 30, bat: 100 - t / 1000, h: t / 100, r: 0, health: i === 3 && t > 8_000 ? 'crashed' : 'alive', byz: null, mode: 'survey' }));
    r.onEvent({ t: 'frame', at: t, nodes, proposer: 0, radio: [], broker: 'up' });
    if (t > 0) r.onEvent({ t: 'commit', at: t, height: t / 100, round: 0, proposer: (t / 500) % validators, latencyMs: 40 + (t % 7), txs: 10, commands: 10 });
  }
  r.onEvent({ t: 'fault', at: 8_000, kind: 'crash', nodes: [3], detail: 'process stopped' });
  r.onEvent({ t: 'end', at: 20_000, report: { safety: { ok: true, violations: [] }, expect: { met: true, failed: [] } } });
  const file = join(dir, 'big.html');
  writeFileSync(file, renderReportHtml(r.recording(), 'fleet-1000-render'));
  return file;
}

describe('dashboard with 1000 devices', () => {
  it('draws every drone, a health cell per device and cards for the first, without console errors', async () => {
    const file = recording();
    const chromium = await launchChromium();
    try {
      const page = await chromium.context.newPage();
      const errors: string[] = [];
      page.on('console', (m) => (m.type() === 'error' ? errors.push(m.text()) : undefined));
      page.on('pageerror', (e) => errors.push(e.message));
      const t0 = Date.now();
      await page.goto(pathToFileURL(file).href);
      await page.waitForFunction('document.getElementById("summary").hidden === false', undefined, { timeout: 30_000 });
      const loadMs = Date.now() - t0;
      expect(await page.locator('#map g.drone[visibility="visible"]').count()).toBe(devices);
      expect(await page.locator('#nodes .strip .cell').count()).toBe(devices);
      expect(await page.locator('#nodes .strip .cell.crashed').count()).toBe(1);
      expect(await page.locator('#nodes .card').count()).toBeLessThanOrEqual(72);
      expect(loadMs, 'page ready').toBeLessThan(20_000);
      expect(errors).toEqual([]);
    } finally {
      await chromium.close();
    }
  });
});
