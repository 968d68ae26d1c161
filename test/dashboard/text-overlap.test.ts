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
import type { Page } from 'playwright-core';

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

  /** The report page of `events` (as `fleet-sim` writes it), open in Chromium, and the errors it throws. */
  async function openReport(name: string, evs: RunEvent[]): Promise<{ page: Page; errors: string[] }> {
    const html = join(dir, `${name}.html`);
    writeFileSync(html, renderReportHtml({ version: 1, events: evs, dropped: 0, framePeriodMs: 250 }, name));
    const page = await chromium.context.newPage();
    const errors: string[] = [];
    page.on('pageerror', (e) => errors.push(e.message));
    await page.goto(pathToFileURL(html).href);
    return { page, errors };
  }

  it('a long activity keeps clear of the engine name, and close p50 and p99 labels keep apart', async () => {
    const { page, errors } = await openReport('overlap', events);
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

  // Drone labels were drawn at one fixed offset from each drone: on the default scenario's pads (6 m
  // apart, 12-13 px on this map) they ran into each other (these 9 drones: 9 of the 36 label pairs
  // overlapped, and labels covered drones 13 times). Each label now takes a place clear of the other
  // labels and of the drones.
  it('drone labels on close pads, and two drones almost on top of each other, keep clear of each other and of the drones', async () => {
    const ids = Array.from({ length: 9 }, (_, i) => (i < 5 ? `v0${i}` : `f0${i - 5}`));
    const fleet = ids.map((id, i) => ({ index: i, id, role: i < 5 ? ('validator' as const) : ('follower' as const), engine: 'none' }));
    // Pads 6 m apart in 3 columns (flight-layer.ts's default), the last drone 1.8 m from the first.
    const at = (i: number): { n: number; e: number } => (i === 8 ? { n: -21, e: -18.5 } : { n: -20 - 6 * Math.floor(i / 3), e: -20 + 6 * (i % 3) });
    const close: RunEvent[] = [
      { t: 'run', at: 0, scenario: 'labels', seed: 1, mode: 'deterministic', durationMs: 10_000, nodes: fleet, world: { geofence: null, surveyArea: [[0, 0], [0, 300], [200, 300], [200, 0]], coverageCellM: 10, radioRangeM: null, home: [0, 0] } },
      { t: 'frame', at: 1_000, nodes: fleet.map((f) => ({ ...sample(f.index, 'idle', 'alive'), ...at(f.index), u: 0 })), proposer: 0, radio: [], broker: 'up' },
    ];
    const { page, errors } = await openReport('labels', close);
    await page.waitForFunction(`[...document.querySelectorAll('#map g.drone')].filter((d) => d.getAttribute('visibility') === 'visible').length === 9`, undefined, { timeout: 10_000 });
    await page.waitForTimeout(300);
    const seen = (await page.evaluate(`[...document.querySelectorAll('#map g.drone')].map((d) => {
      const box = (e) => { const r = e.getBoundingClientRect(); return { left: r.left, right: r.right, top: r.top, bottom: r.bottom }; };
      return { id: d.getAttribute('data-id'), label: box(d.querySelector('text')), text: d.querySelector('text').textContent, body: box(d.querySelector('.body')) };
    })`)) as { id: string; label: Box; text: string; body: Box }[];
    const why = JSON.stringify(seen.map((s) => ({ id: s.id, label: [s.label.left, s.label.top, s.label.right, s.label.bottom].map(Math.round), body: [s.body.left, s.body.top].map(Math.round) })));
    expect(seen.map((s) => s.text)).toEqual(ids);
    for (const s of seen) expect(s.label.right - s.label.left, why).toBeGreaterThan(5); // drawn, not empty
    const clashes: string[] = [];
    for (const [i, a] of seen.entries()) {
      for (const b of seen.slice(i + 1)) if (overlap(a.label, b.label)) clashes.push(`${a.id}'s label on ${b.id}'s`);
      // Any drone's body, its own included (a label never covers the drone it names).
      for (const b of seen) if (overlap(a.label, b.body)) clashes.push(`${a.id}'s label on ${b.id}`);
      // Near its drone still: within 60 px of the body's centre.
      const cx = (a.body.left + a.body.right) / 2, cy = (a.body.top + a.body.bottom) / 2;
      const dx = Math.max(a.label.left - cx, 0, cx - a.label.right), dy = Math.max(a.label.top - cy, 0, cy - a.label.bottom);
      expect(Math.hypot(dx, dy), `${a.id}: ${why}`).toBeLessThan(60);
    }
    expect(clashes, why).toEqual([]);
    expect(errors).toEqual([]);
    await page.close();
  }, 60_000);

  // The battery's percentage was dark text at the right end of its bar: on the bar's empty track below
  // about 90% (the default scenario's screenshot: "94%" lost its "%"; at 40% the whole label was dark
  // on dark). It stands beside the bar now, in the panel's text colour.
  it("a drone's battery percentage is readable at any charge: beside its bar, not on it", async () => {
    const bats = [94, 40, 10];
    const three: RunEvent[] = [
      { ...(events[0] as Extract<RunEvent, { t: 'run' }>), nodes: nodes.slice(0, 3) },
      { t: 'frame', at: 1_000, nodes: nodes.slice(0, 3).map((n) => ({ ...sample(n.index, 'idle', 'alive'), bat: bats[n.index] as number })), proposer: 0, radio: [], broker: 'up' },
    ];
    const { page, errors } = await openReport('battery', three);
    await page.waitForFunction(`[...document.querySelectorAll('#nodes .card .bat-text')].map((t) => t.textContent).join(',') === '94%,40%,10%'`, undefined, { timeout: 10_000 });
    const seen = (await page.evaluate(`[...document.querySelectorAll('#nodes .card')].map((card) => {
      const box = (e) => { const r = e.getBoundingClientRect(); return { left: r.left, right: r.right, top: r.top, bottom: r.bottom }; };
      const text = card.querySelector('.bat-text');
      // The colour behind the text: the nearest ancestor's background that is not transparent.
      let bg = 'rgba(0, 0, 0, 0)';
      for (let e = text; e && bg === 'rgba(0, 0, 0, 0)'; e = e.parentElement) bg = getComputedStyle(e).backgroundColor;
      return { text: box(text), bar: box(card.querySelector('.battery')), color: getComputedStyle(text).color, bg };
    })`)) as { text: Box; bar: Box; color: string; bg: string }[];
    const rgb = (c: string): number[] => (c.match(/[\d.]+/g) ?? []).slice(0, 3).map(Number);
    const luminance = (c: string): number => {
      const [r, g, b] = rgb(c).map((v) => (v / 255 <= 0.03928 ? v / 255 / 12.92 : ((v / 255 + 0.055) / 1.055) ** 2.4)) as [number, number, number];
      return 0.2126 * r + 0.7152 * g + 0.0722 * b;
    };
    for (const [k, x] of seen.entries()) {
      const why = `${bats[k]}%: ${JSON.stringify(x)}`;
      expect(x.text.right - x.text.left, why).toBeGreaterThan(5);
      expect(overlap(x.text, x.bar), why).toBe(false);
      const [l1, l2] = [luminance(x.color), luminance(x.bg)].sort((a, b) => b - a) as [number, number];
      expect((l1 + 0.05) / (l2 + 0.05), why).toBeGreaterThanOrEqual(4.5); // WCAG AA for text
    }
    expect(errors).toEqual([]);
    await page.close();
  }, 60_000);

  it('says "1 follower", not "1 followers"', async () => {
    const one: RunEvent[] = [{ ...(events[0] as Extract<RunEvent, { t: 'run' }>), nodes: nodes.slice(0, 5) }];
    const { page } = await openReport('one', one);
    await page.waitForFunction(`(document.getElementById('meta')?.textContent || '').includes('follower')`, undefined, { timeout: 10_000 });
    expect(await page.locator('#meta').textContent()).toBe('deterministic · seed 1 · 4 validators · 1 follower');
    await page.close();
  }, 60_000);
});
