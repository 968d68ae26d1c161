// A page that opens once the recorder is full (limits.recordingEventsMax: it keeps the earliest events
// and drops later ones) sees exactly what the recorder holds, then a `dropped` notice with how many
// events it will not see, then every event after that, none missing. Events that happen while the
// page still reads the recording are dropped by the full recorder, and a page that is still reading
// gets no live events: those must be counted in the notice, not lost without a word.

import { request, type IncomingMessage } from 'node:http';
import { afterEach, describe, expect, it } from 'vitest';
import { EventHub } from '../../fleet-sim/dashboard/hub.js';
import { startDashboardServer, type DashboardServer } from '../../fleet-sim/dashboard/server.js';
import type { RunEvent } from '../../fleet-sim/report/events.js';
import { launchChromium } from './chromium.js';

type Got = { kind: 'event'; event: RunEvent } | { kind: 'dropped'; count: number };

const run = (nodes: number): RunEvent => ({ t: 'run', at: 0, scenario: 'full', seed: 1, mode: 'deterministic', durationMs: 3_600_000, nodes: Array.from({ length: nodes }, (_, i) => ({ index: i, id: `d${i}`, role: i < 4 ? 'validator' : 'follower', engine: 'none' })), world: { geofence: null, surveyArea: null, coverageCellM: 10, radioRangeM: null, home: [0, 0] } });
const commit = (height: number): RunEvent => ({ t: 'commit', at: height, height, round: 0, proposer: height % 4, latencyMs: 5, txs: 1, commands: 1 });
const heightOf = (g: Got): number => (g.kind === 'event' && g.event.t === 'commit' ? g.event.height : -1);

/** Reads /events, parsing both plain `data:` events and named `event: dropped` ones, until until() says
 *  so. onFirstData runs once, on the first bytes, with the response (to pause it). */
function readEvents(url: string, until: (got: Got[]) => boolean, onFirstData: (res: IncomingMessage) => void = () => {}): Promise<Got[]> {
  return new Promise((resolve, reject) => {
    const got: Got[] = [];
    let buf = '';
    let first = true;
    const timer = setTimeout(() => {
      req.destroy();
      reject(new Error(`the stream did not end as expected in 60 s: ${got.length} events, ${got.filter((g) => g.kind === 'dropped').length} dropped notices, last height ${got.length ? heightOf(got[got.length - 1] as Got) : '-'}`));
    }, 60_000);
    const req = request(url, (res) => {
      res.setEncoding('utf8');
      res.on('data', (c: string) => {
        if (first) {
          first = false;
          onFirstData(res);
        }
        buf += c;
        let i: number;
        while ((i = buf.indexOf('\n\n')) >= 0) {
          const block = buf.slice(0, i);
          buf = buf.slice(i + 2);
          const name = /^event: (.*)$/m.exec(block)?.[1];
          const data = /^data: (.*)$/m.exec(block)?.[1];
          if (data === undefined) continue;
          if (name === 'dropped') got.push({ kind: 'dropped', count: (JSON.parse(data) as { count: number }).count });
          else if (name === undefined) got.push({ kind: 'event', event: JSON.parse(data) as RunEvent });
          if (until(got)) {
            clearTimeout(timer);
            req.destroy();
            return resolve(got);
          }
        }
      });
    });
    req.on('error', (e) => (until(got) ? undefined : reject(e)));
    req.end();
  });
}

