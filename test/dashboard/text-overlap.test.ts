// Text on the dashboard that ran into other text (seen in the default scenario's report replayed in
// headless Chromium, 1440 px wide): a crashed drone's panel read "hold (link lost) · 36 mnone" (its
// activity ran into its agent engine, with no space between; a longer one, as real time reports
// "survey 42% (handed over)", ran over it), and in a run of steady commits (geofence.yaml: p50 100 ms,
// p99 108 ms) the latency chart's p50 and p99 labels were drawn over each other.

import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { RunEvent } from '../../fleet-sim/report/events.js';
import { renderReportHtml } from '../../fleet-sim/report/html.js';
import { launchChromium, type HeadlessChromium } from './chromium.js';

interface Box { left: number; right: number; top: number; bottom: number }
const overlap = (a: Box, b: Box): boolean => a.left < b.right && b.left < a.right && a.top < b.bottom && b.top < a.bottom;

const nodes = Array.from({ length: 8 }, (_, i) => ({ index: i, id: i < 4 ? `v0${i}` : `f0${i - 4}`, role: i < 4 ? ('validator' as const) : ('follower' as const), engine: 'none' }));
const sample = (i: number, mode: string, health: 'alive' | 'crashed') => ({ i, n: 10 * i, e: 10 * i, u: 36, bat: 98, h: 40, r: 0, health, byz: null, mode });
const events: RunEvent[] = [
  { t: 'run', at: 0, scenario: 'overlap', seed: 1, mode: 'deterministic', durationMs: 10_000, nodes, world: { geofence: null, surveyArea: null, coverageCellM: 10, radioRangeM: null, home: [0, 0] } },
  // Steady commits: 100 ms, one in ten 108 ms (p50 100, p99 108).
  ...Array.from({ length: 60 }, (_, k): RunEvent => ({ t: 'commit', at: 100 + k * 150, height: k + 1, round: 0, proposer: k % 4, latencyMs: k % 10 === 9 ? 108 : 100, commandLatencyMs: [], txs: 0, commands: 0 })),
  { t: 'frame', at: 9_000, nodes: nodes.map((n) => sample(n.index, n.index === 5 ? 'hold (link lost)' : n.index === 6 ? 'survey 42% (handed over)' : 'survey', n.index === 5 ? 'crashed' : 'alive')), proposer: 0, radio: [], broker: 'up' },
];

describe('dashboard text does not run into other text', () => {
  let chromium: HeadlessChromium;
  let dir: string;
  beforeAll(async () => {
    chromium = await launchChromium();
    dir = mkdtempSync(join(tmpdir(), 'murmur-overlap-'));
  }, 60_000);
  afterAll(async () => {
    await chromium?.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('a long activity keeps clear of the engine name, and close p50 and p99 labels keep apart', async () => {
    const html = join(dir, 'overlap.html');
    writeFileSync(html, renderReportHtml({ version: 1, events, dropped: 0, framePeriodMs: 250 }, 'overlap'));
    const page = await chromium.context.newPage();
    const errors: string[] = [];
    page.on('pageerror', (e) => errors.push(e.message));
    await page.goto(pathToFileURL(html).href);
    await page.waitForFunction(`document.querySelectorAll('#nodes .card').length === 8 && document.querySelector('#latency .plabel.p99') !== null`, undefined, { timeout: 10_000 });
    await page.waitForTimeout(300);
    // Text of one line a few pixels apart at least, and none past the card's edge.
    for (const [k, text] of [[5, 'hold (link lost) · 36 m'], [6, 'survey 42% (handed over) · 36 m']] as const) {
      const card = page.locator('#nodes .card').nth(k);
      const mode = (await card.locator('.mode').boundingBox()) as { x: number; y: number; width: number; height: number };
      const engine = (await card.locator('.engine').boundingBox()) as { x: number; y: number; width: number; height: number };
      const cardBox = (await card.boundingBox()) as { x: number; width: number };
      const why = `card ${k}: mode ${JSON.stringify(mode)} engine ${JSON.stringify(engine)} card ${JSON.stringify(cardBox)}`;
      expect(await card.locator('.mode').textContent()).toBe(text);
      expect(await card.locator('.mode').getAttribute('title'), why).toBe(text); // the whole text on hover
      expect(await card.locator('.engine').textContent()).toBe('none');
      expect(mode.x + mode.width + 4, why).toBeLessThanOrEqual(engine.x);
      expect(engine.x + engine.width, why).toBeLessThanOrEqual(cardBox.x + cardBox.width);
    }
    const labels = (await page.evaluate(`['p50', 'p99'].map((c) => { const r = document.querySelector('#latency .plabel.' + c).getBoundingClientRect(); return { left: r.left, right: r.right, top: r.top, bottom: r.bottom, text: document.querySelector('#latency .plabel.' + c).textContent }; })`)) as (Box & { text: string })[];
    expect(labels.map((l) => l.text)).toEqual(['p50 100 ms', 'p99 108 ms']);
    expect(overlap(labels[0] as Box, labels[1] as Box), JSON.stringify(labels)).toBe(false);
    expect(errors).toEqual([]);
    await page.close();
  }, 60_000);

  it('says "1 follower", not "1 followers"', async () => {
    const one: RunEvent[] = [{ ...(events[0] as Extract<RunEvent, { t: 'run' }>), nodes: nodes.slice(0, 5) }];
    const html = join(dir, 'one.html');
    writeFileSync(html, renderReportHtml({ version: 1, events: one, dropped: 0, framePeriodMs: 250 }, 'one'));
    const page = await chromium.context.newPage();
    await page.goto(pathToFileURL(html).href);
    await page.waitForFunction(`(document.getElementById('meta')?.textContent || '').includes('follower')`, undefined, { timeout: 10_000 });
    expect(await page.locator('#meta').textContent()).toBe('deterministic · seed 1 · 4 validators · 1 follower');
    await page.close();
  }, 60_000);
});
