// `npm run bench:relays`: flood relays in a dense radio mesh, with and without relay suppression, in one
// run. N real SerialLinks (one process) on fleet-sim's radio medium (socat ptys, 57600 baud, 252-byte
// packets, 2% loss), all in range of each other, hop limit 3; every device broadcasts a 150-byte
// heartbeat-class envelope RATE times a second for 10 s. Prints, per setting, the envelopes sent and
// received, the packets on the air and how many were relays, and the relays cancelled.
//   npx tsx test/links/bench/relay-mesh.ts [--devices N] [--rate R] [--seconds S]

import { parseArgs } from 'node:util';
import { RadioMedium } from '../../../fleet-sim/realtime/radio-medium.js';
import { SerialLink } from '../../../runtime/links/serial-link.js';

const { values } = parseArgs({ options: { devices: { type: 'string' }, rate: { type: 'string' }, seconds: { type: 'string' } } });
const n = Number(values.devices ?? '8');
const rate = Number(values.rate ?? '2');
const seconds = Number(values.seconds ?? '10');
if (!(Number.isInteger(n) && n >= 2 && n <= 40) || !(rate > 0 && rate <= 20) || !(seconds > 0 && seconds <= 120)) {
  process.stderr.write('bench:relays: --devices 2..40, --rate (0, 20] envelopes/s, --seconds (0, 120]\n');
  process.exit(2);
}

interface Outcome {
  readonly sent: number;
  readonly received: number;
  readonly packets: number;
  readonly relays: number;
  readonly suppressed: number;
}

async function run(suppress: boolean): Promise<Outcome> {
  const ids = Array.from({ length: n }, (_, i) => `d${i}`);
  const medium = new RadioMedium({ fleet: 'bench', ids, radio: { baud: 57_600, mtuBytes: 252, loss: 0.02, rangeM: 800, hopLimit: 3 }, seed: 1, position: () => null, up: () => true, reach: () => ({ cut: false, loss: 0 }) });
  await medium.start();
  const links = ids.map((id, i) => new SerialLink({ fleet: 'bench', node: id, paths: [medium.devicePath(i)], baud: 57_600, packetBytes: 252, hopLimit: 3, peers: ids, ...(suppress ? {} : { relaySuppress: 0, relayJitterMs: 0 }) }));
  let received = 0;
  for (const l of links) {
    l.onReceive(() => received++);
    await l.start();
  }
  let sent = 0;
  const timer = setInterval(() => {
    for (const l of links) if (l.broadcast(new Uint8Array(150).fill(sent & 0xff), 'heartbeat')) sent++;
  }, 1000 / rate);
  await new Promise((r) => setTimeout(r, seconds * 1000));
  clearInterval(timer);
  await new Promise((r) => setTimeout(r, 1500)); // what is queued and waiting goes out
  const suppressed = links.reduce((a, l) => a + l.counters().relaysSuppressed, 0);
  for (const l of links) await l.stop();
  await medium.stop();
  return { sent, received, packets: medium.counters.packetsSent, relays: medium.counters.relays, suppressed };
}

const line = (name: string, o: Outcome): string =>
  `${name}: ${o.sent} envelopes sent, ${o.received} of ${o.sent * (n - 1)} received, ${o.packets} packets on the air, ${o.relays} of them relays (${(o.relays / Math.max(1, o.sent)).toFixed(1)} per envelope), ${o.suppressed} relays cancelled`;
const off = await run(false);
const on = await run(true);
process.stdout.write(`${n} radios in range of each other, hop limit 3, ${rate} envelopes/s each for ${seconds} s\n`);
process.stdout.write(line('  every hearer relays (relaySuppress 0)', off) + '\n');
process.stdout.write(line('  suppression (the defaults: 3 copies, up to 4 packets of wait)', on) + '\n');
process.stdout.write(`  relays per envelope: ${(on.relays / Math.max(1, on.sent) / (off.relays / Math.max(1, off.sent))).toFixed(2)} of those without\n`);
process.exit(0);
