// A hazard an operator cleared (hazard.clear: committed, audited) leaves the dashboard's map, in the
// live page and in the HTML report replaying the run alike (the same static/state.js folds the events):
// before, the cleared mast stayed drawn as committed. The log and the timeline say who cleared it.

import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { RunEvent } from '../../fleet-sim/report/events.js';
import { renderReportHtml } from '../../fleet-sim/report/html.js';
import { launchChromium, type HeadlessChromium } from './chromium.js';

const nodes = Array.from({ length: 4 }, (_, i) => ({ index: i, id: `v0${i}`, role: 'validator' as const, engine: 'none' }));
const frame = (at: number): RunEvent => ({ t: 'frame', at, nodes: nodes.map((n) => ({ i: n.index, n: 5 * n.index, e: 5 * n.index, u: 20, bat: 98, h: 40, r: 0, health: 'alive' as const, byz: null, mode: 'survey' })), proposer: 0, radio: [], broker: 'up' });
const how = 'by boss (hazard.clear boss/01)';
const events: RunEvent[] = [
  { t: 'run', at: 0, scenario: 'hazard-cleared', seed: 1, mode: 'deterministic', durationMs: 10_000, nodes, world: { geofence: null, surveyArea: null, coverageCellM: 10, radioRangeM: null, home: [0, 0] } },
  frame(1_000),
  { t: 'hazard', at: 2_000, id: 'h0', n: 40, e: 40, radiusM: 8, status: 'committed', by: 1 },
  { t: 'hazard', at: 3_000, id: 'cell 9,9', n: 47.5, e: 47.5, radiusM: 2.5, status: 'committed', by: 2 },
  { t: 'hazard', at: 6_000, id: 'h0', n: 40, e: 40, radiusM: 8, status: 'cleared', by: null, how },
  frame(9_000),
];

describe('a cleared hazard on the dashboard', () => {
  let chromium: HeadlessChromium;
  let dir: string;
  beforeAll(async () => {
    chromium = await launchChromium();
    dir = mkdtempSync(join(tmpdir(), 'murmur-hazard-cleared-'));
  }, 60_000);
  afterAll(async () => {
    await chromium?.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('the replayed report draws only the hazard still committed, and its log and timeline say who cleared the other', async () => {
    const html = join(dir, 'hazard-cleared.html');
    writeFileSync(html, renderReportHtml({ version: 1, events, dropped: 0, framePeriodMs: 250 }, 'hazard-cleared'));
    const page = await chromium.context.newPage();
    const errors: string[] = [];
    page.on('pageerror', (e) => errors.push(e.message));
    await page.goto(pathToFileURL(html).href);
    await page.waitForFunction(`document.querySelector('#map [data-hazard="cell 9,9"]') !== null`, undefined, { timeout: 10_000 });
    await page.waitForTimeout(300);
    expect(await page.locator('#map [data-hazard]').evaluateAll((els) => els.map((e) => e.getAttribute('data-hazard')))).toEqual(['cell 9,9']);
    expect(await page.locator('#log').textContent()).toContain(`hazard h0 cleared ${how}`);
    const marks = await page.locator('#timeline .mark.hazard title').allTextContents();
    expect(marks.some((t) => t.endsWith(`hazard h0 cleared ${how}`)), marks.join(' | ')).toBe(true);
    expect(marks.some((t) => t.endsWith('hazard h0 committed by v01')), marks.join(' | ')).toBe(true);
    expect(errors).toEqual([]);
  }, 60_000);
});
