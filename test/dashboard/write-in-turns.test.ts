// writeInTurns lets the event loop turn between the pieces of a long body. Awaiting 'drain' alone is no
// turn: when the reader keeps the socket's buffer empty (here curl, its own process, as a browser or a
// curl saving /recording.json would), each write completes at once and 'drain' comes before the event
// loop moves on, so a whole recording went out without a timer of the run firing.

import { spawn } from 'node:child_process';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { Writable } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { writeInTurns } from '../../fleet-sim/dashboard/write-in-turns.js';

/** Serves one body through writeInTurns to curl; for each piece, how many turns of the loop came before. */
async function serveToCurl(pieces: number, pieceBytes: number): Promise<{ ok: boolean; turnsAtWrite: number[]; curlBytes: number }> {
  let turns = 0;
  let probing = true;
  const probe = (): void => {
    turns++;
    if (probing) setImmediate(probe);
  };
  const turnsAtWrite: number[] = [];
  let ok = false;
  const server: Server = createServer((_req, res) => {
    res.writeHead(200, { 'content-type': 'text/plain' });
    const body = function* (): Generator<string> {
      for (let i = 0; i < pieces; i++) {
        turnsAtWrite.push(turns);
        yield String(i % 10).repeat(pieceBytes);
      }
    };
    setImmediate(probe);
    void writeInTurns(res, body(), 10_000).then((done) => {
      ok = done;
      probing = false;
      res.end();
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  try {
    const curlBytes = await new Promise<number>((resolve, reject) => {
      const c = spawn('curl', ['-s', '--max-time', '30', '-o', '/dev/null', '-w', '%{size_download}', `http://127.0.0.1:${(server.address() as AddressInfo).port}/`]);
      let out = '';
      c.stdout.on('data', (d: Buffer) => (out += d.toString()));
      c.on('error', reject);
      c.on('close', (code) => (code === 0 ? resolve(Number(out)) : reject(new Error(`curl exited ${code}`))));
    });
    return { ok, turnsAtWrite, curlBytes };
  } finally {
    await new Promise((r) => server.close(r));
  }
}

describe('writeInTurns', () => {
  it('turns the event loop between pieces while curl takes each one at once', async () => {
    const { ok, turnsAtWrite, curlBytes } = await serveToCurl(100, 262_144);
    expect(ok).toBe(true);
    expect(curlBytes).toBe(100 * 262_144);
    // Every piece after the first was written after at least one more turn of the loop than the one before.
    const sameTurn = turnsAtWrite.filter((t, i) => i > 0 && t === turnsAtWrite[i - 1]).length;
    expect(sameTurn, `pieces written without a turn of the event loop since the previous one (turns at each write: ${turnsAtWrite.join(' ')})`).toBe(0);
  }, 60_000);

  it('stops when the stream takes nothing for stallMs, or closes, or its owner gives up', async () => {
    const stuck = new Writable({ highWaterMark: 4, write() {} }); // never calls back: nothing is taken
    expect(await writeInTurns(stuck, ['aaaaaaaa', 'bbbb'], 50)).toBe(false);
    const closing = new Writable({ highWaterMark: 4, write() {} });
    setTimeout(() => closing.destroy(), 20);
    expect(await writeInTurns(closing, ['aaaaaaaa', 'bbbb'], 60_000)).toBe(false);
    let pulled = 0;
    const endless = function* (): Generator<string> {
      for (;;) yield `p${pulled++}`;
    };
    const fine = new Writable({ write: (_c, _e, done) => done() });
    let left = 3;
    expect(await writeInTurns(fine, endless(), 1_000, () => left-- > 0)).toBe(false);
    expect(pulled).toBe(4);
  });
});
