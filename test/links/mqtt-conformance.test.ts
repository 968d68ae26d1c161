// The Link conformance suite over MQTT: through the embedded aedes broker and through a real
// Mosquitto 2 started on a free loopback port.

import { describe } from 'vitest';
import { linkConformance } from './conformance.js';
import { aedesHarness, mosquittoHarness } from './mqtt-harness.js';

describe('MQTT link via embedded aedes: conformance', () => {
  linkConformance(aedesHarness);
});

describe('MQTT link via Mosquitto: conformance', () => {
  linkConformance(mosquittoHarness);
});

describe('MQTT 5 link via Mosquitto (no-local subscriptions, per-peer topics): conformance', () => {
  linkConformance(() => mosquittoHarness({ protocolVersion: 5, peers: ['a', 'b', 'c', 'mallory'] }));
});
