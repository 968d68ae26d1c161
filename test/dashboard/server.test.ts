// The dashboard's server, event stream, recorder, report page and the page's own state code (run under
// node: static/state.js is a plain script that registers globalThis.MurmurDash).

import { request } from 'node:http';
import { connect, type Socket } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { EventHub } from '../../fleet-sim/dashboard/hub.js';
import { startDashboardServer, type DashboardServer } from '../../fleet-sim/dashboard/server.js';
import type { NodeSample, RunEvent } from '../../fleet-sim/report/events.js';
import { RunRecorder } from '../../fleet-sim/report/recorder.js';
import { jsonForScript, renderReportHtml } from '../../fleet-sim/report/html.js';
import { CoverageGrid } from '../../fleet-sim/report/coverage.js';
import { formatSummary } from '../../fleet-sim/report/write.js';
import '../../fleet-sim/dashboard/static/state.js';

interface DashState {
  now: number;
  commitsTotal: number;
  log: { text: string }[];
  evidence: unknown[];
  coverage: Set<number>;
  samples: (NodeSample | undefined)[];
}
interface Dash {
  emptyState(): DashState;
  apply(s: DashState, e: RunEvent): DashState;
  throughputSeries(s: DashState, bucketMs: number): [number, number][];
  coverageGrid(w: unknown): { minN: number; minE: number; cell: number; cols: number; rows: number };
}
const dash = (globalThis as unknown as { MurmurDash: Dash }).MurmurDash;

const run = (nodes: number, durationMs = 10_000): RunEvent => ({
  t: 'run',
  at: 0,
  scenario: 'unit',
  seed: 1,
  mode: 'deterministic',
  durationMs,
  nodes: Array.from({ length: nodes }, (_, i) => ({ index: i, id: `n${i}`, role: i < 4 ? 'validator' : 'follower', engine: 'none' })),
  world: { geofence: null, surveyArea: [[0, 0], [0, 100], [50, 100], [50, 0]], coverageCellM: 10, radioRangeM: null, home: [0, 0] },
});
const frame = (at: number, nodes: number): RunEvent => ({
  t: 'frame',
  at,
  nodes: Array.from({ length: nodes }, (_, i) => ({ i, n: i, e: at / 100, u: 10, bat: 90, h: at / 100, r: 0, health: 'alive', byz: null, mode: 'survey' })),
  proposer: 0,
  radio: [],
  broker: 'up',
});

function get(url: string, method = 'GET'): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const req = request(url, { method }, (res) => {
      let body = '';
      res.on('data', (c: Buffer) => (body += c.toString()));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
    });
    req.on('error', reject);
    req.end();
  });
}

/** Reads Server-Sent Events until `count` data lines arrived; the stream stays open, so it aborts. */
function readEvents(url: string, count: number): Promise<RunEvent[]> {
  return new Promise((resolve, reject) => {
    const got: RunEvent[] = [];
    let buf = '';
    const timer = setTimeout(() => reject(new Error(`only ${got.length} of ${count} events arrived`)), 5_000);
    const req = request(url, (res) => {
      expect(res.headers['content-type']).toBe('text/event-stream');
      res.on('data', (c: Buffer) => {
        buf += c.toString();
        let i: number;
        while ((i = buf.indexOf('\n\n')) >= 0) {
          const chunk = buf.slice(0, i);
          buf = buf.slice(i + 2);
          if (chunk.startsWith('data: ')) got.push(JSON.parse(chunk.slice(6)) as RunEvent);
          if (got.length >= count) {
            clearTimeout(timer);
            req.destroy();
            resolve(got);
          }
        }
      });
    });
    req.on('error', (e) => (got.length >= count ? undefined : reject(e)));
    req.end();
  });
}

