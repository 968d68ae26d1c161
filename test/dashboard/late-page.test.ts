// A page opened late in a long run takes the recording so far without stalling the run: the server
// sends it in bounded chunks, a turn of the event loop between them and each once the page took the
// one before (fleet-sim/dashboard/server.ts, sendRecording). The recording here is an hour of 300 drones
// (400 frames) with 20,000 commits, 14 MB as server-sent events; meanwhile a "run" sends a commit
// every 10 ms. Sent in one go (measured with 1,000 drones, 51 MB), the recording blocked the event loop
// for 1.7-2 s, and past dashboardClientBufferBytesMax of unsent bytes the frames of the recording were
// skipped: the late page had the first 4 MB of frames and none after.

import { request } from 'node:http';
import { monitorEventLoopDelay } from 'node:perf_hooks';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { EventHub } from '../../fleet-sim/dashboard/hub.js';
import { startDashboardServer, type DashboardServer } from '../../fleet-sim/dashboard/server.js';
import type { RunEvent } from '../../fleet-sim/report/events.js';
import { limits } from '../../runtime/lib/limits.js';
import { launchChromium, type HeadlessChromium } from './chromium.js';

const nodes = 300; // 16 MB of frames: past the 4 MB the server once dropped at, and Chromium reads it in seconds (1,000 drones took it ~50 s)
const durationMs = 3_600_000;
const frameEveryMs = 9_000; // the recorder's period for this run: 400,000 samples / 1,000 nodes = 400 frames
// The page's time goes by event rather than by byte: with 300 commits a frame (120,000, 24 MB) Chromium took
// 28 s to catch up (load 10), with 50 (20,000, 14 MB: still three times the 4 MB the server once dropped
// at) 13 s (load 17).
const commitsPerFrame = 50;
const endMs = durationMs - 60_000;
const liveFrom = 1_000_000; // heights of the commits the run sends while the page reads

const frame = (at: number): RunEvent => ({ t: 'frame', at, nodes: Array.from({ length: nodes }, (_, i) => ({ i, n: i, e: (at / 1000) % 100, u: 10, bat: 80, h: at / frameEveryMs, r: 0, health: 'alive', byz: null, mode: 'survey' })), proposer: 0, radio: [], broker: 'up' });
const commit = (at: number, height: number): RunEvent => ({ t: 'commit', at, height, round: 0, proposer: height % 4, latencyMs: 5, txs: 1, commands: 1 });

/** The run going on: a commit every 10 ms of wall time, and how long the event loop kept it waiting. */
function runGoesOn(hub: EventHub): { stop(): { gapMaxMs: number; delayMaxMs: number; delayP99Ms: number; sent: number } } {
  let height = liveFrom;
  let last = performance.now();
  let gapMaxMs = 0;
  const delay = monitorEventLoopDelay({ resolution: 10 });
  delay.enable();
  const tick = setInterval(() => {
    const now = performance.now();
    gapMaxMs = Math.max(gapMaxMs, now - last);
    last = now;
    hub.onEvent(commit(endMs, height++));
  }, 10);
  return {
    stop: () => {
      clearInterval(tick);
      delay.disable();
      return { gapMaxMs, delayMaxMs: delay.max / 1e6, delayP99Ms: delay.percentile(99) / 1e6, sent: height - liveFrom };
    },
  };
}

/** Reads /events as a page would until `live` commits of the run arrived after the recording. */
function readStream(url: string, live: number): Promise<RunEvent[]> {
  return new Promise((resolve, reject) => {
    const got: RunEvent[] = [];
    let liveSeen = 0;
    let buf = '';
    const timer = setTimeout(() => reject(new Error(`only ${got.length} events arrived in 60 s`)), 60_000);
    const req = request(url, (res) => {
      res.setEncoding('utf8');
      res.on('data', (c: string) => {
        buf += c;
        let i: number;
        while ((i = buf.indexOf('\n\n')) >= 0) {
          const chunk = buf.slice(0, i);
          buf = buf.slice(i + 2);
          if (!chunk.startsWith('data: ')) continue;
          const e = JSON.parse(chunk.slice(6)) as RunEvent;
          got.push(e);
          if (e.t === 'commit' && e.height >= liveFrom && ++liveSeen >= live) {
            clearTimeout(timer);
            req.destroy();
            return resolve(got);
          }
        }
      });
    });
    req.on('error', (e) => (liveSeen >= live ? undefined : reject(e)));
    req.end();
  });
}

