// `npm run bench:links`: MQTT (aedes and Mosquitto, link vs bare mqtt.js), serial goodput, and failure
// detection. Prints a table per part and one JSON object at the end. `--quick` shortens every part;
// `--only mqtt|serial|detection` runs one.

import { parseArgs } from 'node:util';
import { runDetectionBench } from './detection-bench.js';
import { runMqttBench } from './mqtt-bench.js';
import { runSerialBench } from './serial-bench.js';

const { values } = parseArgs({ options: { quick: { type: 'boolean', default: false }, only: { type: 'string' }, seed: { type: 'string', default: '1' } } });
const quick = values.quick === true;
const only = values.only;
const want = (p: string) => only === undefined || only === p;
const report: Record<string, unknown> = { node: process.version, quick };

if (want('detection')) {
  const d = runDetectionBench({ seed: Number(values.seed), trials: quick ? 40 : 200 });
  console.table(d.map((r) => ({ case: r.case, suspectP50: `${r.suspectIntervalsP50} int`, deadP50: `${r.deadIntervalsP50} int`, undetected: r.undetected, falseSuspicionsPerHour: r.falseSuspicionsPerHour, falseDeathsPerHour: r.falseDeathsPerHour })));
  report.detection = d;
}
if (want('serial')) {
  const s = await runSerialBench({ seconds: quick ? 3 : 8 });
  console.table(s);
  report.serial = s;
}
if (want('mqtt')) {
  const m = await runMqttBench({ rttSamples: quick ? 500 : 2_000, messages: 20_000, window: 1_000, rounds: quick ? 3 : 7 });
  console.table(m);
  const ratios = m.filter((r) => r.client === 'link').map((r) => ({ broker: r.broker, linkVsBarePairedP50: r.pairedRatioP50 }));
  console.table(ratios);
  report.mqtt = { results: m, ratios };
}
console.log(JSON.stringify(report));