describe('dashboard server', () => {
  let server: DashboardServer | null = null;
  afterEach(async () => {
    await server?.close();
    server = null;
  });

  it('serves the page on 127.0.0.1, streams the recording so far then live events, and refuses other paths', async () => {
    const hub = new EventHub();
    server = await startDashboardServer(hub);
    expect(server.url).toMatch(/^http:\/\/127\.0\.0\.1:\d+\/$/);
    hub.onEvent(run(5));
    hub.onEvent(frame(250, 5));
    const page = await get(server.url);
    expect(page.status).toBe(200);
    expect(page.body).toContain('<svg id="map"');
    expect((await get(`${server.url}static/state.js`)).status).toBe(200);
    expect((await get(`${server.url}static/%2e%2e%2fpackage.json`)).status).toBe(404);
    expect((await get(`${server.url}static/hub.ts`)).status).toBe(404);
    expect((await get(server.url, 'POST')).status).toBe(405);
    expect((await get(`${server.url}report.json`)).status).toBe(404);
    const live = readEvents(`${server.url}events`, 3);
    await new Promise((r) => setTimeout(r, 150));
    hub.onEvent({ t: 'commit', at: 300, height: 1, round: 0, proposer: 0, latencyMs: 4, txs: 1, commands: 1 });
    const events = await live;
    expect(events.map((e) => e.t)).toEqual(['run', 'frame', 'commit']);
    hub.onEvent({ t: 'end', at: 400, report: { scenario: 'unit', safety: { ok: true } } });
    const report = await get(`${server.url}report.json`);
    expect(report.status).toBe(200);
    expect(JSON.parse(report.body)).toMatchObject({ scenario: 'unit' });
    const rec = JSON.parse((await get(`${server.url}recording.json`)).body) as { events: RunEvent[] };
    expect(rec.events.map((e) => e.t)).toEqual(['run', 'frame', 'commit', 'end']);
    hub.close();
  });

  it('answers HEAD /events with the stream\'s headers and ends, holding no page slot (a curl -I hung and held one)', async () => {
    const hub = new EventHub();
    server = await startDashboardServer(hub);
    const head = await get(`${server.url}events`, 'HEAD');
    expect(head.status).toBe(200);
    expect(hub.subscriberCount).toBe(0);
    hub.close();
  }, 10_000);

  it('a page past the limit of live pages says so, not just "disconnected"', async () => {
    const { launchChromium } = await import('./chromium.js');
    const hub = new EventHub();
    server = await startDashboardServer(hub);
    hub.onEvent(run(5));
    const held: Socket[] = [];
    const chromium = await launchChromium();
    try {
      for (let i = 0; i < 16; i++) {
        const s = connect(server.port, '127.0.0.1', () => s.write('GET /events HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n'));
        s.on('error', () => {});
        held.push(s);
      }
      for (let i = 0; i < 300 && hub.subscriberCount < 16; i++) await new Promise((r) => setTimeout(r, 20));
      expect(hub.subscriberCount).toBe(16);
      const page = await chromium.context.newPage();
      await page.goto(server.url);
      await page.waitForFunction(`(document.getElementById('status')?.textContent || '') !== 'connecting' && document.getElementById('status')?.textContent !== 'disconnected'`, undefined, { timeout: 10_000 }).catch(() => undefined);
      expect(await page.locator('#status').textContent()).toBe('refused: too many dashboard pages open; close one and reload');
    } finally {
      for (const s of held) s.destroy();
      await chromium.close();
      hub.close();
    }
  }, 60_000);

  it('cuts a page that stopped reading once its backlog passes the bound; pages that read, or just joined, stay', async () => {
    const hub = new EventHub();
    server = await startDashboardServer(hub);
    hub.onEvent(run(5));
    const port = server.port;
    const sockets: Socket[] = [];
    const open = (): Promise<Socket> =>
      new Promise((resolve) => {
        const s = connect(port, '127.0.0.1', () => {
          s.write('GET /events HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n');
          resolve(s);
        });
        s.on('error', () => {});
        sockets.push(s);
      });
    try {
      const stalled = await open();
      stalled.pause(); // a laptop asleep with the tab open: the connection stays, nothing is read
      const reader = await open();
      let read = 0;
      reader.on('data', (b: Buffer) => (read += b.length));
      const until = async (what: string, ok: () => boolean): Promise<void> => {
        for (let i = 0; i < 300 && !ok(); i++) await new Promise((r) => setTimeout(r, 20));
        expect(ok(), what).toBe(true);
      };
      await until('both pages subscribed', () => hub.subscriberCount === 2);
      // 64 MB of timeline text, in batches with turns of the event loop between them, as a run sends it.
      const text = 'x'.repeat(4000);
      for (let batch = 0; batch < 64; batch++) {
        for (let i = 0; i < 256; i++) hub.onEvent({ t: 'log', at: batch, level: 'info', text });
        await new Promise((r) => setImmediate(r));
      }
      await until('the stalled page is cut, the reading one stays', () => hub.subscriberCount === 1);
      await until('the reader has read everything', () => read > 64 * 256 * 4000);
      // A page that joins now gets the 64 MB recording at once: that backlog is not held against it.
      const late = await open();
      await until('the late page subscribed', () => hub.subscriberCount === 2);
      hub.onEvent({ t: 'log', at: 100, level: 'info', text: 'one more' });
      expect(hub.subscriberCount).toBe(2);
      late.destroy();
    } finally {
      for (const s of sockets) s.destroy();
      hub.close();
    }
  }, 60_000);
});

