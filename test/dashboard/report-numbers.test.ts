// The page's numbers and the report's agree: the HTML report of a finished run, opened from disk in
// headless Chromium, shows in its header stats the height, commands, commit p50 and evidence count
// the JSON report (and the summary box under them) gives, not a number of its own under the same name;
// and the report of a run that broke safety says what broke and how to replay it.

import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { liveRun, type LiveRunResult } from '../../fleet-sim/dashboard/live-run.js';
import { parseScenario } from '../../fleet-sim/scenario/parse.js';
import { renderReportHtml } from '../../fleet-sim/report/html.js';
import { EventHub } from '../../fleet-sim/dashboard/hub.js';
import { startDashboardServer } from '../../fleet-sim/dashboard/server.js';
import type { RunEvent } from '../../fleet-sim/report/events.js';
import { launchChromium, type HeadlessChromium } from './chromium.js';

const file = 'fleet-sim/scenarios/byzantine-equivocate.yaml';

describe('the HTML report of a run, against its JSON report', () => {
  let chromium: HeadlessChromium;
  let result: LiveRunResult;
  let dir: string;

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'murmur-numbers-'));
    // Chromium starts (another process) while the run goes on in this one.
    const launching = launchChromium();
    try {
      result = await liveRun(parseScenario(readFileSync(file, 'utf8')), { file, speed: 0, port: null, reportDir: dir, progress: 'none', out: () => {} });
    } finally {
      chromium = await launching; // closed by afterAll whether or not the run went through
    }
  }, 120_000);

  afterAll(async () => {
    result?.hub.close();
    await chromium?.close();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  it('shows the height, commands, commit p50 and evidence of the report', async () => {
    const r = result.report;
    expect(r.latencyMs.commitP50).not.toBeNull();
    expect(r.evidence.length).toBeGreaterThan(0);
    const page = await chromium.context.newPage();
    await page.goto(pathToFileURL(result.written?.html as string).href);
    await page.waitForFunction(`document.getElementById('summary').hidden === false`, undefined, { timeout: 10_000 });
    const stat = async (id: string): Promise<string> => (await page.locator(`#${id}`).textContent()) ?? '';
    const p50 = r.latencyMs.commitP50 as number;
    expect({ height: await stat('stat-height'), commands: await stat('stat-commands'), p50: await stat('stat-p50'), evidence: await stat('stat-evidence') }).toEqual({
      height: String(r.liveness.heights),
      commands: String(r.liveness.commandsCommitted),
      p50: `${p50.toFixed(p50 < 10 ? 1 : 0)} ms`,
      evidence: String(r.evidence.length),
    });
    // The summary box under the stats shows the report's own p50 / p99.
    expect(await stat('summary')).toContain(`commit p50 / p99${p50.toFixed(p50 < 10 ? 1 : 0)} / `);
    await page.close();
  });

  it('of a run that broke safety says which property, what happened and how to replay it', async () => {
    const violations = [
      { property: 'agreement', atMs: 5_100, detail: 'v01 committed 3f2a at height 5, others 9c1d <img src=x onerror="document.title=1">' },
      { property: 'validity', atMs: 6_000, detail: 'v02 committed forged command 77' },
    ];
    const report = { scenario: 'broken', seed: 3, safety: { ok: false, violations }, liveness: { heights: 9, commandsSubmitted: 10, commandsCommitted: 9, commandsRejected: 2, rejections: [{ height: 4, type: 'foo.bar', reason: 'unknown command type "foo.bar"; known: abort' }, { height: 6, type: 'foo.bar', reason: 'unknown command type "foo.bar"; known: abort' }], maxStallMs: 300 }, latencyMs: { commitP50: 50, commitP99: 90 }, expect: { met: false, failed: ['safety'] }, replay: 'npx fleet-sim run broken.yaml --seed 3 --json -' };
    const events: RunEvent[] = [
      { t: 'run', at: 0, scenario: 'broken', seed: 3, mode: 'deterministic', durationMs: 10_000, nodes: [0, 1, 2, 3].map((i) => ({ index: i, id: `v0${i}`, role: 'validator', engine: 'none' })), world: { geofence: null, surveyArea: null, coverageCellM: 10, radioRangeM: null, home: [0, 0] } },
      { t: 'end', at: 10_000, report },
    ];
    const html = join(dir, 'broken-seed3.html');
    writeFileSync(html, renderReportHtml({ version: 1, events, dropped: 0, framePeriodMs: 250 }, 'broken seed 3'));
    const page = await chromium.context.newPage();
    await page.goto(pathToFileURL(html).href);
    await page.waitForFunction(`document.getElementById('summary').hidden === false`, undefined, { timeout: 10_000 });
    const summary = (await page.locator('#summary').textContent()) ?? '';
    expect(summary).toContain(`agreement at 0:05: ${violations[0]?.detail as string} (and 1 more)`);
    expect(summary).toContain('npx fleet-sim run broken.yaml --seed 3 --json -');
    expect(summary).toContain('commands9 / 10 (2 rejected, first foo.bar at height 4: unknown command type "foo.bar")');
    expect(await page.locator('#summary img').count()).toBe(0);
    expect(await page.locator('#summary').getAttribute('class')).toBe('summary bad');
    expect(await page.title()).toBe('broken seed 3 · Murmur fleet-sim report');
    await page.close();
  });

  it('the live page\'s "open recording" says what a file is when it is not a recording, and opens one that is', async () => {
    const hub = new EventHub();
    const server = await startDashboardServer(hub);
    const page = await chromium.context.newPage();
    try {
      await page.goto(server.url);
      // The JSON report is the file a run leaves beside the HTML: the natural one to pick. It has no events.
      const json = result.written?.json as string;
      await page.setInputFiles('#open', json);
      await page.waitForFunction(`document.getElementById('open-error')?.hidden === false`, undefined, { timeout: 5_000 });
      expect(await page.locator('#open-error').textContent()).toBe(`${json.split('/').pop() as string} is a run's report, not a recording: open the .html report written beside it, or save /recording.json from the live dashboard`);
      const junk = join(dir, 'junk.json');
      writeFileSync(junk, '{"events": [tru');
      await page.setInputFiles('#open', junk);
      await page.waitForFunction(`(document.getElementById('open-error')?.textContent || '').startsWith('junk.json is not JSON')`, undefined, { timeout: 5_000 });
      const rec = join(dir, 'recording.json');
      writeFileSync(rec, JSON.stringify(result.hub.recording()));
      await page.setInputFiles('#open', rec);
      await page.waitForFunction(`document.getElementById('scenario').textContent === 'byzantine-equivocate'`, undefined, { timeout: 5_000 });
      expect(await page.locator('#open-error').isHidden()).toBe(true);
    } finally {
      await page.close();
      await server.close();
      hub.close();
    }
  });

  it('of a run whose recording filled up says how many events it left out', async () => {
    const events: RunEvent[] = [
      { t: 'run', at: 0, scenario: 'full', seed: 4, mode: 'deterministic', durationMs: 10_000, nodes: [{ index: 0, id: 'v00', role: 'validator', engine: 'none' }], world: { geofence: null, surveyArea: null, coverageCellM: 10, radioRangeM: null, home: [0, 0] } },
      { t: 'commit', at: 500, height: 1, round: 0, proposer: 0, latencyMs: 40, commandLatencyMs: [40], txs: 1, commands: 1 },
      { t: 'end', at: 10_000, report: { scenario: 'full', safety: { ok: true, violations: [] }, liveness: { heights: 900, commandsSubmitted: 1500, commandsCommitted: 1500, maxStallMs: 300 }, expect: { met: true, failed: [] } } },
    ];
    const html = join(dir, 'full-seed4.html');
    writeFileSync(html, renderReportHtml({ version: 1, events, dropped: 1234, framePeriodMs: 250 }, 'full seed 4'));
    const page = await chromium.context.newPage();
    await page.goto(pathToFileURL(html).href);
    await page.waitForFunction(`document.getElementById('summary').hidden === false`, undefined, { timeout: 10_000 });
    expect(await page.locator('#notice').textContent()).toBe('the recording filled up: 1234 later events are not in it, so the map, charts and counts stop short; the summary is the whole run');
    expect(await page.locator('#notice').isVisible()).toBe(true);
    await page.close();
  });
});
