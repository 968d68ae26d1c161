// A page left open on a long run keeps what it needs to scrub within the recording's budget: it thins
// the frames it keeps as the recorder does (limits.recordingFrameSamplesMax node samples), not one per
// frame the server sends (ten a second, for the whole run), and still keeps the final frame.

import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { EventHub } from '../../fleet-sim/dashboard/hub.js';
import { startDashboardServer, type DashboardServer } from '../../fleet-sim/dashboard/server.js';
import type { RunEvent } from '../../fleet-sim/report/events.js';
import { limits } from '../../runtime/lib/limits.js';
import { launchChromium, type HeadlessChromium } from './chromium.js';

const nodes = 50;
// 9,000 frames of 50 nodes are 450,000 samples, an eighth over the budget: a page that kept every frame
// fails below (this was 12,000 frames 300 ms apart; the page's work is per frame, so fewer, wider ones).
const frameMs = 400;
const frames = 9_000; // an hour of simulated time, every frame sent live (the hub's wall clock runs fast)
const durationMs = frames * frameMs;

const text = (id: string): string => `document.getElementById(${JSON.stringify(id)})?.textContent`;

describe('a page following an hour-long run of 50 drones', () => {
  let chromium: HeadlessChromium;
  let server: DashboardServer;
  let wall = 0;
  const hub = new EventHub(() => (wall += 1_000));

  beforeAll(async () => {
    chromium = await launchChromium();
    server = await startDashboardServer(hub);
  }, 60_000);

  afterAll(async () => {
    await server?.close();
    hub.close();
    await chromium?.close();
  });

  it('keeps at most the recording\'s node samples, the final frame, and scrubs', async () => {
    const page = await chromium.context.newPage();
    await page.goto(server.url);
    await page.waitForFunction(`${text('status')} === 'connected'`, undefined, { timeout: 20_000 });
    hub.onEvent({ t: 'run', at: 0, scenario: 'long', seed: 1, mode: 'deterministic', durationMs, nodes: Array.from({ length: nodes }, (_, i) => ({ index: i, id: `d${i}`, role: i < 4 ? 'validator' : 'follower', engine: 'none' })), world: { geofence: null, surveyArea: null, coverageCellM: 10, radioRangeM: null, home: [0, 0] } });
    for (let f = 1; f <= frames; f++) {
      const at = f * frameMs;
      const ev: RunEvent = { t: 'frame', at, nodes: Array.from({ length: nodes }, (_, i) => ({ i, n: i, e: (at / 1000) % 100, u: 10, bat: 80, h: f, r: 0, health: 'alive', byz: null, mode: 'survey' })), proposer: 0, radio: [], broker: 'up' };
      hub.onEvent(ev);
      // Paced to the page, as a run's ten frames a second are: the server skips none for a full buffer.
      if (f % 400 === 0) await page.waitForFunction(`MurmurDash.debug.state().frames >= ${f}`, undefined, { timeout: 20_000, polling: 50 });
    }
    hub.onEvent({ t: 'end', at: durationMs, report: { scenario: 'long', safety: { ok: true, violations: [] }, expect: { met: true, failed: [] } } });
    await page.waitForFunction(`(${text('status')} || '').startsWith('finished')`, undefined, { timeout: 90_000, polling: 500 });
    const kept = (await page.evaluate(`(() => { const f = MurmurDash.debug.events().filter((e) => e.t === 'frame'); return { samples: f.reduce((n, e) => n + e.nodes.length, 0), last: f[f.length - 1].at }; })()`)) as { samples: number; last: number };
    expect(kept.samples).toBeLessThanOrEqual(limits.recordingFrameSamplesMax + nodes);
    expect(kept.last).toBe(durationMs);
    expect(await page.locator('#stat-height').textContent()).toBe(String(frames));
    await page.locator('#scrub').fill(String(durationMs / 2));
    await page.waitForFunction(`(${text('clock')} || '').startsWith('30:00 /')`, undefined, { timeout: 5_000 });
    expect(Number(await page.locator('#stat-height').textContent())).toBeGreaterThan(frames / 2 - 10);
    await page.close();
  }, 150_000);
});
