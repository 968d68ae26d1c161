// How long the embedded broker takes to refuse a login naming an unknown user, a known user with a
// wrong password, and a known user without one: printed, not asserted (wall time on a shared machine).
// Run: npx tsx test/links/bench/broker-auth-timing.ts [attempts per case, default 20]

import mqtt from 'mqtt';
import { EmbeddedBroker } from '../../../runtime/links/broker.js';
import { credentials, password } from '../mqtt-harness.js';

const attempts = Math.min(200, Math.max(1, Number(process.argv[2] ?? 20) || 20));
const broker = new EmbeddedBroker({ credentials: credentials(['a']), log: () => {} });
await broker.start();
const cases: Record<string, { username: string; password?: string }> = {
  'unknown user': { username: 'zed', password: 'guess' },
  'wrong password': { username: 'a', password: 'wrong' },
  'no password': { username: 'a' },
  'right password': { username: 'a', password },
};
const times: Record<string, number[]> = Object.fromEntries(Object.keys(cases).map((k) => [k, []]));
try {
  // Interleaved, so a slow moment of the machine falls on every case alike.
  for (let i = 0; i < attempts; i++) {
    for (const [name, o] of Object.entries(cases)) {
      const t0 = performance.now();
      await mqtt.connectAsync(broker.url, { reconnectPeriod: 0, connectTimeout: 10_000, ...o }).then((c) => c.endAsync(true), () => undefined);
      times[name]?.push(performance.now() - t0);
    }
  }
} finally {
  await broker.stop();
}
const q = (xs: number[], p: number): number => [...xs].sort((a, b) => a - b)[Math.min(xs.length - 1, Math.floor(xs.length * p))] ?? NaN;
process.stdout.write(`embedded broker, ${attempts} logins per case (scrypt checks run: ${broker.passwordChecks}):\n`);
for (const [name, xs] of Object.entries(times)) process.stdout.write(`  ${name.padEnd(15)} p50 ${q(xs, 0.5).toFixed(1)} ms  p90 ${q(xs, 0.9).toFixed(1)} ms\n`);
