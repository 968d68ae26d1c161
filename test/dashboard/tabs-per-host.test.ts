// A browser opens at most 6 connections to one host over HTTP/1.1, and every live dashboard page holds
// one for its event stream: a 7th page's stream waits until another page is closed. It said
// "connecting" for ever; after a few seconds it says why it waits, and goes live once a page closes.

import { afterEach, describe, expect, it } from 'vitest';
import { EventHub } from '../../fleet-sim/dashboard/hub.js';
import { startDashboardServer, type DashboardServer } from '../../fleet-sim/dashboard/server.js';
import type { RunEvent } from '../../fleet-sim/report/events.js';
import { launchChromium } from './chromium.js';

const nodes = Array.from({ length: 4 }, (_, i) => ({ index: i, id: `v0${i}`, role: 'validator' as const, engine: 'none' }));
const run: RunEvent = { t: 'run', at: 0, scenario: 'tabs', seed: 1, mode: 'deterministic', durationMs: 600_000, nodes, world: { geofence: null, surveyArea: null, coverageCellM: 10, radioRangeM: null, home: [0, 0] } };

describe('the seventh live dashboard page in one browser', () => {
  let server: DashboardServer | undefined;
  afterEach(async () => server?.close());

  it('says it waits for a connection the browser allows 6 of per host, and goes live when a page closes', async () => {
    const hub = new EventHub();
    server = await startDashboardServer(hub);
    hub.onEvent(run);
    const chromium = await launchChromium();
    const status = `document.getElementById('status')?.textContent`;
    try {
      // Opened together, as a browser restoring its tabs does: every page loads (documents go first),
      // then six streams open and the seventh waits. (Opened one by one, the seventh page itself waits
      // for a connection, and the browser shows it loading: README says so.)
      const pages = await Promise.all(
        Array.from({ length: 7 }, async () => {
          const page = await chromium.context.newPage();
          await page.goto(server?.url ?? '', { waitUntil: 'domcontentloaded' });
          return page;
        }),
      );
      const statuses = (): Promise<string[]> => Promise.all(pages.filter((p) => !p.isClosed()).map((p) => p.evaluate(status) as Promise<string>));
      for (let i = 0; i < 100 && (await statuses()).filter((x) => x === 'live').length < 6; i++) await new Promise((r) => setTimeout(r, 100));
      await new Promise((r) => setTimeout(r, 3_500)); // the page's wait before it says why
      const said = await statuses();
      expect(said.filter((x) => x === 'live'), said.join(' | ')).toHaveLength(6);
      const waiting = said.findIndex((x) => x !== 'live');
      expect(said[waiting]).toBe('waiting for a connection (the browser allows 6 per host)');
      await pages[waiting === 0 ? 1 : 0]?.close();
      await pages[waiting]?.waitForFunction(`${status} === 'live'`, undefined, { timeout: 10_000 });
    } finally {
      await chromium.close();
      hub.close();
    }
  }, 60_000);
});