describe('recorder', () => {
  it('thins frames of a big run to its sample budget and always keeps the final frame', () => {
    const r = new RunRecorder({ frameSamplesMax: 10_000, eventsMax: 100_000 });
    r.onEvent(run(100, 60_000));
    for (let t = 0; t <= 59_900; t += 100) r.onEvent(frame(t, 100));
    r.onEvent({ t: 'end', at: 60_000, report: {} });
    const rec = r.recording();
    const frames = rec.events.filter((e) => e.t === 'frame');
    expect(rec.framePeriodMs).toBe(600);
    expect(frames.length * 100).toBeLessThanOrEqual(10_000 + 100);
    expect(frames.at(-1)?.at).toBe(59_900);
    expect(rec.events.at(-1)?.t).toBe('end');
  });

  it('drops and counts events past its bound, keeping the end', () => {
    const r = new RunRecorder({ eventsMax: 10 });
    r.onEvent(run(2));
    for (let h = 1; h <= 20; h++) r.onEvent({ t: 'commit', at: h, height: h, round: 0, proposer: 0, latencyMs: 1, txs: 0, commands: 0 });
    r.onEvent({ t: 'end', at: 30, report: {} });
    const rec = r.recording();
    expect(rec.dropped).toBe(11);
    expect(rec.events.at(-1)?.t).toBe('end');
  });
});

describe('HTML report', () => {
  it('is one self-contained file: inline styles and scripts, the recording, nothing fetched', () => {
    const r = new RunRecorder();
    r.onEvent(run(3));
    r.onEvent({ t: 'log', at: 5, level: 'info', text: 'a </script><script>alert(1)</script> in a log line' });
    const html = renderReportHtml(r.recording(), 'unit <seed 1>');
    expect(html).not.toMatch(/src="\/static|href="\/static/);
    expect(html).toContain('<script id="recording" type="application/json">');
    expect(html.match(/<\/script>/g)?.length).toBe(6); // the recording + five scripts, none from the log line
    expect(html).toContain('<title>unit &#60;seed 1&#62; · Murmur fleet-sim report</title>');
    expect(jsonForScript({ a: '</script>' })).toBe('{"a":"\\u003c/script>"}');
  });

  const summaryBase = {
    scenario: 's',
    seed: 3,
    simulatedMs: 60_000,
    wallMs: 800,
    safety: { ok: true, violations: [] },
    liveness: { heights: 10, commandsSubmitted: 5, commandsCommitted: 5, maxStallMs: 300 },
    latencyMs: { commitP50: 6.1, commitP99: 31 },
    throughput: { commandsPerSec: 2 },
    evidence: [],
    nodes: { validators: 4, followers: 0, byzantine: [], crashed: [] },
    expect: { met: true, failed: [] },
  };

  it('counts one follower, one hazard and one snapshot in the singular', () => {
    // leader-crash.yaml's summary read '4 validators + 1 followers'.
    const text = formatSummary({ ...summaryBase, nodes: { ...summaryBase.nodes, followers: 1 }, stateSync: { installs: 1, refused: 2 }, flight: { surveyedFraction: 0.5, geofenceBreaches: 0, failsafes: 0, minSeparationM: 3, obstacleStrikes: 0, hazardsFound: 1 } });
    expect(text).toContain('s (seed 3), 4 validators + 1 follower\n');
    expect(text).toContain('1 hazard found');
    expect(text).toContain('1 snapshot installed, 2 offers or chunks refused');
    expect(formatSummary({ ...summaryBase, nodes: { ...summaryBase.nodes, validators: 1, followers: 3 } })).toContain('1 validator + 3 followers');
  });

  it('names what honest nodes refused, the kinds seen only', () => {
    const none = { malformed: 0, notProposer: 0, invalidBlock: 0, tornLogTails: 0, replayedCommands: 0, badSignatures: 0 };
    expect(formatSummary({ ...summaryBase, refused: { ...none, malformed: 3258, notProposer: 1, tornLogTails: 4, replayedCommands: 117 } })).toContain('refused   3258 malformed messages, 1 proposal from a non-proposer, 4 torn log tails, 117 replayed commands\n');
    expect(formatSummary({ ...summaryBase, refused: { ...none, invalidBlock: 1 } })).toContain('refused   1 invalid block');
    expect(formatSummary({ ...summaryBase, refused: none })).not.toContain('refused');
  });

  it('summarises a report in a few aligned lines', () => {
    const text = formatSummary({
      ...summaryBase,
      evidence: [
        { validator: 3, height: 8 },
        { validator: 3, height: 9 },
      ],
      nodes: { ...summaryBase.nodes, byzantine: [3] },
    });
    expect(text).toContain('validator 3 (2 from height 8)');
    expect(text).toContain('p50 6.1 ms, p99 31 ms');
    expect(text).not.toContain('obstacle strikes'); // no flight: no flight line
  });

  it('names the obstacle strikes on the flight line when they were measured', () => {
    const flight = { surveyedFraction: 0.8, failsafes: 0, geofenceBreaches: 0, minSeparationM: 3.1, hazardsFound: 1 };
    expect(formatSummary({ ...summaryBase, flight: { ...flight, obstacleStrikes: 2 } })).toContain('flight    0 battery failsafes, 0 geofence breaches, 1 hazard found, 2 obstacle strikes, closest approach 3.1 m');
    expect(formatSummary({ ...summaryBase, flight: { ...flight, obstacleStrikes: null } })).not.toContain('obstacle strikes');
  });
});

