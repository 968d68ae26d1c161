// Health check install.sh runs after switching releases: an HTTP GET to the device's local health endpoint;
// exit 0 when it answers 200, 1 when it does not, 3 when there is nothing to check (device not provisioned).
// Plain JavaScript with no dependencies, so it runs from any release, whatever state its code is in.
//
// The endpoint: --url URL, else $MURMUR_HEALTH_URL, else the device config (--config FILE, default
// $MURMUR_CONFIG): its `health.url`, or `http.listen` ("host:port") + /health.
// TODO(issue 6): align the config keys with the runtime's device config once `murmur start` defines them.

import { existsSync, readFileSync } from 'node:fs';
import http from 'node:http';
import { parseArgs } from 'node:util';

const { values } = parseArgs({
  options: { url: { type: 'string' }, config: { type: 'string' }, 'timeout-ms': { type: 'string', default: '2000' } },
  strict: true,
});

function fromConfig(file) {
  const text = readFileSync(file, 'utf8');
  // JSON, or the flat "key: value" subset of YAML the two keys need (the release's yaml package may be
  // exactly what is broken, so it is not loaded here).
  let url;
  let listen;
  try {
    const c = JSON.parse(text);
    url = c?.health?.url;
    listen = c?.http?.listen;
  } catch {
    let section = '';
    for (const line of text.split('\n')) {
      const top = /^([A-Za-z_][\w-]*):\s*(.*)$/.exec(line);
      if (top) section = top[1];
      const nested = /^\s+([A-Za-z_][\w-]*):\s*["']?([^"'#\s]+)["']?/.exec(line);
      if (nested && section === 'health' && nested[1] === 'url') url = nested[2];
      if (nested && section === 'http' && nested[1] === 'listen') listen = nested[2];
    }
  }
  if (typeof url === 'string') return url;
  if (typeof listen === 'string') return `http://${listen}/health`;
  return undefined;
}

const config = values.config ?? process.env.MURMUR_CONFIG;
let url = values.url ?? process.env.MURMUR_HEALTH_URL;
if (url === undefined) {
  if (config === undefined || !existsSync(config)) {
    console.log(`health: no device config${config ? ` at ${config}` : ''} (not provisioned yet): nothing to check`);
    process.exit(3);
  }
  url = fromConfig(config);
  if (url === undefined) {
    console.log(`health: ${config} names no health endpoint (health.url or http.listen)`);
    process.exit(1);
  }
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
