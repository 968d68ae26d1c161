// Small hand-made bundles for installer tests: the real install.sh, unit and health check from deploy/,
// a tiny release, and a manifest made by the same code as a real bundle's. Health behaviour is chosen per release.

import { chmodSync, cpSync, mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { writeBundleRecords } from '../../deploy/bundle-manifest.js';

export const repoRoot = join(import.meta.dirname, '..', '..');

export type Health = 'real' | 'pass' | 'fail';

/**
 * Writes bundle directory dir for version; `health` picks the release's deploy/health-check.mjs. With
 * `runsRepo` the release's bin/murmur.js runs this repository's CLI, so the installed unit's ExecStart
 * starts a real device; `repoPath` is where that repository is seen from where the release runs (default:
 * here). `dataFormat`: the data format the release declares it reads (none: a release from before the
 * field); `padBytes`: a file of that many zero bytes in the release (room on a small disk); `healthScript`: JavaScript the fixture health check runs first (as a release's first start would
 * act on the data directory).
 */
export function makeFixtureBundle(dir: string, version: string, health: Health, opts: { runsRepo?: boolean; repoPath?: string; dataFormat?: number; healthScript?: string; padBytes?: number } = {}): string {
  const top = join(dir, `murmur-${version}-fixture`);
  const release = join(top, 'release');
  mkdirSync(join(release, 'deploy'), { recursive: true });
  mkdirSync(join(release, 'bin'), { recursive: true });
  cpSync(join(repoRoot, 'deploy', 'install.sh'), join(top, 'install.sh'));
  chmodSync(join(top, 'install.sh'), 0o755);
  for (const f of ['install.sh', 'murmur.service', 'murmur-rollback.service']) cpSync(join(repoRoot, 'deploy', f), join(release, 'deploy', f));
  if (health === 'real') {
    cpSync(join(repoRoot, 'deploy', 'health-check.mjs'), join(release, 'deploy', 'health-check.mjs'));
    // The real check reads device.yaml with the release's yaml package: a copy of its Node.js build (a link
    // to this repository's node_modules would point outside the release, which install.sh refuses).
    cpSync(join(repoRoot, 'node_modules/yaml/package.json'), join(release, 'node_modules/yaml/package.json'));
    cpSync(join(repoRoot, 'node_modules/yaml/dist'), join(release, 'node_modules/yaml/dist'), { recursive: true, dereference: true });
  }
  else writeFileSync(join(release, 'deploy', 'health-check.mjs'), (opts.healthScript ?? '') + (health === 'pass' ? "console.log('fixture: healthy');\n" : "console.log('fixture: this release is broken');\nprocess.exit(1);\n"));
  if (opts.runsRepo === true) {
    writeFileSync(join(release, 'package.json'), '{ "type": "module" }\n');
    writeFileSync(join(release, 'bin', 'murmur.js'), `#!/usr/bin/env node\n// murmur ${version}: runs the repository's CLI\nawait import(${JSON.stringify(pathToFileURL(join(opts.repoPath ?? repoRoot, 'bin', 'murmur.js')).href)});\n`);
  } else writeFileSync(join(release, 'bin', 'murmur.js'), `#!/usr/bin/env node\nconsole.log('murmur ${version}');\n`);
  if (opts.padBytes !== undefined) writeFileSync(join(release, 'pad.bin'), Buffer.alloc(opts.padBytes));
  // dataFormat left out: a release from before the field (install.sh reads it as 1).
  const info = { name: 'murmur', version, target: 'fixture', machine: process.arch === 'arm64' ? 'aarch64' : 'x86_64', node: '>=20', ...(opts.dataFormat !== undefined ? { dataFormat: opts.dataFormat } : {}), commit: 'fixture', dirty: false, builtAt: new Date(0).toISOString(), health };
  writeBundleRecords(top, info);
  return top;
}
