// A workload rate whose gap between commands is not a whole number of milliseconds (3/s, 7/s) puts
// commands at fractional simulated times. The operator stamps them in whole milliseconds, as a real
// clock does: every one of them commits (a fractional issuedAt was refused by every node, so two in
// three of them were lost without a word).

import { beforeAll, describe, expect, it } from 'vitest';
import { initCrypto } from '../../runtime/crypto/sodium.js';
import { explain, runOk, scenario } from './helpers.js';

beforeAll(async () => {
  await initCrypto();
});

describe('workload rates', () => {
  for (const perSec of [3, 7]) {
    it(`${perSec} commands/s: every command the operator sent commits`, async () => {
      const s = scenario({ name: `rate-${perSec}`, seed: 4, durationMs: 4_000, workload: [{ kind: 'rate', from: 200, to: 3_000, perSec, command: 'noop' }] });
      const r = await runOk(s);
      expect(r.liveness.commandsSubmitted, explain(r)).toBe(Math.ceil((2_800 * perSec) / 1_000));
      expect(r.liveness.commandsCommitted, explain(r)).toBe(r.liveness.commandsSubmitted);
    });
  }
});
