// /recording.json of a long run is streamed: the server writes it in chunks, a turn of the event loop
// between them and each once the socket took the one before, rather than JSON.stringify'ing the whole
// recording into one string (50 MB for an hour of 1,000 drones) in the middle of a live run. The bytes
// must be exactly those JSON.stringify gives; read here off a raw socket to see the HTTP chunks.

import { connect } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { EventHub } from '../../fleet-sim/dashboard/hub.js';
import { startDashboardServer, type DashboardServer } from '../../fleet-sim/dashboard/server.js';
import { limits } from '../../runtime/lib/limits.js';

const nodes = 20;
const durationMs = 600_000;

/** One HTTP/1.1 GET over a raw socket: status line, headers, and the body's transfer chunks. */
function rawGet(port: number, path: string, method = 'GET'): Promise<{ head: string; chunks: Buffer[] }> {
  return new Promise((resolve, reject) => {
    const parts: Buffer[] = [];
    const s = connect(port, '127.0.0.1', () => s.write(`${method} ${path} HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n`));
    const timer = setTimeout(() => {
      s.destroy();
      reject(new Error(`${path}: no end of the response in 30 s`));
    }, 30_000);
    s.on('data', (b: Buffer) => parts.push(b));
    s.on('error', reject);
    s.on('close', () => {
      clearTimeout(timer);
      const all = Buffer.concat(parts);
      const headEnd = all.indexOf('\r\n\r\n');
      if (headEnd < 0) return reject(new Error(`${path}: no header in ${all.length} bytes`));
      const head = all.subarray(0, headEnd).toString('latin1');
      if (method === 'HEAD') return resolve({ head, chunks: [] });
      if (!/\r\ntransfer-encoding: chunked/i.test(head)) return resolve({ head, chunks: [all.subarray(headEnd + 4)] });
      const chunks: Buffer[] = [];
      let at = headEnd + 4;
      for (;;) {
        const lineEnd = all.indexOf('\r\n', at);
        if (lineEnd < 0) return reject(new Error(`${path}: chunked body cut short after ${chunks.length} chunks`));
        const size = parseInt(all.subarray(at, lineEnd).toString('latin1'), 16);
        if (!Number.isFinite(size)) return reject(new Error(`${path}: bad chunk size at byte ${at}`));
        if (size === 0) return resolve({ head, chunks });
        chunks.push(all.subarray(lineEnd + 2, lineEnd + 2 + size));
        at = lineEnd + 2 + size + 2;
      }
    });
  });
}

describe('/recording.json of a long run', () => {
  let server: DashboardServer;
  const hub = new EventHub();

  beforeAll(async () => {
    server = await startDashboardServer(hub);
    hub.onEvent({ t: 'run', at: 0, scenario: 'stream "quoted" é', seed: 7, mode: 'deterministic', durationMs, nodes: Array.from({ length: nodes }, (_, i) => ({ index: i, id: `d${i}`, role: i < 4 ? 'validator' : 'follower', engine: 'none' })), world: { geofence: null, surveyArea: [[0, 0], [0, 100], [50, 100], [50, 0]], coverageCellM: 10, radioRangeM: 120, home: [0, 0] } });
    let height = 0;
    for (let at = 250; at <= durationMs; at += 250) {
      hub.onEvent({ t: 'commit', at, height: ++height, round: 0, proposer: height % 4, latencyMs: 5.25, commandLatencyMs: [4.5, 6], txs: 2, commands: 2 });
      hub.onEvent({ t: 'frame', at, nodes: Array.from({ length: nodes }, (_, i) => ({ i, n: i * 1.5, e: at / 1000, u: 10, bat: 80.125, h: height, r: 0, health: 'alive', byz: null, mode: 'survey' })), proposer: 0, radio: [[0, 1]], broker: 'up' });
      // Text a byte-for-byte comparison can trip on: multi-byte UTF-8, escapes, a line separator.
      if (height % 500 === 0) hub.onEvent({ t: 'log', at, level: 'warn', text: `høhe ${height} ✓ "q" \\ \n\u2028 </script>` });
    }
  }, 60_000);

  afterAll(async () => {
    await server?.close();
    hub.close();
  });

  it('is the bytes JSON.stringify gives, sent in several chunks', async () => {
    const expected = JSON.stringify(hub.recording());
    expect(Buffer.byteLength(expected)).toBeGreaterThan(4 * limits.dashboardBacklogChunkBytesMax);
    const { head, chunks } = await rawGet(server.port, '/recording.json');
    expect(head).toMatch(/^HTTP\/1\.1 200 /);
    expect(head).toMatch(/\r\ncontent-type: application\/json/i);
    expect(Buffer.concat(chunks).toString('utf8')).toBe(expected);
    expect(chunks.length).toBeGreaterThan(1);
    process.stdout.write(`/recording.json: ${Buffer.byteLength(expected)} bytes in ${chunks.length} HTTP chunks\n`);
  }, 60_000);

  it('answers HEAD with the headers only', async () => {
    const { head } = await rawGet(server.port, '/recording.json', 'HEAD');
    expect(head).toMatch(/^HTTP\/1\.1 200 /);
    expect(head).toMatch(/\r\ncontent-type: application\/json/i);
  }, 30_000);
});