describe('a page opened after the recording filled up', () => {
  let server: DashboardServer | null = null;
  let hub: EventHub | null = null;
  afterEach(async () => {
    await server?.close();
    hub?.close();
    server = null;
  });

  it('gets what the recorder holds, a notice counting every event it misses, then every later event', async () => {
    const eventsMax = 100_000; // 12 MB as server-sent events: more than the sockets buffer while the page pauses
    hub = new EventHub(undefined, { eventsMax });
    server = await startDashboardServer(hub);
    hub.onEvent(run(4));
    let height = 0;
    while (height < eventsMax + 20_000) hub.onEvent(commit(++height));
    const held = hub.recording();
    expect(held.events.length).toBe(eventsMax);
    expect(held.dropped).toBe(20_001);
    const h = hub;
    let burstLast = 0;
    let ticker: NodeJS.Timeout | null = null;
    const got = await readEvents(
      `${server.url}events`,
      (g) => g.length > 0 && heightOf(g[g.length - 1] as Got) >= burstLast + 20 && burstLast > 0,
      (res) => {
        // The page has started on the recording and reads no more for a while: meanwhile the run goes on.
        res.pause();
        for (let k = 0; k < 1_000; k++) h.onEvent(commit(++height));
        burstLast = height;
        setTimeout(() => {
          res.resume();
          ticker = setInterval(() => h.onEvent(commit(++height)), 5);
        }, 200);
      },
    ).finally(() => {
      if (ticker) clearInterval(ticker);
    });
    const notices = got.map((g, i) => (g.kind === 'dropped' ? i : -1)).filter((i) => i >= 0);
    expect(notices, 'one dropped notice').toHaveLength(1);
    const at = notices[0] as number;
    // Exactly the recording the recorder held, in order.
    expect(at).toBe(held.events.length);
    expect(got.slice(0, at).map((g) => (g.kind === 'event' ? g.event.t : 'dropped'))).toEqual(held.events.map((e) => e.t));
    expect(got.slice(1, at).map(heightOf)).toEqual(Array.from({ length: eventsMax - 1 }, (_, i) => i + 1));
    // Then every event after the notice: the count covers exactly the gap, so heights run on unbroken.
    const count = (got[at] as { count: number }).count;
    const after = got.slice(at + 1).map(heightOf);
    expect(after[0]).toBe(eventsMax - 1 + count + 1);
    expect(after).toEqual(Array.from({ length: after.length }, (_, i) => (after[0] as number) + i));
    // The burst came while the page was reading the recording: counted, as the recorder dropped it.
    expect(count).toBeGreaterThanOrEqual(20_001 + 1_000);
  }, 90_000);

  it('after the run ended: the held events, the notice, the final frame and the end', async () => {
    hub = new EventHub(undefined, { eventsMax: 50 });
    server = await startDashboardServer(hub);
    hub.onEvent(run(2));
    for (let height = 1; height <= 100; height++) {
      hub.onEvent(commit(height));
      hub.onEvent({ t: 'frame', at: height * 1000, nodes: [], proposer: 0, radio: [], broker: 'up' });
    }
    hub.onEvent({ t: 'end', at: 200_000, report: { scenario: 'full' } });
    const rec = hub.recording();
    const got = await readEvents(`${server.url}events`, (g) => g.some((x) => x.kind === 'event' && x.event.t === 'end'));
    const shape = got.map((g) => (g.kind === 'dropped' ? `dropped ${g.count}` : g.event.t));
    expect(shape).toEqual([...rec.events.slice(0, 50).map((e) => e.t), `dropped ${rec.dropped}`, 'frame', 'end']);
    expect(got.at(-2)).toMatchObject({ kind: 'event', event: { t: 'frame', at: 100_000 } });
  }, 30_000);

  it('in Chromium: the page says how many events it does not show, then follows the run', async () => {
    hub = new EventHub(undefined, { eventsMax: 2_000 });
    server = await startDashboardServer(hub);
    hub.onEvent(run(4));
    for (let height = 1; height <= 3_000; height++) hub.onEvent(commit(height));
    const dropped = hub.recording().dropped;
    const chromium = await launchChromium();
    try {
      const page = await chromium.context.newPage();
      await page.goto(server.url);
      await page.waitForFunction(`MurmurDash.debug.events().length >= 2000`, undefined, { timeout: 20_000 });
      hub.onEvent(commit(3_001));
      await page.waitForFunction(`MurmurDash.debug.events().some((e) => e.t === 'commit' && e.height === 3001)`, undefined, { timeout: 20_000 });
      expect(await page.locator('#notice').isVisible()).toBe(true);
      expect(await page.locator('#notice').textContent()).toBe(`this page opened after the recording filled up: ${dropped} events that came after it are not shown, so the map, charts and counts leave them out; the summary is the whole run`);
    } finally {
      await chromium.close();
    }
  }, 60_000);
});
