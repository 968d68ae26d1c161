// Refreshes docs/fleet-sim-dashboard.png: the default scenario (what `npm start` runs) as fast as the
// machine goes, photographed live in headless Chromium mid-run, while drones survey and a validator
// equivocates. Run: npx tsx test/dashboard/screenshot.ts [SECONDS_INTO_RUN]

import { readFileSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { liveRun } from '../../fleet-sim/dashboard/live-run.js';
import { parseScenario } from '../../fleet-sim/scenario/parse.js';
import { launchChromium } from './chromium.js';

const file = 'fleet-sim/scenarios/default.yaml';
const atS: number = Number(process.argv[2] ?? '58');
const scenario = parseScenario(readFileSync(file, 'utf8'));
const chromium = await launchChromium();
const dir = mkdtempSync(join(tmpdir(), 'murmur-shot-'));
let shot: Promise<void> = Promise.resolve();
const result = await liveRun(scenario, {
  speed: 0,
  port: 0,
  reportDir: dir,
  progress: 'lines',
  onServing: async (url) => {
    const page = await chromium.context.newPage();
    page.on('console', (m) => process.stderr.write(`console ${m.type()}: ${m.text()}\n`));
    await page.goto(url);
    shot = (async () => {
      await page.waitForFunction(`MurmurDash.debug.state().now >= ${atS * 1000}`, undefined, { timeout: 600_000, polling: 200 });
      await page.waitForTimeout(300);
      await page.screenshot({ path: 'docs/fleet-sim-dashboard.png', fullPage: true });
      process.stdout.write('wrote docs/fleet-sim-dashboard.png\n');
    })();
  },
});
await shot;
await result.server?.close();
result.hub.close();
await chromium.close();
rmSync(dir, { recursive: true, force: true });
