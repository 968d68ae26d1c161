// Provisioning bundles for installer tests, made by the real `murmur provision` (a CLI process) for
// devices of a deterministic 4-validator fleet.

import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { writeKeyFile } from '../../runtime/crypto/key-file.js';
import { unwrap } from '../../runtime/lib/result.js';
import { makeFleet } from '../support/fleet-fixture.js';
import { runCli } from '../support/run-cli.js';

/** Writes keys, the signed manifest and one bundle per id under dir; returns each bundle's directory. */
export async function makeProvisionBundles(dir: string, ids: readonly string[], o: { mqttUrl: string; httpPort: number }): Promise<Record<string, string>> {
  const fleet = await makeFleet({ fleet: 'install', validators: 4 });
  const manifest = join(dir, 'fleet.manifest');
  writeFileSync(manifest, fleet.manifest.bytes);
  const out: Record<string, string> = {};
  await Promise.all(
    ids.map(async (id) => {
      const kp = fleet.keys.get(id);
      if (!kp) throw new Error(`${id} is not in the fixture fleet`);
      const key = join(dir, 'keys', `${id}.key`);
      unwrap(await writeKeyFile(key, { id, ...kp }));
      out[id] = join(dir, 'provision', id);
      const r = await runCli('murmur', ['provision', '--key', key, '--manifest', manifest, '--mqtt-url', o.mqttUrl, '--http-port', String(o.httpPort), '--hal', 'none', '--out', out[id]], { timeoutMs: 120_000 });
      if (r.code !== 0) throw new Error(`murmur provision ${id} failed (${r.code}): ${r.stderr}`);
    }),
  );
  return out;
}
