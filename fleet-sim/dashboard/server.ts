// The dashboard's HTTP server on 127.0.0.1: the page and its static files from this folder, the run as
// Server-Sent Events on /events, and the recording and report as JSON. node:http only; nothing else.

import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { readFile } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import { join } from 'node:path';
import type { AddressInfo, Socket } from 'node:net';
import { limits } from '../../runtime/lib/limits.js';
import type { EventHub, Joined } from './hub.js';
import { recordingJson } from '../report/recorder.js';
import { writeInTurns } from './write-in-turns.js';

export const staticDir = fileURLToPath(new URL('./static/', import.meta.url));

/** The files the page is made of, in the order index.html loads the scripts. */
export const staticFiles = {
  styles: ['style.css'],
  scripts: ['state.js', 'map.js', 'charts.js', 'panels.js', 'app.js'],
} as const;

const contentTypes: Record<string, string> = {
  'style.css': 'text/css; charset=utf-8',
  'index.html': 'text/html; charset=utf-8',
};

export interface DashboardServer {
  readonly url: string;
  readonly port: number;
  close(): Promise<void>;
}

/** The port cannot be had (another process holds it, or it needs privileges): a user's fix, not a bug. */
export class DashboardPortError extends Error {
  constructor(
    readonly port: number,
    why: string,
  ) {
    super(`127.0.0.1:${port} ${why}`);
  }
}

export interface DashboardOptions {
  /** 0 picks a free port. */
  readonly port?: number;
}

