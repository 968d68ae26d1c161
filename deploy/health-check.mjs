// Health check install.sh runs after switching releases: an HTTP GET to the device's local health endpoint
// (runtime/device/observability.ts: 200 once the device is ready, 503 before); exit 0 on 200, 1 otherwise,
// 3 when there is nothing to check (the device is not provisioned yet).
//
// The endpoint: --url URL, else $MURMUR_HEALTH_URL, else the device config (--config FILE, default
// $MURMUR_CONFIG): http://<http.host>:<http.port>/health, with the runtime's defaults 127.0.0.1 and 9464
// (runtime/config/device-config.ts).

import { existsSync, readFileSync } from 'node:fs';
import http from 'node:http';
import { parseArgs } from 'node:util';

const { values } = parseArgs({
  options: { url: { type: 'string' }, config: { type: 'string' }, 'timeout-ms': { type: 'string', default: '2000' } },
  strict: true,
});

const fail = (message) => {
  console.log(`health: ${message}`);
  process.exit(1);
};

/** The `http` section of device.yaml, read with the release's yaml package. */
async function httpSection(file) {
  let parse;
  try {
    ({ parse } = await import('yaml'));
  } catch (e) {
    fail(`cannot load the yaml package of this release (${e instanceof Error ? e.message : String(e)})`);
  }
  let config;
  try {
    config = parse(readFileSync(file, 'utf8'));
  } catch (e) {
    fail(`${file} is not valid YAML: ${e instanceof Error ? e.message.split('\n')[0] : String(e)}`);
  }
  const section = config !== null && typeof config === 'object' ? config.http : undefined;
  return section !== null && typeof section === 'object' ? section : {};
}

const config = values.config ?? process.env.MURMUR_CONFIG;
let url = values.url ?? process.env.MURMUR_HEALTH_URL;
if (url === undefined) {
  if (config === undefined || !existsSync(config)) {
    console.log(`health: no device config${config ? ` at ${config}` : ''} (not provisioned yet): nothing to check`);
    process.exit(3);
  }
  const h = await httpSection(config);
  const host = h.host ?? '127.0.0.1';
  const port = h.port ?? 9464;
  if (!Number.isInteger(port) || port < 1 || port > 65535) fail(`${config}: http.port is ${JSON.stringify(port)}; the health check needs a fixed port from 1 to 65535`);
  url = `http://${host === '::1' ? '[::1]' : host}:${port}/health`;
}

const timeoutMs = Number(values['timeout-ms']);
// node:http rather than fetch: fetch refuses the WHATWG "bad ports" (e.g. 6000, 6665-6669), which a device
// config may well name.
const parsed = (() => {
  try {
    return new URL(url);
  } catch {
    return undefined;
  }
})();
if (parsed === undefined || parsed.protocol !== 'http:') {
  console.log(`health: ${url} is not an http:// URL`);
  process.exit(1);
}
const result = await new Promise((resolve) => {
  const req = http.get(parsed, { timeout: Number.isFinite(timeoutMs) ? timeoutMs : 2000 }, (res) => {
    let body = '';
    res.setEncoding('utf8');
    res.on('data', (chunk) => {
      if (body.length < 200) body += chunk;
    });
    res.on('end', () => resolve({ ok: res.statusCode === 200, line: `-> ${res.statusCode} ${body.slice(0, 200).replace(/\s+/g, ' ')}` }));
  });
  req.on('timeout', () => req.destroy(new Error(`no answer within ${timeoutMs} ms`)));
  req.on('error', (e) => resolve({ ok: false, line: `failed: ${e.code ?? e.message}` }));
});
console.log(`health: GET ${url} ${result.line}`);
process.exit(result.ok ? 0 : 1);