describe('a page opened an hour into a run of 300 drones', () => {
  let server: DashboardServer;
  const hub = new EventHub();
  let recorded: readonly RunEvent[] = [];

  beforeAll(async () => {
    server = await startDashboardServer(hub);
    hub.onEvent({ t: 'run', at: 0, scenario: 'late', seed: 1, mode: 'deterministic', durationMs, nodes: Array.from({ length: nodes }, (_, i) => ({ index: i, id: `d${i}`, role: i < 4 ? 'validator' : 'follower', engine: 'none' })), world: { geofence: null, surveyArea: null, coverageCellM: 10, radioRangeM: null, home: [0, 0] } });
    let height = 0;
    for (let at = frameEveryMs; at <= endMs; at += frameEveryMs) {
      for (let k = 0; k < commitsPerFrame; k++) hub.onEvent(commit(at - frameEveryMs + (k * frameEveryMs) / commitsPerFrame, ++height));
      hub.onEvent(frame(at));
    }
    recorded = hub.recording().events;
  }, 120_000);

  afterAll(async () => {
    await server?.close();
    hub.close();
  });

  it('gets every recorded event, frames included, in order, then the run\'s events', async () => {
    const bytes = recorded.reduce((n, e) => n + JSON.stringify(e).length + 8, 0);
    const t0 = performance.now();
    const run = runGoesOn(hub);
    const got = await readStream(`${server.url}events`, 20).finally(() => run.stop());
    const m = run.stop();
    process.stdout.write(`late reader: ${recorded.length} recorded events (${(bytes / 1e6).toFixed(1)} MB as SSE, ${recorded.filter((e) => e.t === 'frame').length} frames) read in ${(performance.now() - t0).toFixed(0)} ms while the run sent ${m.sent} commits; event loop: longest wait of the run's 10 ms timer ${m.gapMaxMs.toFixed(0)} ms, monitorEventLoopDelay max ${m.delayMaxMs.toFixed(0)} ms p99 ${m.delayP99Ms.toFixed(0)} ms (chunks of ${limits.dashboardBacklogChunkBytesMax} bytes)\n`);
    // The recording as it was, every frame included, then the run's commits: none missing, in order.
    const past = got.filter((e) => !(e.t === 'commit' && e.height >= liveFrom));
    expect(past.length).toBe(recorded.length);
    expect(past.filter((e) => e.t === 'frame').map((e) => e.at)).toEqual(recorded.filter((e) => e.t === 'frame').map((e) => e.at));
    expect(past.filter((e) => e.t === 'commit').map((e) => (e.t === 'commit' ? e.height : 0))).toEqual(recorded.filter((e) => e.t === 'commit').map((e) => (e.t === 'commit' ? e.height : 0)));
    const live = got.filter((e) => e.t === 'commit' && e.height >= liveFrom).map((e) => (e.t === 'commit' ? e.height : 0));
    expect(live).toEqual(Array.from({ length: live.length }, (_, i) => liveFrom + i));
    // The event loop's longest block is printed above, not asserted: on a shared 2-core machine the OS
    // and the garbage collector add hundreds of ms to any wall-time bound. Measured alone: 154 ms
    // (1,740 ms with the recording sent in one go).
  }, 120_000);

  it('in Chromium: the page shows the recording, every frame of it, then follows the run', async () => {
    const chromium: HeadlessChromium = await launchChromium();
    const t0 = performance.now();
    const run = runGoesOn(hub);
    try {
      const page = await chromium.context.newPage();
      await page.goto(server.url);
      await page.waitForFunction(`MurmurDash.debug.events().filter((e) => e.t === 'commit' && e.height >= ${liveFrom}).length >= 20`, undefined, { timeout: 110_000, polling: 250 });
      const m = run.stop();
      const seen = (await page.evaluate(`(() => { const ev = MurmurDash.debug.events(); return { frames: ev.filter((e) => e.t === 'frame').length, last: ev.filter((e) => e.t === 'frame').pop().at}; })()`)) as { frames: number; last: number };
      process.stdout.write(`late page in Chromium: ${seen.frames} frames kept, caught up and following the run after ${(performance.now() - t0).toFixed(0)} ms; event loop: longest wait of the run's timer ${m.gapMaxMs.toFixed(0)} ms, monitorEventLoopDelay max ${m.delayMaxMs.toFixed(0)} ms p99 ${m.delayP99Ms.toFixed(0)} ms\n`);
      // The page keeps frames thinned as the recorder does, so the recorder's frames all stay.
      expect(seen.frames).toBe(recorded.filter((e) => e.t === 'frame').length);
      expect(seen.last).toBe(recorded.filter((e) => e.t === 'frame').pop()?.at);
    } finally {
      run.stop();
      await chromium.close();
    }
  }, 150_000);
});
