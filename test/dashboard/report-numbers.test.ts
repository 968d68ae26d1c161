// The page's numbers and the report's agree: the HTML report of a finished run, opened from disk in
// headless Chromium, shows in its header stats the height, commands, commit p50 and evidence count
// the JSON report (and the summary box under them) gives, not a number of its own under the same name.

import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { liveRun, type LiveRunResult } from '../../fleet-sim/dashboard/live-run.js';
import { parseScenario } from '../../fleet-sim/scenario/parse.js';
import { launchChromium, type HeadlessChromium } from './chromium.js';

const file = 'fleet-sim/scenarios/byzantine-equivocate.yaml';

describe('the HTML report of a run, against its JSON report', () => {
  let chromium: HeadlessChromium;
  let result: LiveRunResult;
  let dir: string;

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'murmur-numbers-'));
    chromium = await launchChromium();
    result = await liveRun(parseScenario(readFileSync(file, 'utf8'), file), { file, speed: 0, port: null, reportDir: dir, progress: 'none', out: () => {} });
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
});
