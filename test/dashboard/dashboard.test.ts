// The live dashboard in headless Chromium, following a real deterministic run of 7 validators and
// 13 followers (a shortened default scenario: survey, Byzantine equivocator, proposer crash, broker
// outage ridden through on radio): it loads, shows every drone, updates as the run goes, draws the
// radio links that carry traffic, logs no console errors, and the HTML report written at the end
// replays offline. MURMUR_SCREENSHOT=1 refreshes docs/fleet-sim-dashboard.png.

import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Page } from 'playwright-core';
import { liveRun, type LiveRunResult } from '../../fleet-sim/dashboard/live-run.js';
import type { Scenario } from '../../fleet-sim/scenario/scenario.js';
import { launchChromium, type HeadlessChromium } from './chromium.js';

const scenario: Scenario = {
  name: 'dashboard-test',
  seed: 11,
  durationMs: 14_000,
  validators: 7,
  followers: 13,
  mqtt: { latencyMs: 3, jitterMs: 2, loss: 0, duplicate: 0 },
  radio: { baud: 57_600, mtuBytes: 252, loss: 0.02, rangeM: 800, hopLimit: 1 },
  linkPolicy: { consensus: 'first' },
  faults: [
    { at: 2_000, kind: 'byzantine', node: 6, behavior: 'equivocate' },
    { at: 5_000, kind: 'crash', node: 'proposer' },
    { at: 8_000, kind: 'broker-down', until: 9_500 },
  ],
  workload: [
    { kind: 'once', at: 500, command: 'mission.survey', args: { area: [[0, 0], [0, 160], [120, 160], [120, 0]], spacingM: 15, altM: 25, speedMps: 10 } },
    { kind: 'rate', from: 300, to: 13_000, perSec: 5, command: 'noop' },
  ],
  expect: { safety: true, committedFraction: 0.7 },
  consensus: { proposeMs: 300, commitWaitMs: 100, gossipMs: 500 },
  livenessBudgetMs: 5_000,
};

const drones = scenario.validators + scenario.followers;

function watchConsole(page: Page, errors: string[]): void {
  page.on('console', (m) => {
    if (m.type() === 'error' || m.type() === 'warning') errors.push(`${m.type()}: ${m.text()}`);
  });
  page.on('pageerror', (e) => errors.push(`pageerror: ${e.message}`));
}

/** A browser-side expression (the test's tsconfig has no DOM types, so page code travels as text). */
const text = (id: string): string => `document.getElementById(${JSON.stringify(id)})?.textContent`;

const heightOf = (page: Page): Promise<number> => page.locator('#stat-height').textContent().then((t) => Number(t));

describe('dashboard in headless Chromium', () => {
  let chromium: HeadlessChromium;
  let result: LiveRunResult;
  let dir: string;
  const errors: string[] = [];
  const seenLive: { heights: number[]; visibleDrones: number; finishedText: string } = { heights: [], visibleDrones: 0, finishedText: '' };

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'murmur-dash-'));
    chromium = await launchChromium();
    let page: Page | null = null;
    let watching: Promise<void> = Promise.resolve();
    result = await liveRun(scenario, {
      speed: 2,
      port: 0,
      reportDir: dir,
      progress: 'none',
        out: () => {},
      onServing: async (url) => {
        page = await chromium.context.newPage();
        watchConsole(page, errors);
        await page.goto(url);
        await page.waitForFunction(`${text('status')} === 'connected'`, undefined, { timeout: 20_000 });
        const p = page;
        // Runs alongside the simulation: the page must move while the run is still going.
        watching = (async () => {
          await p.waitForFunction(`${text('scenario')} === 'dashboard-test'`, undefined, { timeout: 30_000, polling: 100 });
          await p.waitForFunction(`Number(${text('stat-height')}) > 3`, undefined, { timeout: 30_000, polling: 100 });
          seenLive.heights.push(await heightOf(p));
          seenLive.visibleDrones = await p.locator('#map g.drone[visibility="visible"]').count();
          const first = seenLive.heights[0] as number;
          // Or the run ends first (a loaded machine): the assertion below then says so, with the heights.
          await p.waitForFunction(`Number(${text('stat-height')}) > ${first + 5} || (${text('status')} || '').startsWith('finished')`, undefined, { timeout: 30_000, polling: 100 });
          seenLive.heights.push(await heightOf(p));
        })();
      },
    });
    await watching;
    const live = page as Page | null;
    if (live === null) throw new Error('the dashboard page never opened');
    await live.waitForFunction(`(${text('status')} || '').startsWith('finished')`, undefined, { timeout: 20_000 });
    seenLive.finishedText = (await live.locator('#status').textContent()) ?? '';
    if (process.env.MURMUR_SCREENSHOT === '1') {
      await live.setViewportSize({ width: 1440, height: 1000 });
      await live.waitForTimeout(500);
      await live.screenshot({ path: 'docs/fleet-sim-dashboard.png', fullPage: true });
    }
    await live.close();
  }, 150_000);

  afterAll(async () => {
    await result?.server?.close();
    result?.hub.close();
    await chromium?.close();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  it('shows every drone on the map and a card per node', () => {
    expect(seenLive.visibleDrones).toBe(drones);
  });

  it('updates as the run goes, before the run ends', () => {
    expect(seenLive.heights.length).toBe(2);
    expect(seenLive.heights[1] as number, `heights seen live: ${seenLive.heights}`).toBeGreaterThan((seenLive.heights[0] as number) + 5);
  });

  it('ends with the report and logs no console errors', () => {
    expect(result.report.safety.ok).toBe(true);
    expect(seenLive.finishedText).toContain('finished');
    expect(errors).toEqual([]);
  });

  it('the HTML report replays offline: every drone, the summary, a scrubbable timeline, the radio carrying the outage', async () => {
    expect(result.written).not.toBeNull();
    const page = await chromium.context.newPage();
    const errs: string[] = [];
    watchConsole(page, errs);
    // Offline: any request leaving the file would fail the page, and is counted here.
    const requests: string[] = [];
    page.on('request', (r) => {
      if (!r.url().startsWith('file:') && !r.url().startsWith('data:')) requests.push(r.url());
    });
    await page.goto(pathToFileURL(result.written?.html as string).href);
    await page.waitForFunction(`document.getElementById('summary').hidden === false`, undefined, { timeout: 10_000 });
    expect(await page.locator('#map g.drone[visibility="visible"]').count()).toBe(drones);
    expect(await page.locator('#nodes .card').count()).toBe(drones);
    expect(await page.locator('#summary').textContent()).toContain('safety');
    const endClock = await page.locator('#clock').textContent();
    await page.locator('#scrub').fill('3000');
    await page.waitForFunction(`${text('clock')} !== ${JSON.stringify(endClock)}`, undefined, { timeout: 5_000 });
    expect(await page.locator('#clock').textContent()).toMatch(/^0:03 \//);
    // Inside the broker outage (8 s to 9.5 s) the radio carries consensus: the map draws its links.
    await page.locator('#scrub').fill('9000');
    const links = `(document.querySelector('#map path.radio-links.carrying')?.getAttribute('d') || '').split('M').length - 1`;
    await page.waitForFunction(`${links} > 0`, undefined, { timeout: 5_000 });
    expect(result.report.radio?.router.firstByRadio ?? 0).toBeGreaterThan(0);
    expect(errs).toEqual([]);
    expect(requests).toEqual([]);
    await page.close();
  });
});