export async function startDashboardServer(hub: EventHub, options: DashboardOptions = {}): Promise<DashboardServer> {
  const streams = new Set<ServerResponse>();
  const sockets = new Set<Socket>();
  const server: Server = createServer((req, res) => {
    handle(req, res).catch((e: unknown) => {
      if (!res.headersSent) res.writeHead(500, { 'content-type': 'text/plain' });
      res.end(`internal error: ${e instanceof Error ? e.message : String(e)}\n`);
    });
  });
  server.on('connection', (s) => {
    sockets.add(s);
    s.on('close', () => sockets.delete(s));
  });

  async function handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const path = new URL(req.url ?? '/', 'http://127.0.0.1').pathname;
    if (req.method !== 'GET' && req.method !== 'HEAD') {
      res.writeHead(405, { allow: 'GET, HEAD' }).end();
      return;
    }
    if (path === '/' || path === '/index.html') return sendFile(res, 'index.html');
    if (path.startsWith('/static/')) {
      const name = path.slice('/static/'.length);
      // Only the page's own files: no directory walking, whatever the path says.
      const known = (staticFiles.styles as readonly string[]).includes(name) || (staticFiles.scripts as readonly string[]).includes(name);
      if (!known) return notFound(res);
      return sendFile(res, name);
    }
    if (path === '/events') return stream(req, res);
    if (path === '/recording.json') return sendRecordingJson(req, res);
    if (path === '/report.json') {
      const report = hub.report();
      return report === null ? notFound(res, 'the run has not finished\n') : json(res, report);
    }
    notFound(res);
  }

  async function sendFile(res: ServerResponse, name: string): Promise<void> {
    const body = await readFile(join(staticDir, name));
    res.writeHead(200, { 'content-type': contentTypes[name] ?? 'text/javascript; charset=utf-8', 'cache-control': 'no-store' });
    res.end(body);
  }

  function json(res: ServerResponse, value: unknown): void {
    res.writeHead(200, { 'content-type': 'application/json', 'cache-control': 'no-store' });
    res.end(JSON.stringify(value));
  }

  /** The recording as JSON, written in pieces of about dashboardBacklogChunkBytesMax with a turn of the
   *  event loop between them, each once the socket took the one before: stringified in one go, an hour
   *  of 1,000 drones (50 MB) held the run's event loop for about a second and its memory twice over.
   *  The bytes are JSON.stringify's of the recording when the request came; a client that goes away or
   *  takes nothing for dashboardClientStallMs is cut. */
  async function sendRecordingJson(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const snapshot = hub.recordingSnapshot();
    res.writeHead(200, { 'content-type': 'application/json', 'cache-control': 'no-store' });
    if (req.method === 'HEAD') {
      res.end();
      return;
    }
    if (await writeInTurns(res, recordingJson(snapshot, limits.dashboardBacklogChunkBytesMax), limits.dashboardClientStallMs)) res.end();
    else res.destroy();
  }

  function notFound(res: ServerResponse, text = 'not found\n'): void {
    res.writeHead(404, { 'content-type': 'text/plain' }).end(text);
  }

  function stream(req: IncomingMessage, res: ServerResponse): void {
    if (streams.size >= limits.dashboardClientsMax) {
      res.writeHead(503, { 'content-type': 'text/plain' }).end('too many dashboard pages open\n');
      return;
    }
    res.writeHead(200, { 'content-type': 'text/event-stream', 'cache-control': 'no-store', connection: 'keep-alive' });
    // HEAD (curl -I, a health check) gets the headers only: a stream it never reads would hold a slot.
    if (req.method === 'HEAD') {
      res.end();
      return;
    }
    res.write('retry: 2000\n\n');
    streams.add(res);
    let joined: Joined | null = null;
    /** Unsent bytes once the recording so far is sent: a page that reads drains below it. */
    let joinedWith = Infinity;
    const drop = (): void => {
      joined?.unsubscribe();
      joined = null;
      streams.delete(res);
    };
    joined = hub.join((event) => {
      // A page that cannot keep up misses frames, never commits, faults or the end of the run.
      if (event.t === 'frame' && res.writableLength > limits.dashboardClientBufferBytesMax) return;
      // One that stopped reading (a sleeping laptop, a stalled tab) is cut rather than queued for without
      // end; if it wakes, its EventSource reconnects and gets the recording afresh.
      if (res.writableLength > joinedWith + limits.dashboardClientBacklogBytesMax) {
        drop();
        res.destroy();
        return;
      }
      res.write(`data: ${JSON.stringify(event)}\n\n`);
    });
    req.on('close', drop);
    void sendRecording(res, joined).then((caughtUp) => {
      if (caughtUp) joinedWith = res.writableLength;
      else if (streams.has(res)) {
        drop();
        res.destroy();
      }
    });
  }

  /** The recording so far, in chunks of at most dashboardBacklogChunkBytesMax with a turn of the event
   *  loop between them, each written once the page has taken the one before (backpressure): the run, the
   *  devices in this process and other pages go on meanwhile. True once the page is live; false when it
   *  went away, or read nothing for dashboardClientStallMs. Bounded: the recording is, and so is the
   *  wait for each chunk. */
  function sendRecording(res: ServerResponse, j: Joined): Promise<boolean> {
    return writeInTurns(res, backlogPieces(j), limits.dashboardClientStallMs, () => streams.has(res));
  }

  /** The recording so far as server-sent events, about dashboardBacklogChunkBytesMax at a time. The last
   *  piece is yielded in the turn of the next() that found the end, and writeInTurns writes it at once:
   *  no live event can come between them. */
  function* backlogPieces(j: Joined): Generator<string, void, undefined> {
    for (;;) {
      let chunk = '';
      while (chunk.length < limits.dashboardBacklogChunkBytesMax) {
        const e = j.next();
        if (e === undefined) {
          yield chunk;
          return;
        }
        // The notice is a named event: a page's onmessage gets run events only.
        chunk += e.t === 'dropped' ? `event: dropped\ndata: ${JSON.stringify({ count: e.count })}\n\n` : `data: ${JSON.stringify(e)}\n\n`;
      }
      yield chunk;
    }
  }

  await new Promise<void>((resolve, reject) => {
    const failed = (e: NodeJS.ErrnoException): void => {
      const port = options.port ?? 0;
      if (e.code === 'EADDRINUSE') reject(new DashboardPortError(port, 'is in use (another fleet-sim dashboard?)'));
      else if (e.code === 'EACCES') reject(new DashboardPortError(port, 'needs privileges this process does not have'));
      else reject(e);
    };
    server.once('error', failed);
    server.listen(options.port ?? 0, '127.0.0.1', () => {
      server.off('error', failed);
      resolve();
    });
  });
  const port = (server.address() as AddressInfo).port;
  return {
    url: `http://127.0.0.1:${port}/`,
    port,
    close: () =>
      new Promise<void>((resolve) => {
        for (const r of streams) r.end();
        streams.clear();
        for (const s of sockets) s.destroy();
        server.close(() => resolve());
      }),
  };
}