describe('dashboard state (static/state.js)', () => {
  it('folds events: commits, one log line per equivocator, throughput per second', () => {
    const s = dash.emptyState();
    dash.apply(s, run(4));
    dash.apply(s, frame(1_000, 4));
    for (let h = 1; h <= 6; h++) dash.apply(s, { t: 'commit', at: h * 400, height: h, round: 0, proposer: 0, latencyMs: 5, txs: 2, commands: 2 });
    for (let h = 1; h <= 3; h++) dash.apply(s, { t: 'evidence', at: 2_500, kind: 'equivocation', validator: 3, height: h });
    expect(s.commitsTotal).toBe(6);
    expect(s.evidence.length).toBe(3);
    expect(s.log.filter((l) => l.text.includes('equivocation')).map((l) => l.text)).toEqual(['equivocation evidence against n3 (3, latest at height 3)']);
    expect(dash.throughputSeries(s, 1_000)).toEqual([
      [0, 4],
      [1_000, 4],
      [2_000, 4],
    ]);
    expect(s.samples.filter(Boolean).length).toBe(4);
  });

  it('decodes coverage cells with the same grid the server marks them in', () => {
    const area = [[0, 0], [0, 100], [50, 100], [50, 0]] as const;
    const grid = new CoverageGrid(area, 10);
    const fresh = grid.mark(25, 55, 12);
    expect(fresh.length).toBeGreaterThan(0);
    const g = dash.coverageGrid({ surveyArea: area, coverageCellM: 10 });
    expect([g.cols, g.rows, g.minN, g.minE]).toEqual([grid.cols, grid.rows, grid.minN, grid.minE]);
    for (const c of fresh) {
      const n = g.minN + (Math.floor(c / g.cols) + 0.5) * g.cell;
      const e = g.minE + ((c % g.cols) + 0.5) * g.cell;
      expect(Math.hypot(n - 25, e - 55)).toBeLessThanOrEqual(12);
    }
    for (let n = 5; n < 50; n += 10) for (let e = 5; e < 100; e += 10) grid.mark(n, e, 8);
    expect(grid.fraction()).toBe(1);
  });

  it('a survey of many square kilometres gets larger cells (at most a million), told to the dashboard, not an internal error', () => {
    // 20 km by 20 km: 4 million cells of 10 m. Before: "internal error: survey area too large for 10 m
    // cells", exit 70, for a survey the mission machine accepts (spacingM 30: 667 lanes).
    const area = [[0, 0], [0, 20_000], [20_000, 20_000], [20_000, 0]] as const;
    const grid = new CoverageGrid(area, 10);
    expect(grid.cellM).toBe(20);
    expect(grid.cols * grid.rows).toBeLessThanOrEqual(1_000_000);
    const g = dash.coverageGrid({ surveyArea: area, coverageCellM: grid.cellM });
    expect([g.cols, g.rows, g.cell]).toEqual([grid.cols, grid.rows, grid.cellM]);
    expect(grid.mark(10_000, 10_000, 30).length).toBeGreaterThan(0);
    expect(new CoverageGrid([[0, 0], [0, 100], [50, 100]], 10).cellM).toBe(10); // a field keeps its 10 m
  });
});
