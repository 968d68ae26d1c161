// The embedded broker in its own process for the MQTT benchmark (embedding it in the measuring
// process would halve both rates: baseline.md §4). Prints its port, then serves until killed.

import { hashPassword } from '../../../runtime/links/broker-acl.js';
import { EmbeddedBroker } from '../../../runtime/links/broker.js';

const fleet = process.argv[2] ?? 'bench';
const password = process.argv[3] ?? 'bench';
const hash = hashPassword(password);
const ids = ['a', 'b', 'bare-a', 'bare-b'];
const broker = new EmbeddedBroker({ credentials: ids.map((id) => ({ id, role: 'device' as const, fleet, passwordHash: hash })), connectsPerSecMax: 100 });
await broker.start();
process.stdout.write(`${broker.port}\n`);
process.on('SIGTERM', () => void broker.stop().then(() => process.exit(0)));
